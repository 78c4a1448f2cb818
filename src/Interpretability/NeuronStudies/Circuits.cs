using Interpretability.Imaging;
using Interpretability.Probing;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Interpretability.NeuronStudies;

/// <summary>
/// Circuits into a unit: activation × weight attribution from the previous layer's channels (the pre-activation of a
/// conv unit is linear in its input, so <c>Σ_i contribution_i = pre-activation − bias</c> exactly).
/// </summary>
public static class Circuits
{
    /// <summary>
    /// Contribution of every input channel i of conv layer <paramref name="convLayer"/> to its output channel
    /// <paramref name="unit"/> at each example's argmax position: <c>Σ_{kernel} W[unit, i, :, :] ⊙ input_i patch</c>,
    /// averaged over the examples.
    /// </summary>
    /// <param name="model">Image model.</param>
    /// <param name="convLayer">Path of a Conv2d layer (e.g. <c>conv3</c>; its unit is the one <c>relu3</c> rectifies).</param>
    /// <param name="unit">Output channel.</param>
    /// <param name="images">The dataset <c>[N, 3, H, W]</c> the examples index.</param>
    /// <param name="examples">Examples with positions in the conv layer's output grid.</param>
    /// <returns>Mean contribution per input channel <c>[C_in]</c>, and the mean pre-activation minus bias (their sum).</returns>
    public static (double[] Contributions, double PreActivationMinusBias) ActivationTimesWeight(nn.Module<Tensor, Tensor> model, string convLayer, int unit,
        Tensor images, IReadOnlyList<DatasetExample> examples)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(examples);
        if (examples.Count == 0) throw new ArgumentException("examples must not be empty.", nameof(examples));
        var conv = LayerPath.Find(model, convLayer) as Conv2d
            ?? throw new ArgumentException($"Layer '{convLayer}' is not a Conv2d.", nameof(convLayer));
        var w = conv.weight!;
        if (unit < 0 || unit >= w.shape[0]) throw new ArgumentOutOfRangeException(nameof(unit), unit, $"unit must be in [0, {w.shape[0]}) for '{convLayer}'.");
        var stride = (int)(conv.stride?.FirstOrDefault() ?? 1);
        var pad = (int)(conv.padding?.FirstOrDefault() ?? 0);
        int k = (int)w.shape[2];
        using var scope = NewDisposeScope();
        var idx = tensor(examples.Select(e => (long)e.Index).ToArray());
        using var cap = ActivationRecorder.Capture(model, images.index_select(0, idx), new[] { convLayer }, captureInputs: true);
        var input = nn.functional.pad(cap.Inputs[convLayer].to(ScalarType.Float64), new long[] { pad, pad, pad, pad });
        var wu = w[unit].detach().to(ScalarType.Float64).cpu();                  // [C_in, k, k]
        var sum = zeros(w.shape[1], dtype: ScalarType.Float64);
        for (int e = 0; e < examples.Count; e++)
        {
            var patch = input[e].narrow(1, examples[e].Row * stride, k).narrow(2, examples[e].Col * stride, k).cpu();   // [C_in, k, k]
            sum += (patch * wu).sum(new long[] { 1, 2 });
        }
        var mean = (sum / examples.Count).data<double>().ToArray();
        return (mean, mean.Sum());
    }

    /// <summary>
    /// A bar chart of contributions ordered by the input units' preferred orientation (PNG bytes); input channels
    /// without a preference (null) go last.
    /// </summary>
    /// <param name="contributions">Contribution per input channel.</param>
    /// <param name="preferred">Preferred orientation (radians) per input channel, or null where it has none.</param>
    /// <param name="title">Chart title.</param>
    /// <param name="top">Bars to show: the largest |contribution| ones, then ordered by orientation.</param>
    public static byte[] Chart(IReadOnlyList<double> contributions, IReadOnlyList<double?> preferred, string title, int top = 16)
    {
        ArgumentNullException.ThrowIfNull(contributions);
        ArgumentNullException.ThrowIfNull(preferred);
        if (preferred.Count != contributions.Count) throw new ArgumentException($"preferred needs {contributions.Count} entries; got {preferred.Count}.", nameof(preferred));
        var chosen = Enumerable.Range(0, contributions.Count).OrderByDescending(i => Math.Abs(contributions[i])).Take(top)
            .OrderBy(i => preferred[i] ?? double.MaxValue).ToList();
        var labels = chosen.Select(i => preferred[i] is { } p ? $"{i}\n{p * 180 / Math.PI:F0}°" : $"{i}\n–").ToList();
        return Charts.Bars(labels, chosen.Select(i => contributions[i]).ToList(),
            new ChartOptions(title, "input channel (preferred orientation)", "activation × weight", Width: 1000, Height: 450));
    }

    /// <summary>
    /// Non-negative matrix factorisation <c>A ≈ W H</c> by multiplicative updates (Lee &amp; Seung 2001), seeded.
    /// </summary>
    /// <param name="a">Non-negative matrix <c>[positions, channels]</c>.</param>
    /// <param name="rank">Components k ≥ 1.</param>
    /// <param name="iterations">Update steps.</param>
    /// <param name="seed">Seed of the random initialisation.</param>
    /// <returns>W <c>[positions, k]</c>, H <c>[k, channels]</c> (float64, on the device of <paramref name="a"/>) and
    /// the relative error ‖A − WH‖ / ‖A‖.</returns>
    public static (Tensor W, Tensor H, double RelativeError) Nmf(Tensor a, int rank, int iterations = 500, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(a);
        if (a.dim() != 2) throw new ArgumentException($"a must be a matrix; got [{string.Join(", ", a.shape)}].", nameof(a));
        if (rank < 1 || rank > Math.Min(a.shape[0], a.shape[1]))
            throw new ArgumentOutOfRangeException(nameof(rank), rank, $"rank must be in [1, {Math.Min(a.shape[0], a.shape[1])}].");
        if (iterations < 1) throw new ArgumentOutOfRangeException(nameof(iterations), iterations, "iterations must be at least 1.");
        using var scope = NewDisposeScope();
        var x = a.to(ScalarType.Float64);
        if (x.min().item<double>() < 0) throw new ArgumentException("a must be non-negative (e.g. post-ReLU activations).", nameof(a));
        var gen = new Generator((ulong)seed);
        var scale = Math.Sqrt(Math.Max(x.mean().item<double>(), 1e-12) / rank);
        var w = rand(new long[] { x.shape[0], rank }, dtype: ScalarType.Float64, generator: gen, device: x.device) * scale + 1e-3;
        var h = rand(new long[] { rank, x.shape[1] }, dtype: ScalarType.Float64, generator: gen, device: x.device) * scale + 1e-3;
        const double eps = 1e-12;
        for (int i = 0; i < iterations; i++)
        {
            using var step = NewDisposeScope();
            var hn = h * w.t().matmul(x) / (w.t().matmul(w).matmul(h) + eps);
            var wn = w * x.matmul(hn.t()) / (w.matmul(hn).matmul(hn.t()) + eps);
            h = hn.MoveToOuterDisposeScope();
            w = wn.MoveToOuterDisposeScope();
        }
        var err = ((x - w.matmul(h)).norm().item<double>()) / Math.Max(x.norm().item<double>(), eps);
        return (w.MoveToOuterDisposeScope(), h.MoveToOuterDisposeScope(), err);
    }
}
