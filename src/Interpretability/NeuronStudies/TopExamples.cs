using Interpretability.Probing;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.NeuronStudies;

/// <summary>One dataset example of a unit: the image, the unit's largest activation in it and where.</summary>
/// <param name="Index">Image index in the dataset.</param>
/// <param name="Activation">The unit's largest activation over positions in that image.</param>
/// <param name="Row">Row of that position in the layer's output.</param>
/// <param name="Col">Column of that position in the layer's output.</param>
public sealed record DatasetExample(int Index, double Activation, int Row, int Col);

/// <summary>
/// Dataset examples: the images that activate a unit most (its max over positions), and receptive-field crops around
/// the argmax position.
/// </summary>
public static class TopExamples
{
    /// <summary>Per image and channel, the largest activation over positions and its position.</summary>
    /// <param name="model">Image model.</param>
    /// <param name="layer">Layer path with output <c>[N, C, s, s]</c>.</param>
    /// <param name="images"><c>[N, 3, H, W]</c>.</param>
    /// <param name="batchSize">Images per forward pass.</param>
    /// <returns>Max <c>[N, C]</c> float32 and flat argmax position <c>[N, C]</c> int64 (row · s + col), CPU, and the layer's side s.</returns>
    public static (Tensor Max, Tensor ArgMax, int Side) MaxOverPositions(nn.Module<Tensor, Tensor> model, string layer, Tensor images, int batchSize = 256)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(images);
        if (images.dim() != 4) throw new ArgumentException($"images must be [N, 3, H, W]; got [{string.Join(", ", images.shape)}].", nameof(images));
        if (!LayerPath.All(model).Contains(layer)) throw LayerPath.UnknownPath(model, layer, nameof(layer));
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batchSize must be at least 1.");
        using var scope = NewDisposeScope();
        var maxes = new List<Tensor>();
        var args = new List<Tensor>();
        int side = 0;
        for (long start = 0; start < images.shape[0]; start += batchSize)
        {
            using var cap = ActivationRecorder.Capture(model, images.narrow(0, start, Math.Min(batchSize, images.shape[0] - start)), new[] { layer });
            var a = cap[layer].to(ScalarType.Float32).cpu();
            if (a.dim() != 4) throw new ArgumentException($"Layer '{layer}' output must be [N, C, s, s]; got [{string.Join(", ", a.shape)}].", nameof(layer));
            side = (int)a.shape[3];
            var (m, i) = a.flatten(2).max(2);
            maxes.Add(m);
            args.Add(i);
        }
        return (cat(maxes, 0).MoveToOuterDisposeScope(), cat(args, 0).MoveToOuterDisposeScope(), side);
    }

    /// <summary>The top <paramref name="k"/> images of each listed channel, by the channel's max over positions.</summary>
    /// <param name="model">Image model.</param>
    /// <param name="layer">Layer path.</param>
    /// <param name="images"><c>[N, 3, H, W]</c>.</param>
    /// <param name="channels">Channels to rank (null = all).</param>
    /// <param name="k">Examples per channel (capped at N).</param>
    /// <returns>Per listed channel, its examples in decreasing activation.</returns>
    public static IReadOnlyList<IReadOnlyList<DatasetExample>> Find(nn.Module<Tensor, Tensor> model, string layer, Tensor images,
        IReadOnlyList<int>? channels = null, int k = 16)
    {
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be at least 1.");
        var (max, arg, side) = MaxOverPositions(model, layer, images);
        using (max)
        using (arg)
            return Rank(max, arg, side, channels, k);
    }

    /// <summary>Ranks precomputed maxima (from <see cref="MaxOverPositions"/>) into top-k examples per channel.</summary>
    /// <param name="max"><c>[N, C]</c> max over positions (float32 on the CPU, as <see cref="MaxOverPositions"/>
    /// gives).</param>
    /// <param name="argMax"><c>[N, C]</c> int64 flat argmax positions (row · s + col), on the CPU.</param>
    /// <param name="side">Side s of the layer's output.</param>
    /// <param name="channels">Channels to rank (null = all).</param>
    /// <param name="k">Examples per channel (capped at N).</param>
    public static IReadOnlyList<IReadOnlyList<DatasetExample>> Rank(Tensor max, Tensor argMax, int side, IReadOnlyList<int>? channels, int k)
    {
        ArgumentNullException.ThrowIfNull(max);
        ArgumentNullException.ThrowIfNull(argMax);
        int n = (int)max.shape[0], c = (int)max.shape[1];
        channels ??= Enumerable.Range(0, c).ToList();
        foreach (var ch in channels)
            if (ch < 0 || ch >= c) throw new ArgumentOutOfRangeException(nameof(channels), ch, $"channel must be in [0, {c}).");
        k = Math.Min(k, n);
        var m = max.contiguous().data<float>().ToArray();
        var a = argMax.contiguous().data<long>().ToArray();
        var result = new List<IReadOnlyList<DatasetExample>>();
        foreach (var ch in channels)
        {
            var order = Enumerable.Range(0, n).OrderByDescending(i => m[i * c + ch]).ThenBy(i => i).Take(k);
            result.Add(order.Select(i => new DatasetExample(i, m[i * c + ch], (int)(a[i * c + ch] / side), (int)(a[i * c + ch] % side))).ToList());
        }
        return result;
    }

    /// <summary>
    /// Crops of the receptive field around each example's argmax position (zero outside the image).
    /// </summary>
    /// <param name="images"><c>[N, 3, H, W]</c>, the dataset the examples index.</param>
    /// <param name="examples">Examples to crop.</param>
    /// <param name="field">The layer's receptive field (<see cref="ReceptiveField.Of"/>).</param>
    /// <param name="size">Crop side in pixels (default: the field's size).</param>
    /// <returns><c>[examples.Count, 3, size, size]</c>, in the dtype and on the device of
    /// <paramref name="images"/>.</returns>
    public static Tensor Crops(Tensor images, IReadOnlyList<DatasetExample> examples, ReceptiveField field, int? size = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(examples);
        ArgumentNullException.ThrowIfNull(field);
        if (examples.Count == 0) throw new ArgumentException("examples must not be empty.", nameof(examples));
        var s = size ?? field.Size;
        if (s < 1) throw new ArgumentOutOfRangeException(nameof(size), s, "size must be at least 1.");
        using var scope = NewDisposeScope();
        var padded = nn.functional.pad(images, new long[] { s, s, s, s });
        var crops = new List<Tensor>();
        foreach (var e in examples)
        {
            if (e.Index < 0 || e.Index >= images.shape[0]) throw new ArgumentOutOfRangeException(nameof(examples), e.Index, $"example index must be in [0, {images.shape[0]}).");
            var top = (int)Math.Round(field.Centre(e.Row) - (s - 1) / 2.0) + s;
            var left = (int)Math.Round(field.Centre(e.Col) - (s - 1) / 2.0) + s;
            crops.Add(padded[e.Index].narrow(1, top, s).narrow(2, left, s));
        }
        return stack(crops, 0).MoveToOuterDisposeScope();
    }
}
