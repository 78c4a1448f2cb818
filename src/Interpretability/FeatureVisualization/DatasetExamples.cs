using Interpretability.Probing;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.FeatureVisualization;

/// <summary>First-layer filters shown as pictures (Krizhevsky et al. 2012; Zeiler and Fergus 2013).</summary>
public static class FilterVisualization
{
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
        var peak = w.abs().amax(new long[] { 1, 2, 3 }, keepdim: true).clamp_min(1e-12);
        var img = 0.5f + w / (2f * peak);
        if (img.shape[1] == 1) img = img.expand(-1, 3, -1, -1);
        return img.contiguous().MoveToOuterDisposeScope();
    }
}

/// <summary>The dataset images that drive each channel hardest, and each channel's mean activation over the set.</summary>
/// <param name="Indices"><c>[C, k]</c> int64: indices of the top images per channel (descending).</param>
/// <param name="Values"><c>[C, k]</c> float32: their activations (the channel's maximum over positions).</param>
/// <param name="MeanActivation"><c>[C]</c> float64: the channel's spatial mean activation averaged over all images (the
/// denominator of the activation gain).</param>
/// <param name="Channels">The channels, in the order of the rows.</param>
public sealed record DatasetExampleSet(Tensor Indices, Tensor Values, Tensor MeanActivation, IReadOnlyList<int> Channels) : IDisposable
{
    /// <summary>Frees the tensors.</summary>
    public void Dispose()
    {
        Indices.Dispose();
        Values.Dispose();
        MeanActivation.Dispose();
    }
}

/// <summary>Dataset examples (Lucid's "dataset examples" beside a feature visualisation).</summary>
public static class DatasetExamples
{
    /// <summary>Images per forward pass unless the caller says otherwise (<see cref="TopK"/>, <see cref="ChannelMeans(nn.Module{Tensor, Tensor}, string, Tensor, int)"/>).</summary>
    public const int DefaultBatchSize = 250;

    /// <summary>
    /// Runs <paramref name="model"/> over <paramref name="images"/> in batches and keeps, per channel of
    /// <paramref name="layer"/>, the <paramref name="k"/> images with the largest maximum over positions, and the mean
    /// over images of the spatial mean (the scale a channel objective is compared to).
    /// </summary>
    /// <param name="model">The model, input <c>[N, 3, H, W]</c>.</param>
    /// <param name="layer">Layer path with output <c>[N, C, h, w]</c> or <c>[N, C]</c>.</param>
    /// <param name="images"><c>[N, 3, H, W]</c> on the model's device.</param>
    /// <param name="channels">Channels to rank; null = all.</param>
    /// <param name="k">Images per channel (at most N).</param>
    /// <param name="batchSize">Images per forward pass; every image is ranked on its own, so the result does not depend
    /// on it (up to the last bits of a convolution algorithm chosen per batch shape).</param>
    public static DatasetExampleSet TopK(nn.Module<Tensor, Tensor> model, string layer, Tensor images, IReadOnlyList<int>? channels = null, int k = 9, int batchSize = DefaultBatchSize)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(images);
        if (images.dim() != 4) throw new ArgumentException($"images must be [N, 3, H, W]; got [{string.Join(", ", images.shape)}].", nameof(images));
        long n = images.shape[0];
        if (k < 1 || k > n) throw new ArgumentOutOfRangeException(nameof(k), k, $"k must be between 1 and the number of images ({n}).");
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batchSize must be at least 1.");
        using var scope = NewDisposeScope();
        var peaks = new List<Tensor>();
        var means = new List<Tensor>();
        using (no_grad())
        using (var recorder = new ActivationRecorder(model, new[] { layer }))
        {
            for (long start = 0; start < n; start += batchSize)
            {
                using var inner = NewDisposeScope();
                var len = Math.Min(batchSize, n - start);
                model.call(images.narrow(0, start, len));
                var a = recorder.Output(layer);
                var flat = a.dim() > 2 ? a.flatten(2) : a.unsqueeze(2);
                peaks.Add(flat.amax(new long[] { 2 }).MoveToOuterDisposeScope());
                means.Add(flat.to(ScalarType.Float64).mean(new long[] { 2 }).MoveToOuterDisposeScope());
                recorder.Clear();
            }
        }
        var peak = cat(peaks, 0);                                    // [N, C]
        var mean = cat(means, 0).mean(new long[] { 0 });             // [C]
        var chosen = channels ?? Enumerable.Range(0, (int)peak.shape[1]).ToArray();
        foreach (var c in chosen)
            if (c < 0 || c >= peak.shape[1]) throw new ArgumentOutOfRangeException(nameof(channels), c, $"{layer} has {peak.shape[1]} channels.");
        var index = tensor(chosen.Select(c => (long)c).ToArray(), device: peak.device);
        var (values, indices) = peak.index_select(1, index).t().topk(k, dim: 1);
        return new DatasetExampleSet(indices.cpu().MoveToOuterDisposeScope(), values.to(ScalarType.Float32).cpu().MoveToOuterDisposeScope(),
            mean.index_select(0, index).cpu().MoveToOuterDisposeScope(), chosen.ToArray());
    }

    /// <summary>
    /// The mean activation of the channel objectives for a batch of images: <c>[B, C]</c> spatial means of
    /// <paramref name="layer"/> (no gradient), e.g. to compare optimised images with the dataset.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="layer">Layer path.</param>
    /// <param name="images"><c>[B, 3, H, W]</c>.</param>
    /// <returns><c>[B, C]</c> in the layer's dtype (float32 for a float32 model), on the model's device.</returns>
    public static Tensor ChannelMeans(nn.Module<Tensor, Tensor> model, string layer, Tensor images)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var capture = ActivationRecorder.Capture(model, images, new[] { layer });
        var a = capture[layer];
        using var scope = NewDisposeScope();
        return (a.dim() > 2 ? a.flatten(2).mean(new long[] { 2 }) : a.clone()).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <see cref="ChannelMeans(nn.Module{Tensor, Tensor}, string, Tensor)"/> in forward passes of at most
    /// <paramref name="batchSize"/> images (each image's means are its own, so the result does not depend on the
    /// split).
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="layer">Layer path.</param>
    /// <param name="images"><c>[B, 3, H, W]</c>.</param>
    /// <param name="batchSize">Images per forward pass (≥ 1).</param>
    /// <returns><c>[B, C]</c> in the layer's dtype (float32 for a float32 model), on the model's device.</returns>
    public static Tensor ChannelMeans(nn.Module<Tensor, Tensor> model, string layer, Tensor images, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(images);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batchSize must be at least 1.");
        long n = images.shape[0];
        if (n <= batchSize) return ChannelMeans(model, layer, images);
        using var scope = NewDisposeScope();
        var parts = new List<Tensor>();
        for (long start = 0; start < n; start += batchSize)
            parts.Add(ChannelMeans(model, layer, images.narrow(0, start, Math.Min(batchSize, n - start))));
        return cat(parts, 0).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// A montage of the top images of one row of <paramref name="set"/> in a square grid with 1-pixel white gaps:
    /// <c>[3, H', W']</c> with <c>H' = rows·(H + 1) − 1</c>, <c>W' = cols·(W + 1) − 1</c>, in the dtype and on the
    /// device of <paramref name="images"/>.
    /// </summary>
    /// <param name="set">The ranking.</param>
    /// <param name="row">Row of <see cref="DatasetExampleSet.Channels"/>.</param>
    /// <param name="images">The images ranked, <c>[N, 3, H, W]</c>.</param>
    public static Tensor Montage(DatasetExampleSet set, int row, Tensor images)
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
