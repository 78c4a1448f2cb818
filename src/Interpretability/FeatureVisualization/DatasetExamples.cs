using Interpretability.Probing;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.FeatureVisualization;

/// <summary>First-layer filters shown as pictures (Krizhevsky et al. 2012; Zeiler and Fergus 2013).</summary>
public static class FilterVisualization
{
    private static readonly Scalar TinyPeak = 1e-12.ToScalar();   // a floor for a filter's largest weight, alive for the process

    /// <summary>
    /// Each filter of a first convolution as an RGB picture: <c>0.5 + w / (2 max|w|)</c> per filter, so grey is zero,
    /// brighter is positive, darker negative, and the colour shows which input colour the filter weighs.
    /// </summary>
    /// <param name="weight"><c>[C_out, 3, k, k]</c> (or <c>[C_out, 1, k, k]</c>, shown in grey).</param>
    /// <returns><c>[C_out, 3, k, k]</c> float32 in [0, 1].</returns>
    public static Tensor Render(Tensor weight)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.dim() != 4 || weight.shape[1] is not (1 or 3))
            throw new ArgumentException($"weight must be [C_out, 3, k, k] or [C_out, 1, k, k]; got [{string.Join(", ", weight.shape)}].", nameof(weight));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var w = weight.detach().to(ScalarType.Float32);
        var peak = w.abs().amax(new long[] { 1, 2, 3 }, keepdim: true).clamp_min(TinyPeak);
        var img = 0.5f + w / (2f * peak);
        if (img.shape[1] == 1) img = img.expand(-1, 3, -1, -1);
        return img.contiguous().MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Dataset examples (Lucid's "dataset examples" beside a feature visualisation): the images are found by
/// <see cref="DatasetScan"/> (one pass of the dataset through the layer, then <see cref="LayerScan.Top"/>); this class
/// draws them.
/// </summary>
public static class DatasetExamples
{
    /// <summary>
    /// A montage of the top images of one row of <paramref name="set"/> in a square grid with 1-pixel white gaps:
    /// <c>[3, H', W']</c> with <c>H' = rows·(H + 1) − 1</c>, <c>W' = cols·(W + 1) − 1</c>, in the dtype and on the
    /// device of <paramref name="images"/>.
    /// </summary>
    /// <param name="set">The ranking (<see cref="LayerScan.Top"/>).</param>
    /// <param name="row">Row of <see cref="TopActivations.Channels"/>.</param>
    /// <param name="images">The images ranked, <c>[N, 3, H, W]</c>.</param>
    public static Tensor Montage(TopActivations set, int row, Tensor images)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentNullException.ThrowIfNull(images);
        if (row < 0 || row >= set.Channels.Count) throw new ArgumentOutOfRangeException(nameof(row), row, $"The set has {set.Channels.Count} rows.");
        using var scope = NewDisposeScope();
        var idx = set.Indices[row].to(images.device);
        var picked = images.index_select(0, idx);                    // [k, 3, H, W]
        long k = picked.shape[0], h = picked.shape[2], w = picked.shape[3];
        int cols = (int)Math.Ceiling(Math.Sqrt(k));
        int rows = (int)((k + cols - 1) / cols);
        var canvas = ones(3, rows * (h + 1) - 1, cols * (w + 1) - 1, dtype: picked.dtype, device: picked.device);
        for (int i = 0; i < k; i++)
        {
            int r = i / cols, c = i % cols;
            canvas.narrow(1, r * (h + 1), h).narrow(2, c * (w + 1), w).copy_(picked[i]);
        }
        return canvas.MoveToOuterDisposeScope();
    }
}
