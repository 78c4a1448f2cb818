using Interpretability.Imaging;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>Options of <see cref="DeletionInsertion"/>.</summary>
/// <param name="Steps">Points of the curve after the start (fractions 0, 1/Steps, …, 1 of the pixels).</param>
/// <param name="Baseline">Value of deleted pixels and the start of insertion; null = the image's mean colour per channel, so
/// that removing pixels removes structure rather than painting a foreign black patch the model reacts to.</param>
/// <param name="UseProbability">Read the softmax probability of the target (Petsiuk et al.) rather than its logit.</param>
/// <param name="InsertionBlurSigma">Insertion starts from the image blurred with this Gaussian σ in pixels (Petsiuk, Das &amp;
/// Saenko 2018, "RISE", arXiv:1806.07421, §4: "we start with a highly blurred image"); null = max(H, W) / 8; 0 = start from
/// <paramref name="Baseline"/> like deletion. A flat start removes all structure, so a map earns nothing until most pixels
/// are back; a blurred start keeps the low frequencies and asks which details matter.</param>
public sealed record DeletionInsertionOptions(int Steps = 64, float? Baseline = null, bool UseProbability = true, double? InsertionBlurSigma = null);

/// <summary>A deletion and an insertion curve with their areas.</summary>
/// <param name="Fractions">Fractions of pixels deleted / inserted, 0 … 1.</param>
/// <param name="Deletion">Score after deleting the most important pixels first.</param>
/// <param name="Insertion">Score after inserting the most important pixels first into the blurred image (or the baseline image).</param>
/// <param name="DeletionAuc">Trapezoid area under the deletion curve (lower = the attribution found what matters).</param>
/// <param name="InsertionAuc">Trapezoid area under the insertion curve (higher is better).</param>
public sealed record DeletionInsertionCurves(double[] Fractions, double[] Deletion, double[] Insertion, double DeletionAuc, double InsertionAuc);

/// <summary>
/// Deletion and insertion metrics (Petsiuk, Das &amp; Saenko 2018, "RISE", §4.2): pixels ordered by attribution (summed
/// over channels) are removed from the image — or added to a blank one — in that order, and the target's score is
/// recorded; every step of both curves is one batch of forward passes.
/// </summary>
public static class DeletionInsertion
{
    /// <summary>Computes both curves for one image.</summary>
    /// <param name="model">Classifier <c>[batch, C, H, W] → [batch, classes]</c>.</param>
    /// <param name="input">One image <c>[1, C, H, W]</c>.</param>
    /// <param name="target">Explained class.</param>
    /// <param name="attributions">Attributions <c>[1, C, H, W]</c> or <c>[1, 1, H, W]</c>.</param>
    /// <param name="options">Options; null = defaults.</param>
    public static DeletionInsertionCurves Compute(Func<Tensor, Tensor> model, Tensor input, long target, Tensor attributions, DeletionInsertionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var o = options ?? new DeletionInsertionOptions();
        if (input.dim() != 4 || input.shape[0] != 1) throw new ArgumentException($"input must be one image [1, C, H, W]; got {GradientCore.Shape(input)}.", nameof(input));
        if (attributions.dim() != 4 || attributions.shape[0] != 1 || attributions.shape[2] != input.shape[2] || attributions.shape[3] != input.shape[3])
            throw new ArgumentException($"attributions must be [1, C, {input.shape[2]}, {input.shape[3]}]; got {GradientCore.Shape(attributions)}.", nameof(attributions));
        if (o.Steps < 1) throw new ArgumentOutOfRangeException(nameof(options), o.Steps, "Steps must be at least 1.");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long h = input.shape[2], w = input.shape[3], pixels = h * w;
        var importance = attributions.sum(new long[] { 1 }).reshape(pixels).to(float64).cpu();
        var order = importance.argsort(descending: true);
        var rank = empty_like(order);
        using var pixelsScalar = pixels.ToScalar();
        rank.index_put_(arange(Scalars.IntZero, pixelsScalar, Scalars.IntOne, dtype: int64), order);   // rank of every pixel
        var fractions = Enumerable.Range(0, o.Steps + 1).Select(i => (double)i / o.Steps).ToArray();
        var counts = tensor(fractions.Select(f => (long)Math.Round(f * pixels)).ToArray());
        var firstK = (rank.unsqueeze(0) < counts.unsqueeze(1)).to(input.dtype).to(input.device).reshape(-1, 1, h, w);   // [S+1, 1, H, W]
        using var baselineValue = o.Baseline?.ToScalar();
        var blank = baselineValue is not null ? full_like(input, baselineValue) : input.mean(new long[] { 2, 3 }, keepdim: true).expand(input.shape);
        var deleted = input * (1 - firstK) + blank * firstK;
        double sigma = o.InsertionBlurSigma ?? Math.Max(h, w) / 8.0;
        if (sigma < 0 || !double.IsFinite(sigma)) throw new ArgumentOutOfRangeException(nameof(options), sigma, "InsertionBlurSigma must be 0 (no blur) or positive and finite.");
        var start = sigma > 0 ? GaussianBlur.Apply(input, sigma) : blank;
        var inserted = start * (1 - firstK) + input * firstK;
        var t = tensor(new[] { target }, device: input.device);
        double[] Score(Tensor batch)
        {
            var output = model(batch);
            var scores = o.UseProbability ? GradientCore.Scores(output.softmax(1), t.expand(batch.shape[0]), nameof(target)) : GradientCore.Scores(output, t.expand(batch.shape[0]), nameof(target));
            return scores.to(float64).cpu().data<double>().ToArray();
        }
        var deletion = Score(deleted);
        var insertion = Score(inserted);
        return new DeletionInsertionCurves(fractions, deletion, insertion, Trapezoid(fractions, deletion), Trapezoid(fractions, insertion));
    }

    /// <summary>Trapezoid area under y(x).</summary>
    public static double Trapezoid(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        double area = 0;
        for (int i = 1; i < x.Count; i++) area += (x[i] - x[i - 1]) * (y[i] + y[i - 1]) / 2;
        return area;
    }

    /// <summary>A chart of the deletion curves of several methods, as PNG bytes.</summary>
    /// <param name="curves">Method name → its curves.</param>
    /// <param name="title">Chart title.</param>
    public static byte[] Chart(IReadOnlyList<(string Method, DeletionInsertionCurves Curves)> curves, string title)
    {
        var series = new List<Series>();
        foreach (var (method, c) in curves)
            series.Add(new Series($"{method} deletion (AUC {c.DeletionAuc:F3})", c.Fractions, c.Deletion));
        var deletionChart = Charts.Line(series, new ChartOptions(title + ": deletion (lower area = better)", "fraction of pixels deleted, most important first", "target score",
            Width: 1000, LegendCorner: "outside right"));
        return deletionChart;
    }

    /// <summary>A chart of the insertion curves of several methods, as PNG bytes.</summary>
    public static byte[] InsertionChart(IReadOnlyList<(string Method, DeletionInsertionCurves Curves)> curves, string title) =>
        Charts.Line(curves.Select(c => new Series($"{c.Method} insertion (AUC {c.Curves.InsertionAuc:F3})", c.Curves.Fractions, c.Curves.Insertion)).ToList(),
            new ChartOptions(title + ": insertion (higher area = better)", "fraction of pixels inserted, most important first", "target score", Width: 1000, LegendCorner: "outside right"));
}
