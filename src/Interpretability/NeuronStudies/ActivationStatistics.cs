using Interpretability.Imaging;
using Interpretability.Probing;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.NeuronStudies;

/// <summary>Which spatial positions of a unit's activation map enter its statistics.</summary>
public enum SpatialSelection
{
    /// <summary>Every position of every image (N · s · s values per channel).</summary>
    All,

    /// <summary>The central position of every image (N values per channel).</summary>
    Centre,

    /// <summary>Per image, the position where the unit is largest (N values per channel).</summary>
    Max,
}

/// <summary>A histogram: bin edges, counts and probability density.</summary>
/// <param name="Edges">Bin edges, <c>[bins + 1]</c>, increasing.</param>
/// <param name="Counts">Values per bin, <c>[bins]</c>.</param>
/// <param name="Total">Number of values.</param>
public sealed record Histogram(double[] Edges, long[] Counts, long Total)
{
    /// <summary>Bin centres, <c>[bins]</c>.</summary>
    public double[] Centres => Enumerable.Range(0, Counts.Length).Select(i => (Edges[i] + Edges[i + 1]) / 2).ToArray();

    /// <summary>Probability density per bin (count / (total · width)), <c>[bins]</c>.</summary>
    public double[] Density => Enumerable.Range(0, Counts.Length).Select(i => Counts[i] / (Total * (Edges[i + 1] - Edges[i]))).ToArray();

    /// <summary>
    /// Expected-value contribution <c>x · p(x)</c> per bin (the Curve Detectors "density vs importance" curve): how much
    /// each activation range contributes to the mean activation, <c>[bins]</c>.
    /// </summary>
    public double[] ExpectedContribution
    {
        get
        {
            var c = Centres;
            var d = Density;
            return c.Select((x, i) => x * d[i]).ToArray();
        }
    }
}

/// <summary>An exponential fit of the tail <c>x &gt; threshold</c>: density <c>λ e^{−λ (x − threshold)}</c>.</summary>
/// <param name="Threshold">Start of the tail.</param>
/// <param name="Rate">Maximum-likelihood rate λ = 1 / mean(x − threshold).</param>
/// <param name="Count">Values in the tail.</param>
/// <param name="TailFraction">Share of all values in the tail.</param>
/// <param name="KsStatistic">Kolmogorov–Smirnov distance between the tail's empirical CDF and the fitted exponential (0 = perfect).</param>
public sealed record ExponentialTail(double Threshold, double Rate, long Count, double TailFraction, double KsStatistic);

