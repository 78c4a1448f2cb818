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
/// Dataset examples of units: the images that activate a unit most (its max over positions, found by
/// <see cref="DatasetScan"/>) as <see cref="DatasetExample"/> records, and receptive-field crops around the argmax
/// position.
/// </summary>
public static class TopExamples
{
    /// <summary>The top <paramref name="k"/> images of each listed channel, by the channel's max over positions.</summary>
    /// <param name="model">Image model.</param>
    /// <param name="layer">Layer path with output <c>[N, C, s, s]</c>.</param>
    /// <param name="images"><c>[N, 3, H, W]</c>.</param>
    /// <param name="channels">Channels to rank (null = all).</param>
    /// <param name="k">Examples per channel (capped at N).</param>
    /// <returns>Per listed channel, its examples in decreasing activation (ties: the lower image index first).</returns>
    public static IReadOnlyList<IReadOnlyList<DatasetExample>> Find(nn.Module<Tensor, Tensor> model, string layer, Tensor images,
        IReadOnlyList<int>? channels = null, int k = 16)
    {
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be at least 1.");
        using var scan = DatasetScan.Run(model, layer, images);
        using var top = scan.Top(channels, k);
        return From(top);
    }

    /// <summary>The rows of a ranking (<see cref="LayerScan.Top"/>) as example records, one list per channel.</summary>
    /// <param name="top">The ranking.</param>
    public static IReadOnlyList<IReadOnlyList<DatasetExample>> From(TopActivations top)
    {
        ArgumentNullException.ThrowIfNull(top);
        long k = top.Indices.shape[1];
        var index = top.Indices.contiguous().data<long>().ToArray();
        var value = top.Values.contiguous().data<float>().ToArray();
        var row = top.Rows.contiguous().data<long>().ToArray();
        var col = top.Cols.contiguous().data<long>().ToArray();
        return Enumerable.Range(0, top.Channels.Count)
            .Select(r => (IReadOnlyList<DatasetExample>)Enumerable.Range(0, (int)k)
                .Select(j => r * k + j)
                .Select(i => new DatasetExample((int)index[i], value[i], (int)row[i], (int)col[i])).ToList())
            .ToList();
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
