using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Probing;

/// <summary>What to patch: a layer's whole output, or only some of its units (dimension 1).</summary>
/// <param name="Layer">Layer path.</param>
/// <param name="Units">Unit indices along dimension 1 to patch; <c>null</c> patches the whole output.</param>
public sealed record PatchSite(string Layer, IReadOnlyList<long>? Units = null)
{
    /// <summary>Patch the whole output of <paramref name="layer"/>.</summary>
    public static implicit operator PatchSite(string layer) => new(layer);
}

/// <summary>The metric of one activation-patching experiment.</summary>
/// <param name="Clean">Metric on the clean input.</param>
/// <param name="Corrupted">Metric on the corrupted input.</param>
/// <param name="Patched">Metric on the corrupted input with the chosen sites patched from the clean run.</param>
public sealed record PatchingResult(double Clean, double Corrupted, double Patched)
{
    /// <summary>
    /// Share of the clean–corrupted gap the patch restores: <c>(patched − corrupted) / (clean − corrupted)</c>;
    /// 1 means the patched sites carry the whole difference. NaN when clean and corrupted agree.
    /// </summary>
    public double Recovery => Clean == Corrupted ? double.NaN : (Patched - Corrupted) / (Clean - Corrupted);
}

/// <summary>
/// Activation patching (causal tracing, as in TransformerLens' <c>patching</c> and Meng et al. 2022): run a clean and a
/// corrupted input, copy chosen layer outputs of the clean run into the corrupted run, and measure a metric.
/// </summary>
public static class ActivationPatching
{
    /// <summary>Patches all <paramref name="sites"/> at once.</summary>
    /// <param name="model">The model.</param>
    /// <param name="clean">Clean input, <c>[batch, ...]</c>.</param>
    /// <param name="corrupted">Corrupted input of the same shape as <paramref name="clean"/>.</param>
    /// <param name="sites">Layers (and optionally units) to patch from the clean run into the corrupted run.</param>
    /// <param name="metric">Maps the model's output (e.g. logits <c>[batch, classes]</c>) to a scalar tensor (e.g. a
    /// logit difference).</param>
    public static PatchingResult Run(nn.Module<Tensor, Tensor> model, Tensor clean, Tensor corrupted,
        IReadOnlyList<PatchSite> sites, Func<Tensor, Tensor> metric)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(sites);
        ArgumentNullException.ThrowIfNull(metric);
        CheckInputs(clean, corrupted);
        if (sites.Count == 0) throw new ArgumentException("At least one patch site is required.", nameof(sites));

        using var capture = ActivationRecorder.Capture(model, clean, sites.Select(s => s.Layer));
        var cleanMetric = Scalar(metric, capture.ModelOutput!);
        double corruptedMetric, patchedMetric;
        using (no_grad())
        using (NewDisposeScope())
        {
            corruptedMetric = Scalar(metric, model.call(corrupted));
            using var hooks = new HookScope(model);
            foreach (var site in sites)
            {
                var source = capture[site.Layer];
                var units = site.Units?.ToArray();
                hooks.AddForwardHook(site.Layer, (_, output) =>
                {
                    if (!output.shape.SequenceEqual(source.shape))
                        throw new InvalidOperationException($"Layer '{site.Layer}' output shape differs between the clean [{string.Join(", ", source.shape)}] and corrupted [{string.Join(", ", output.shape)}] runs.");
                    if (units is null) return source.clone();
                    if (units.Any(u => u < 0 || u >= output.shape[1]))
                        throw new ArgumentOutOfRangeException(nameof(sites), $"A unit of site '{site.Layer}' is out of range [0, {output.shape[1]}).");
                    var index = tensor(units, device: output.device);
                    return output.index_copy(1, index, source.index_select(1, index));
                });
            }
            patchedMetric = Scalar(metric, model.call(corrupted));
        }
        return new PatchingResult(cleanMetric, corruptedMetric, patchedMetric);
    }

    /// <summary>Patches each site on its own; one result per site, in order.</summary>
    /// <param name="model">The model.</param>
    /// <param name="clean">Clean input, <c>[batch, ...]</c>.</param>
    /// <param name="corrupted">Corrupted input of the same shape as <paramref name="clean"/>.</param>
    /// <param name="sites">The sites, each patched alone from the clean run into the corrupted run.</param>
    /// <param name="metric">Maps the model's output (e.g. logits <c>[batch, classes]</c>) to a scalar tensor.</param>
    public static IReadOnlyList<PatchingResult> Sweep(nn.Module<Tensor, Tensor> model, Tensor clean, Tensor corrupted,
        IReadOnlyList<PatchSite> sites, Func<Tensor, Tensor> metric)
    {
        ArgumentNullException.ThrowIfNull(sites);
        return sites.Select(s => Run(model, clean, corrupted, new[] { s }, metric)).ToList();
    }

    private static void CheckInputs(Tensor clean, Tensor corrupted)
    {
        ArgumentNullException.ThrowIfNull(clean);
        ArgumentNullException.ThrowIfNull(corrupted);
        if (!clean.shape.SequenceEqual(corrupted.shape))
            throw new ArgumentException($"corrupted must have the shape of clean [{string.Join(", ", clean.shape)}]; got [{string.Join(", ", corrupted.shape)}].", nameof(corrupted));
    }

    private static double Scalar(Func<Tensor, Tensor> metric, Tensor output)
    {
        using var scope = NewDisposeScope();
        var m = metric(output);
        if (m.numel() != 1) throw new ArgumentException($"metric must return a scalar; it returned shape [{string.Join(", ", m.shape)}].", nameof(metric));
        return m.ToDouble();
    }
}
