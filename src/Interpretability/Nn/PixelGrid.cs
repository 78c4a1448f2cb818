using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Nn;

/// <summary>
/// The pixels of a <c>Width × Height</c> picture as rows of a batch: pixel <c>(row r, column c)</c> is row
/// <c>p = r·Width + c</c>, with coordinates at the pixel centre mapped into (−1, 1) (our convention):
/// <c>x = −1 + (2c + 1)/Width</c>, <c>y = −1 + (2r + 1)/Height</c> (y grows downwards, as rows do). Colours in [0, 1]
/// become <c>2v − 1</c> ∈ [−1, 1], the range of a tanh output (as in the Habr article on synapse ensembles, 2015,
/// https://habr.com/ru/articles/249031/: "all values normalised to (−1, 1)").
/// </summary>
/// <param name="Width">Columns (at least 1).</param>
/// <param name="Height">Rows (at least 1).</param>
public sealed record PixelGrid(int Width, int Height)
{
    /// <summary>Columns.</summary>
    public int Width { get; init; } = Width >= 1 ? Width : throw new ArgumentOutOfRangeException(nameof(Width), Width, "A pixel grid needs a width of at least 1.");

    /// <summary>Rows.</summary>
    public int Height { get; init; } = Height >= 1 ? Height : throw new ArgumentOutOfRangeException(nameof(Height), Height, "A pixel grid needs a height of at least 1.");

    /// <summary>Number of pixels <c>P = Width · Height</c>.</summary>
    public int PixelCount => Width * Height;

    /// <summary>A square grid.</summary>
    public static PixelGrid Square(int size) => new(size, size);

    /// <summary>The coordinates of every pixel centre.</summary>
    /// <param name="dtype">The dtype of the result (float32 by default).</param>
    /// <param name="device">The device of the result (CPU when null).</param>
    /// <returns><c>[P, 2]</c> with columns (x, y), in (−1, 1), rows in pixel order <c>p = r·Width + c</c>.</returns>
    public Tensor Coordinates(ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        using var scope = NewDisposeScope();
        using Scalar width = Width.ToScalar(), height = Height.ToScalar();
        var xs = (arange(Scalars.IntZero, width, Scalars.IntOne, dtype: ScalarType.Float64, device: device) * 2 + 1) / Width - 1;
        var ys = (arange(Scalars.IntZero, height, Scalars.IntOne, dtype: ScalarType.Float64, device: device) * 2 + 1) / Height - 1;
        var grid = stack(new[] { xs.unsqueeze(0).expand(Height, Width), ys.unsqueeze(1).expand(Height, Width) }, 2);
        return grid.reshape(PixelCount, 2).to(dtype).MoveToOuterDisposeScope();
    }

    /// <summary>A picture as pixel rows in the network's colour range.</summary>
    /// <param name="image"><c>[C, Height, Width]</c>, values in [0, 1].</param>
    /// <returns><c>[P, C]</c>, values <c>2v − 1</c> in [−1, 1]; same dtype and device as
    /// <paramref name="image"/>.</returns>
    public Tensor ToPixels(Tensor image)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.dim() != 3 || image.shape[1] != Height || image.shape[2] != Width)
            throw new ArgumentException($"image must be [C, {Height}, {Width}] for this {Width}×{Height} grid; got [{string.Join(", ", image.shape)}].", nameof(image));
        using var scope = NewDisposeScope();
        return (image.reshape(image.shape[0], PixelCount).t() * 2 - 1).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Pixel rows in the network's colour range as a picture.</summary>
    /// <param name="pixels"><c>[P, C]</c>, values in [−1, 1].</param>
    /// <returns><c>[C, Height, Width]</c> in [0, 1] (clamped); same dtype and device as
    /// <paramref name="pixels"/>.</returns>
    public Tensor ToImage(Tensor pixels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        if (pixels.dim() != 2 || pixels.shape[0] != PixelCount)
            throw new ArgumentException($"pixels must be [{PixelCount}, C] for this {Width}×{Height} grid; got [{string.Join(", ", pixels.shape)}].", nameof(pixels));
        using var scope = NewDisposeScope();
        return ((pixels.t().reshape(pixels.shape[1], Height, Width) + 1) / 2).clamp(Scalars.IntZero, Scalars.IntOne).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>A per-pixel map as a picture-shaped tensor.</summary>
    /// <param name="values"><c>[P]</c> (any shape with P elements, in pixel order).</param>
    /// <returns><c>[Height, Width]</c>, a reshape of <paramref name="values"/> (a view when possible).</returns>
    public Tensor ToMap(Tensor values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.numel() != PixelCount)
            throw new ArgumentException($"values must hold {PixelCount} entries (one per pixel of {Width}×{Height}); got [{string.Join(", ", values.shape)}].", nameof(values));
        return values.reshape(Height, Width);
    }

    /// <summary>
    /// A region mask as per-pixel weights, checked: the mask must have the grid's size, values in [0, 1], and the
    /// region must be neither empty nor the whole picture (an ensemble compares inside with outside).
    /// </summary>
    /// <param name="mask"><c>[Height, Width]</c> (or <c>[P]</c>), boolean or a soft mask in [0, 1].</param>
    /// <param name="name">Parameter name for the error message.</param>
    /// <returns><c>[P]</c> float64 weights in [0, 1], on the mask's device.</returns>
    public Tensor RegionWeights(Tensor mask, string name = "mask")
    {
        ArgumentNullException.ThrowIfNull(mask, name);
        var shapeOk = (mask.dim() == 2 && mask.shape[0] == Height && mask.shape[1] == Width) || (mask.dim() == 1 && mask.shape[0] == PixelCount);
        if (!shapeOk)
            throw new ArgumentException($"{name} must be [{Height}, {Width}] (the picture's size) or [{PixelCount}]; got [{string.Join(", ", mask.shape)}].", name);
        using var scope = NewDisposeScope();
        var m = mask.to(ScalarType.Float64).reshape(PixelCount);
        if (!isfinite(m).all().item<bool>() || m.min().ToDouble() < 0 || m.max().ToDouble() > 1)
            throw new ArgumentException($"{name} must hold values in [0, 1] (a boolean or soft mask); got values in [{m.min().ToDouble()}, {m.max().ToDouble()}].", name);
        var inside = m.sum().ToDouble();
        if (inside <= 0) throw new ArgumentException($"The region given by {name} is empty: no pixel of the {Width}×{Height} picture lies in it.", name);
        if ((1 - m).sum().ToDouble() <= 0) throw new ArgumentException($"The region given by {name} covers the whole picture; there is no outside to compare with.", name);
        return m.MoveToOuterDisposeScope();
    }
}
