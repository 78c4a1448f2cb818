using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Probing;

/// <summary>
/// Zero- and mean-ablation of chosen units (dimension 1 of a layer's output: channels of a conv layer, features of a
/// linear layer), as disposable scopes.
/// </summary>
public static class Ablation
{
    /// <summary>Sets units <paramref name="units"/> of <paramref name="layer"/>'s output to zero while the scope lives.</summary>
    /// <param name="model">The model.</param>
    /// <param name="layer">Layer path; its output is <c>[batch, units, ...]</c>.</param>
    /// <param name="units">Indices along dimension 1.</param>
    /// <exception cref="ArgumentException">No unit given, or a negative index.</exception>
    public static HookScope Zero(nn.Module model, string layer, IReadOnlyCollection<long> units)
    {
        ValidateUnits(units);
        return OutputReplacement.Apply(model, layer, output =>
        {
            CheckRange(layer, units, output);
            var index = tensor(units.ToArray(), device: output.device);
            return output.index_fill(1, index, Scalars.IntZero);
        });
    }

    /// <summary>
    /// Replaces units <paramref name="units"/> of <paramref name="layer"/>'s output by their mean activation while the
    /// scope lives.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="layer">Layer path; its output is <c>[batch, units, ...rest]</c>.</param>
    /// <param name="units">Indices along dimension 1.</param>
    /// <param name="means">Mean activation of every unit of the layer: <c>[units]</c> (one value per unit) or
    /// <c>[units, ...rest]</c> (a mean map per unit), e.g. from <see cref="UnitMeans"/>.</param>
    public static HookScope Mean(nn.Module model, string layer, IReadOnlyCollection<long> units, Tensor means)
    {
        ValidateUnits(units);
        ArgumentNullException.ThrowIfNull(means);
        var kept = means.detach().clone().DetachFromDisposeScope();
        var scope = OutputReplacement.Apply(model, layer, output =>
        {
            CheckRange(layer, units, output);
            var rest = output.shape.Skip(2).ToArray();
            var unitsCount = output.shape[1];
            Tensor template;
            if (kept.dim() == 1 && kept.shape[0] == unitsCount)
                template = kept.reshape(new[] { 1L, unitsCount }.Concat(rest.Select(_ => 1L)).ToArray());
            else if (kept.shape.SequenceEqual(output.shape.Skip(1)))
                template = kept.unsqueeze(0);
            else
                throw new ArgumentException(
                    $"means must have shape [{unitsCount}] or [{string.Join(", ", output.shape.Skip(1))}] for layer '{layer}'; got [{string.Join(", ", kept.shape)}].",
                    nameof(means));
            var mask = zeros(unitsCount, dtype: ScalarType.Bool, device: output.device);
            mask.index_fill_(0, tensor(units.ToArray(), device: output.device), Scalars.True);
            mask = mask.reshape(new[] { 1L, unitsCount }.Concat(rest.Select(_ => 1L)).ToArray());
            return where(mask, template.to(output.dtype, output.device).expand_as(output), output);
        });
        scope.Own(kept);
        return scope;
    }

    /// <summary>
    /// Mean activation of every unit of <paramref name="layer"/> over <paramref name="data"/> (averaged over the batch
    /// and all remaining positions): <c>[units]</c>, in the layer's dtype and on the model's device.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="layer">Layer path.</param>
    /// <param name="data">Inputs, <c>[batch, ...]</c>.</param>
    /// <param name="batchSize">How many inputs run forward at once.</param>
    public static Tensor UnitMeans(nn.Module<Tensor, Tensor> model, string layer, Tensor data, int batchSize = 64)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batchSize must be at least 1.");
        using var recorder = new ActivationRecorder(model, new[] { layer });
        Tensor? sum = null;
        long count = 0;
        using (no_grad())
        {
            for (long start = 0; start < data.shape[0]; start += batchSize)
            {
                using var scope = NewDisposeScope();
                var n = Math.Min(batchSize, data.shape[0] - start);
                model.call(data.narrow(0, start, n));
                var act = recorder.Output(layer);
                var dims = Enumerable.Range(0, (int)act.dim()).Where(d => d != 1).Select(d => (long)d).ToArray();
                var batchSum = act.sum(dims);
                var perUnitPositions = act.numel() / act.shape[1];
                count += perUnitPositions;
                sum = sum is null ? batchSum.detach().clone().MoveToOuterDisposeScope() : sum.add_(batchSum);
            }
        }
        using var countScalar = count.ToScalar();
        return sum!.div_(countScalar);
    }

    private static void ValidateUnits(IReadOnlyCollection<long> units)
    {
        ArgumentNullException.ThrowIfNull(units);
        if (units.Count == 0) throw new ArgumentException("At least one unit index is required.", nameof(units));
        if (units.Any(u => u < 0)) throw new ArgumentException($"Unit indices must be non-negative; got {units.First(u => u < 0)}.", nameof(units));
    }

    private static void CheckRange(string layer, IReadOnlyCollection<long> units, Tensor output)
    {
        if (output.dim() < 2)
            throw new ArgumentException($"Layer '{layer}' has output shape [{string.Join(", ", output.shape)}]; ablation needs [batch, units, ...].", nameof(layer));
        var max = units.Max();
        if (max >= output.shape[1])
            throw new ArgumentOutOfRangeException(nameof(units), max, $"Unit index {max} is out of range for layer '{layer}', which has {output.shape[1]} units (dimension 1 of [{string.Join(", ", output.shape)}]).");
    }

}
