using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Probing;

/// <summary>
/// One pass of a dataset through a layer: per image and channel, the channel's largest activation over positions and
/// where it is, and per channel the mean activation over the set. The top-k images of a channel ranked by that maximum
/// are its "dataset examples" (Zeiler &amp; Fergus 2014, "Visualizing and Understanding Convolutional Networks",
/// arXiv:1311.2901; Olah et al. 2017, "Feature Visualization", Distill, doi:10.23915/distill.00007).
/// </summary>
public static class DatasetScan
{
    /// <summary>Images per forward pass unless the caller says otherwise.</summary>
    public const int DefaultBatchSize = 250;

    /// <summary>
    /// Runs <paramref name="model"/> over <paramref name="images"/> in batches (no gradient) and keeps, per image and
    /// channel of <paramref name="layer"/>, the maximum over positions and its position, and per channel the mean over
    /// images of the spatial mean. Every image is reduced on its own, so the result does not depend on
    /// <paramref name="batchSize"/> (up to the last bits of a convolution algorithm chosen per batch shape).
    /// </summary>
    /// <param name="model">The model, input <c>[N, 3, H, W]</c>.</param>
    /// <param name="layer">Layer path with output <c>[N, C, h, w]</c>, <c>[N, C, L]</c> or <c>[N, C]</c>.</param>
    /// <param name="images"><c>[N, 3, H, W]</c> (N ≥ 1) on the model's device.</param>
    /// <param name="batchSize">Images per forward pass (≥ 1).</param>
    /// <returns>The scan, on the CPU; the caller disposes it.</returns>
    /// <exception cref="ArgumentException">No such layer, or its output has another shape; <paramref name="images"/> is not
    /// <c>[N, 3, H, W]</c>.</exception>
    public static LayerScan Run(nn.Module<Tensor, Tensor> model, string layer, Tensor images, int batchSize = DefaultBatchSize)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(images);
        if (images.dim() != 4 || images.shape[0] < 1)
            throw new ArgumentException($"images must be [N, 3, H, W] with N ≥ 1; got [{string.Join(", ", images.shape)}].", nameof(images));
        if (!LayerPath.All(model).Contains(layer)) throw LayerPath.UnknownPath(model, layer, nameof(layer));
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batchSize must be at least 1.");
        long n = images.shape[0];
        using var scope = NewDisposeScope();
        var maxes = new List<Tensor>();
        var args = new List<Tensor>();
        var means = new List<Tensor>();
        int height = 1, width = 1;
        using (no_grad())
        using (var recorder = new ActivationRecorder(model, new[] { layer }))
        {
            for (long start = 0; start < n; start += batchSize)
            {
                using var inner = NewDisposeScope();
                model.call(images.narrow(0, start, Math.Min(batchSize, n - start)));
                var a = recorder.Output(layer);
                if (a.dim() is < 2 or > 4)
                    throw new ArgumentException($"Layer '{layer}' output must be [N, C, h, w], [N, C, L] or [N, C]; got [{string.Join(", ", a.shape)}].", nameof(layer));
                height = a.dim() == 4 ? (int)a.shape[2] : 1;
                width = a.dim() >= 3 ? (int)a.shape[^1] : 1;
                var flat = a.dim() > 2 ? a.flatten(2) : a.unsqueeze(2);                  // [b, C, positions]
                var (max, arg) = flat.to(ScalarType.Float32).max(2);                       // the first position on ties
                maxes.Add(max.cpu().MoveToOuterDisposeScope());
                args.Add(arg.cpu().MoveToOuterDisposeScope());
                means.Add(flat.to(ScalarType.Float64).mean(new long[] { 2 }).MoveToOuterDisposeScope());
                recorder.Clear();
            }
        }
        var mean = cat(means, 0).mean(new long[] { 0 }).cpu();                           // [C]
        return new LayerScan(layer, cat(maxes, 0).MoveToOuterDisposeScope(), cat(args, 0).MoveToOuterDisposeScope(), mean.MoveToOuterDisposeScope(), height, width);
    }

    /// <summary>
    /// The spatial mean of every channel of <paramref name="layer"/> for each image, in one forward pass (no gradient),
    /// e.g. to compare optimised images with the dataset.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="layer">Layer path, output <c>[B, C, ...]</c>.</param>
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
    /// <param name="layer">Layer path, output <c>[B, C, ...]</c>.</param>
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
}