/// <summary>
/// Distributions of a unit's pre-ReLU (<c>convK</c>) or post-ReLU (<c>reluK</c>) values over a dataset: values,
/// histogram, exponential tail fit (the Curve Detectors observation that both sides decay exponentially) and the
/// <c>x · p(x)</c> curve.
/// </summary>
public static class ActivationStatistics
{
    /// <summary>Values of every channel of <paramref name="layer"/> over <paramref name="images"/>.</summary>
    /// <param name="model">Image model.</param>
    /// <param name="layer">Layer path with output <c>[N, C, s, s]</c>.</param>
    /// <param name="images"><c>[N, 3, H, W]</c>.</param>
    /// <param name="selection">Which positions to keep.</param>
    /// <param name="batchSize">Images per forward pass.</param>
    /// <returns><c>[M, C]</c> float32 on the CPU, M = N (Centre, Max) or N · s · s (All).</returns>
    public static Tensor Values(nn.Module<Tensor, Tensor> model, string layer, Tensor images, SpatialSelection selection = SpatialSelection.All, int batchSize = 256)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(images);
        if (images.dim() != 4) throw new ArgumentException($"images must be [N, 3, H, W]; got [{string.Join(", ", images.shape)}].", nameof(images));
        if (!LayerPath.All(model).Contains(layer)) throw LayerPath.UnknownPath(model, layer, nameof(layer));
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batchSize must be at least 1.");
        using var scope = NewDisposeScope();
        var parts = new List<Tensor>();
        for (long start = 0; start < images.shape[0]; start += batchSize)
        {
            using var cap = ActivationRecorder.Capture(model, images.narrow(0, start, Math.Min(batchSize, images.shape[0] - start)), new[] { layer });
            var a = cap[layer].to(ScalarType.Float32).cpu();
            if (a.dim() != 4) throw new ArgumentException($"Layer '{layer}' output must be [N, C, s, s]; got [{string.Join(", ", a.shape)}].", nameof(layer));
            parts.Add(selection switch
            {
                SpatialSelection.Centre => a[.., .., a.shape[2] / 2, a.shape[3] / 2].clone(),
                SpatialSelection.Max => a.flatten(2).amax(new long[] { 2 }),
                _ => a.permute(0, 2, 3, 1).reshape(-1, a.shape[1]).clone(),
            });
        }
        return cat(parts, 0).MoveToOuterDisposeScope();
    }

    /// <summary>Histogram of <paramref name="values"/> with equal-width bins over [min, max].</summary>
    /// <param name="values">Values (any finite numbers, at least one).</param>
    /// <param name="bins">Number of bins, ≥ 1.</param>
    public static Histogram HistogramOf(IReadOnlyList<double> values, int bins = 60)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0) throw new ArgumentException("values must not be empty.", nameof(values));
        if (bins < 1) throw new ArgumentOutOfRangeException(nameof(bins), bins, "bins must be at least 1.");
        double lo = values.Min(), hi = values.Max();
        if (hi <= lo) hi = lo + 1;
        var edges = Enumerable.Range(0, bins + 1).Select(i => lo + (hi - lo) * i / bins).ToArray();
        var counts = new long[bins];
        foreach (var v in values) counts[Math.Clamp((int)((v - lo) / (hi - lo) * bins), 0, bins - 1)]++;
        return new Histogram(edges, counts, values.Count);
    }

    /// <summary>
    /// Maximum-likelihood exponential fit of the tail above <paramref name="threshold"/>: λ = 1 / mean(x − threshold)
    /// over x &gt; threshold, with the Kolmogorov–Smirnov distance to the fitted CDF <c>1 − e^{−λ (x − threshold)}</c>.
    /// </summary>
    /// <param name="values">Values.</param>
    /// <param name="threshold">Start of the tail.</param>
    /// <exception cref="ArgumentException">Fewer than 2 values above the threshold.</exception>
    public static ExponentialTail FitTail(IReadOnlyList<double> values, double threshold)
    {
        ArgumentNullException.ThrowIfNull(values);
        var tail = values.Where(v => v > threshold).Select(v => v - threshold).OrderBy(v => v).ToArray();
        if (tail.Length < 2) throw new ArgumentException($"Need at least 2 values above the threshold {threshold}; got {tail.Length}.", nameof(values));
        var mean = tail.Average();
        var rate = mean > 0 ? 1 / mean : double.PositiveInfinity;
        double ks = 0;
        for (int i = 0; i < tail.Length; i++)
        {
            var f = 1 - Math.Exp(-rate * tail[i]);
            ks = Math.Max(ks, Math.Max(Math.Abs((i + 1.0) / tail.Length - f), Math.Abs((double)i / tail.Length - f)));
        }
        return new ExponentialTail(threshold, rate, tail.Length, (double)tail.Length / values.Count, ks);
    }

    /// <summary>
    /// Exponential fit of the upper tail of the positive values: the threshold is the <paramref name="quantile"/> of the
    /// values above zero, then <see cref="FitTail"/>. Pre-ReLU maps carry a large mass just above zero (flat background,
    /// padding) that is not part of the tail; fitting from zero measures that mass, not the tail's decay (on ShapesNet's
    /// relu3 the KS distance falls from 0.15–0.46 at threshold 0 to about 0.01–0.15 at the 0.75 quantile).
    /// </summary>
    /// <param name="values">Values (pre-activations of one unit).</param>
    /// <param name="quantile">Quantile of the positive values where the tail starts, in [0, 1).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="quantile"/> outside [0, 1).</exception>
    /// <exception cref="ArgumentException">Too few positive values to fit.</exception>
    public static ExponentialTail FitUpperTail(IReadOnlyList<double> values, double quantile = 0.75)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (!(quantile >= 0 && quantile < 1)) throw new ArgumentOutOfRangeException(nameof(quantile), quantile, "quantile must be in [0, 1).");
        var positive = values.Where(v => v > 0).OrderBy(v => v).ToArray();
        if (positive.Length < 3) throw new ArgumentException($"Need at least 3 positive values; got {positive.Length}.", nameof(values));
        var threshold = quantile == 0 ? 0 : positive[(int)(quantile * (positive.Length - 1))];
        return FitTail(values, threshold);
    }

    /// <summary>
    /// The histogram as a log-density chart (PNG bytes), with the fitted exponential tail(s) dashed — straight lines on
    /// this scale when the tails are exponential.
    /// </summary>
    /// <param name="histogram">The histogram.</param>
    /// <param name="title">Chart title.</param>
    /// <param name="xLabel">Axis label of the values.</param>
    /// <param name="tails">Fits to draw (positive tails over x &gt; threshold).</param>
    public static byte[] Chart(Histogram histogram, string title, string xLabel, IReadOnlyList<ExponentialTail>? tails = null)
    {
        ArgumentNullException.ThrowIfNull(histogram);
        var c = histogram.Centres;
        var d = histogram.Density;
        var keep = Enumerable.Range(0, c.Length).Where(i => d[i] > 0).ToArray();
        var series = new List<Series> { new("density", keep.Select(i => c[i]).ToArray(), keep.Select(i => d[i]).ToArray(), "#1f77b4", Markers: true) };
        foreach (var t in tails ?? Array.Empty<ExponentialTail>())
        {
            var xs = keep.Select(i => c[i]).Where(x => x > t.Threshold).ToArray();
            if (xs.Length < 2) continue;
            series.Add(new Series($"exp tail λ={t.Rate:G3} (KS {t.KsStatistic:F2})", xs,
                xs.Select(x => t.TailFraction * t.Rate * Math.Exp(-t.Rate * (x - t.Threshold))).ToArray(), "#d62728", Dashed: true));
        }
        return Charts.Line(series, new ChartOptions(title, xLabel, "probability density (log)", LogY: true));
    }
}
