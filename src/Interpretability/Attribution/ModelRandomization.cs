using Interpretability.Imaging;
using Interpretability.Nn;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>One step of the cascading randomisation.</summary>
/// <param name="Layer">The layer randomised last (all layers above it are random too); "original" for the start.</param>
/// <param name="RankCorrelation">Spearman rank correlation of |attribution| with the original map.</param>
/// <param name="Map">The attribution map after this step, <c>[C, H, W]</c> on the CPU (disposed with the result).</param>
public sealed record RandomizationStep(string Layer, double RankCorrelation, Tensor Map);

/// <summary>The cascade: the original map, then one step per randomised layer, top layer first.</summary>
/// <param name="Steps">Original first, then each cascade step.</param>
public sealed record RandomizationResult(IReadOnlyList<RandomizationStep> Steps) : IDisposable
{
    /// <summary>Disposes the maps.</summary>
    public void Dispose()
    {
        foreach (var s in Steps) s.Map.Dispose();
    }
}

/// <summary>
/// The model-parameter randomisation test (Adebayo et al. 2018, "Sanity Checks for Saliency Maps", §3.1, cascading
/// randomisation): re-initialise the layers with parameters from the output towards the input, one more at a time, and
/// compare each attribution map with the original by the Spearman rank correlation of |values|. A method that explains
/// the model should change as the model is destroyed; one that stays correlated is an edge detector. The user's model is
/// never changed: the test runs on a copy built by the caller's factory, with the original's weights copied in.
/// </summary>
public static class ModelRandomization
{
    /// <summary>Runs the cascade.</summary>
    /// <param name="model">The trained model (left unchanged).</param>
    /// <param name="createCopy">Builds a module of the same architecture (its weights are overwritten with the model's).</param>
    /// <param name="attribute">The method under test, given a model: (model, input, target) → attributions of the input's shape.</param>
    /// <param name="input">One input <c>[1, ...]</c>.</param>
    /// <param name="target">Explained class.</param>
    /// <param name="seed">Seed of the re-initialisation.</param>
    public static RandomizationResult Run(nn.Module<Tensor, Tensor> model, Func<nn.Module<Tensor, Tensor>> createCopy,
        Func<nn.Module<Tensor, Tensor>, Tensor, long, Tensor> attribute, Tensor input, long target, long seed = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(createCopy);
        ArgumentNullException.ThrowIfNull(attribute);
        using var copy = createCopy();
        var source = model.state_dict();
        var destination = copy.state_dict();
        if (!source.Keys.OrderBy(k => k).SequenceEqual(destination.Keys.OrderBy(k => k)) || source.Any(kv => !kv.Value.shape.SequenceEqual(destination[kv.Key].shape)))
            throw new ArgumentException("createCopy must build a module with the model's parameter names and shapes.", nameof(createCopy));
        using (no_grad())
            foreach (var (name, value) in source) destination[name].copy_(value);
        copy.to(input.device);
        copy.eval();
        var steps = new List<RandomizationStep>();
        Tensor original;
        using (var scope = NewDisposeScope())
            original = attribute(copy, input, target)[0].detach().cpu().clone().MoveToOuterDisposeScope();
        steps.Add(new RandomizationStep("original", 1.0, original));
        // Layers that own parameters, from the output towards the input.
        var layers = copy.named_modules().Where(m => m.name.Length > 0 && m.module.named_parameters(recurse: false).Any()).Reverse().ToList();
        foreach (var (name, layer) in layers)
        {
            SeededInit.Apply(layer, seed + steps.Count);
            using var scope = NewDisposeScope();
            var map = attribute(copy, input, target)[0].detach().cpu().clone();
            var rho = Spearman(original.abs(), map.abs());
            steps.Add(new RandomizationStep(name, rho, map.MoveToOuterDisposeScope()));
        }
        return new RandomizationResult(steps);
    }

    /// <summary>
    /// Spearman rank correlation of two tensors of the same number of elements (ties get their mean rank; MathNet's
    /// <c>Correlation.Spearman</c>); 0 where either tensor is constant (the correlation is undefined there).
    /// </summary>
    /// <param name="a">Any tensor.</param>
    /// <param name="b">A tensor with as many elements as <paramref name="a"/>.</param>
    public static double Spearman(Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.numel() != b.numel()) throw new ArgumentException($"a and b must have the same number of elements; got {a.numel()} and {b.numel()}.", nameof(b));
        var x = a.to(float64).flatten().cpu().data<double>().ToArray();
        var y = b.to(float64).flatten().cpu().data<double>().ToArray();
        var rho = MathNet.Numerics.Statistics.Correlation.Spearman(x, y);
        return double.IsFinite(rho) ? rho : 0;
    }

    /// <summary>
    /// The sanity-check strip: the input, then |attribution| after each cascade step (channel sum, min–max scaled), titled
    /// with the randomised layer and the rank correlation.
    /// </summary>
    /// <param name="image">The input <c>[3, H, W]</c> in [0, 1].</param>
    /// <param name="result">The cascade.</param>
    /// <param name="method">Method name for the title.</param>
    public static SKBitmap Strip(Tensor image, RandomizationResult result, string method)
    {
        ArgumentNullException.ThrowIfNull(result);
        var tiles = new List<SKBitmap> { Png.ToBitmap(image) };
        var titles = new List<string?> { "input" };
        foreach (var step in result.Steps)
        {
            using var map = step.Map.abs().sum(new long[] { 0 });
            tiles.Add(Png.ToBitmap(map, new PngOptions(Normalization.MinMax, Colormap.Viridis)));
            titles.Add(step.Layer == "original" ? "original model" : $"{step.Layer}↓ random (ρ {step.RankCorrelation:F2})");
        }
        return ImageGrid.Compose(tiles, titles, new GridOptions(Columns: tiles.Count, TileSize: 112, Title: $"Cascading randomisation of {method}: layers re-initialised from the output down; ρ = Spearman correlation of |map| with the original"));
    }
}