/// <summary>
/// What <see cref="DatasetScan.Run"/> kept of a layer over a dataset of N images with C channels; the tensors live on the
/// CPU and belong to this object (dispose it).
/// </summary>
/// <param name="Layer">The layer scanned.</param>
/// <param name="Max"><c>[N, C]</c> float32: each image's largest activation of each channel over the layer's positions.</param>
/// <param name="ArgMax"><c>[N, C]</c> int64: where that maximum is, as the flat position <c>row · Width + col</c> (the
/// first such position on ties; 0 for a <c>[N, C]</c> layer).</param>
/// <param name="MeanActivation"><c>[C]</c> float64: each channel's spatial mean activation averaged over all images.</param>
/// <param name="Height">Rows of the layer's output (1 unless it is <c>[N, C, h, w]</c>).</param>
/// <param name="Width">Columns of the layer's output (its last dimension; 1 for a <c>[N, C]</c> layer).</param>
public sealed record LayerScan(string Layer, Tensor Max, Tensor ArgMax, Tensor MeanActivation, int Height, int Width) : IDisposable
{
    /// <summary>Images scanned (N).</summary>
    public int Count => (int)Max.shape[0];

    /// <summary>Channels of the layer (C).</summary>
    public int Channels => (int)Max.shape[1];

    /// <summary>
    /// The <paramref name="k"/> images with the largest <see cref="Max"/> per listed channel, in decreasing order (ties:
    /// the lower image index first), with the row and column of each image's maximum.
    /// </summary>
    /// <param name="channels">Channels to rank; null = all.</param>
    /// <param name="k">Images per channel (≥ 1; capped at N).</param>
    public TopActivations Top(IReadOnlyList<int>? channels = null, int k = 9)
    {
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be at least 1.");
        int n = Count, c = Channels;
        var chosen = (channels ?? Enumerable.Range(0, c).ToList()).ToArray();
        foreach (var ch in chosen)
            if (ch < 0 || ch >= c) throw new ArgumentOutOfRangeException(nameof(channels), ch, $"channel must be in [0, {c}) for '{Layer}'.");
        k = Math.Min(k, n);
        float[] m;
        long[] a;
        using (var maxes = Max.contiguous()) m = maxes.data<float>().ToArray();
        using (var args = ArgMax.contiguous()) a = args.data<long>().ToArray();
        var indices = new long[chosen.Length * k];
        var values = new float[chosen.Length * k];
        var rows = new long[chosen.Length * k];
        var cols = new long[chosen.Length * k];
        for (int r = 0; r < chosen.Length; r++)
        {
            var ch = chosen[r];
            int j = 0;
            foreach (var i in Enumerable.Range(0, n).OrderByDescending(i => m[i * c + ch]).ThenBy(i => i).Take(k))
            {
                indices[r * k + j] = i;
                values[r * k + j] = m[i * c + ch];
                rows[r * k + j] = a[i * c + ch] / Width;
                cols[r * k + j] = a[i * c + ch] % Width;
                j++;
            }
        }
        long[] shape = { chosen.Length, k };
        return new TopActivations(tensor(indices, shape), tensor(values, shape), tensor(rows, shape), tensor(cols, shape), chosen);
    }

    /// <summary>Frees the tensors.</summary>
    public void Dispose()
    {
        Max.Dispose();
        ArgMax.Dispose();
        MeanActivation.Dispose();
    }
}

/// <summary>
/// The top images of some channels (<see cref="LayerScan.Top"/>): one row per channel, in the order of
/// <paramref name="Channels"/>, k columns in decreasing activation. CPU tensors owned by this object (dispose it).
/// </summary>
/// <param name="Indices"><c>[channels, k]</c> int64: image indices in the scanned set.</param>
/// <param name="Values"><c>[channels, k]</c> float32: the channel's maximum over positions in each of those images.</param>
/// <param name="Rows"><c>[channels, k]</c> int64: the row of that maximum in the layer's output.</param>
/// <param name="Cols"><c>[channels, k]</c> int64: its column.</param>
/// <param name="Channels">The channels, in the order of the rows.</param>
public sealed record TopActivations(Tensor Indices, Tensor Values, Tensor Rows, Tensor Cols, IReadOnlyList<int> Channels) : IDisposable
{
    /// <summary>Frees the tensors.</summary>
    public void Dispose()
    {
        Indices.Dispose();
        Values.Dispose();
        Rows.Dispose();
        Cols.Dispose();
    }
}
