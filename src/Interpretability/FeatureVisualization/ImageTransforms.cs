using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Interpretability.FeatureVisualization;

/// <summary>
/// A differentiable, seeded image transform applied before every forward pass of the feature-visualisation loop
/// (transformation robustness: Olah et al. 2017). Randomness comes only from the <see cref="Generator"/> passed in, so
/// the same generator state gives the same output.
/// </summary>
public abstract class ImageTransform
{
    /// <summary>Applies the transform.</summary>
    /// <param name="image"><c>[B, C, H, W]</c> float.</param>
    /// <param name="generator">Random source of this step.</param>
    /// <returns><c>[B, C, H', W']</c>: batch and channels kept; the spatial size as <see cref="OutputSize"/> says.</returns>
    public abstract Tensor Apply(Tensor image, Generator generator);

    /// <summary>The spatial size of the output for an input of <paramref name="height"/> × <paramref name="width"/>.</summary>
    public virtual (int Height, int Width) OutputSize(int height, int width) => (height, width);

    /// <summary>Checks that <paramref name="image"/> is <c>[B, C, H, W]</c>.</summary>
    protected static void CheckImage(Tensor image)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.dim() != 4) throw new ArgumentException($"image must be [B, C, H, W]; got [{string.Join(", ", image.shape)}].", nameof(image));
    }

    /// <summary>One uniform draw from <paramref name="choices"/> per image.</summary>
    protected static Tensor Choose(IReadOnlyList<double> choices, long batch, Generator generator, Device device)
    {
        using var scope = NewDisposeScope();
        var index = randint(0, choices.Count, new long[] { batch }, generator: generator);
        var values = tensor(choices.Select(c => (float)c).ToArray());
        return values.index_select(0, index).to(device).MoveToOuterDisposeScope();
    }
}

/// <summary>Pads every side by <see cref="Pixels"/> with a constant (Lucid: 12 pixels of 0.5).</summary>
/// <param name="Pixels">Pixels added on each side.</param>
/// <param name="Value">The padding value.</param>
public sealed class PadTransform(int Pixels, double Value = 0.5) : ImageTransform
{
    /// <summary>Pixels added on each side.</summary>
    public int Pixels { get; } = Pixels >= 0 ? Pixels : throw new ArgumentOutOfRangeException(nameof(Pixels), Pixels, "Pixels must not be negative.");

    /// <summary>The padding value.</summary>
    public double Value { get; } = Value;

    /// <inheritdoc />
    public override Tensor Apply(Tensor image, Generator generator)
    {
        CheckImage(image);
        return F.pad(image, new long[] { Pixels, Pixels, Pixels, Pixels }, PaddingModes.Constant, Value);
    }

    /// <inheritdoc />
    public override (int Height, int Width) OutputSize(int height, int width) => (height + 2 * Pixels, width + 2 * Pixels);

    /// <inheritdoc />
    public override string ToString() => $"pad {Pixels} ({Value})";
}

/// <summary>
/// Lucid's jitter: a random crop <see cref="Pixels"/> smaller than the input in each direction (shift by 0 … d − 1
/// pixels), one offset per image.
/// </summary>
/// <param name="Pixels">Maximum shift d (Lucid: 8, then 4); the output is d pixels smaller.</param>
public sealed class JitterTransform(int Pixels) : ImageTransform
{
    /// <summary>Maximum shift d.</summary>
    public int Pixels { get; } = Pixels >= 1 ? Pixels : throw new ArgumentOutOfRangeException(nameof(Pixels), Pixels, "Pixels must be at least 1.");

    /// <inheritdoc />
    public override Tensor Apply(Tensor image, Generator generator)
    {
        CheckImage(image);
        long b = image.shape[0], h = image.shape[2], w = image.shape[3];
        if (h <= Pixels || w <= Pixels)
            throw new ArgumentException($"Jitter of {Pixels} pixels needs an image larger than {Pixels}×{Pixels}; got {h}×{w}.", nameof(image));
        using var scope = NewDisposeScope();
        var offsets = randint(0, Pixels, new long[] { b, 2 }, generator: generator).data<long>().ToArray();
        var crops = new Tensor[b];
        for (int i = 0; i < b; i++)
            crops[i] = image.narrow(0, i, 1).narrow(2, offsets[2 * i], h - Pixels).narrow(3, offsets[2 * i + 1], w - Pixels);
        return (b == 1 ? crops[0] : cat(crops, 0)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public override (int Height, int Width) OutputSize(int height, int width) => (height - Pixels, width - Pixels);

    /// <inheritdoc />
    public override string ToString() => $"jitter {Pixels}";
}

/// <summary>
/// Random zoom by a factor drawn per image from <see cref="Scales"/> (Lucid: 0.90, 0.92, …, 1.10), done with
/// <c>affine_grid</c> + bilinear <c>grid_sample</c> (border padding) so the size is kept and gradients flow.
/// </summary>
public sealed class RandomScaleTransform : ImageTransform
{
    /// <summary>Lucid's scales <c>1 + (i − 5)/50</c>, i = 0…10.</summary>
    public static IReadOnlyList<double> LucidScales { get; } = Enumerable.Range(0, 11).Select(i => 1 + (i - 5) / 50.0).ToArray();

    /// <summary>Creates the transform.</summary>
    /// <param name="scales">Zoom factors (&gt; 0; above 1 enlarges); null = <see cref="LucidScales"/>.</param>
    public RandomScaleTransform(IReadOnlyList<double>? scales = null)
    {
        Scales = scales ?? LucidScales;
        if (Scales.Count == 0 || Scales.Any(s => !(s > 0))) throw new ArgumentOutOfRangeException(nameof(scales), "Every scale must be positive and there must be at least one.");
    }

    /// <summary>The zoom factors.</summary>
    public IReadOnlyList<double> Scales { get; }

    /// <inheritdoc />
    public override Tensor Apply(Tensor image, Generator generator)
    {
        CheckImage(image);
        using var scope = NewDisposeScope();
        var s = Choose(Scales, image.shape[0], generator, image.device).to(image.dtype);
        var inv = 1f / s;
        var zero = zeros_like(s);
        var theta = stack(new[] { stack(new[] { inv, zero, zero }, 1), stack(new[] { zero, inv, zero }, 1) }, 1);
        return Sample(image, theta).MoveToOuterDisposeScope();
    }

    internal static Tensor Sample(Tensor image, Tensor theta)
    {
        var grid = F.affine_grid(theta, image.shape, align_corners: false);
        return F.grid_sample(image, grid, GridSampleMode.Bilinear, GridSamplePaddingMode.Border, align_corners: false);
    }

    /// <inheritdoc />
    public override string ToString() => $"random scale {Scales.Min():0.00}–{Scales.Max():0.00}";
}

/// <summary>
/// Random rotation by an angle in degrees drawn per image from <see cref="Degrees"/> (Lucid: −10 … 10 plus five
/// extra zeros), done with <c>affine_grid</c> + bilinear <c>grid_sample</c> (border padding).
/// </summary>
public sealed class RandomRotateTransform : ImageTransform
{
    /// <summary>Lucid's angles: <c>range(-10, 11) + 5 × [0]</c> degrees.</summary>
    public static IReadOnlyList<double> LucidDegrees { get; } = Enumerable.Range(-10, 21).Select(d => (double)d).Concat(Enumerable.Repeat(0.0, 5)).ToArray();

    /// <summary>Creates the transform.</summary>
    /// <param name="degrees">Angles in degrees; null = <see cref="LucidDegrees"/>.</param>
    public RandomRotateTransform(IReadOnlyList<double>? degrees = null)
    {
        Degrees = degrees ?? LucidDegrees;
        if (Degrees.Count == 0) throw new ArgumentOutOfRangeException(nameof(degrees), "At least one angle is required.");
    }

    /// <summary>The angles in degrees.</summary>
    public IReadOnlyList<double> Degrees { get; }

    /// <inheritdoc />
    public override Tensor Apply(Tensor image, Generator generator)
    {
        CheckImage(image);
        using var scope = NewDisposeScope();
        var a = Choose(Degrees, image.shape[0], generator, image.device).to(image.dtype) * (float)(Math.PI / 180);
        var c = a.cos();
        var s = a.sin();
        var zero = zeros_like(a);
        var theta = stack(new[] { stack(new[] { c, -s, zero }, 1), stack(new[] { s, c, zero }, 1) }, 1);
        return RandomScaleTransform.Sample(image, theta).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public override string ToString() => $"random rotate {Degrees.Min():0}°–{Degrees.Max():0}°";
}

/// <summary>Transform stacks.</summary>
public static class ImageTransforms
{
    /// <summary>
    /// Lucid's <c>standard_transforms</c>, in order: pad 12 (0.5), jitter 8, random scale 0.90–1.10, random rotate
    /// −10°…10°, jitter 4. An H × W image leaves as (H + 12) × (W + 12).
    /// </summary>
    public static IReadOnlyList<ImageTransform> Standard() => new ImageTransform[]
    {
        new PadTransform(12, 0.5), new JitterTransform(8), new RandomScaleTransform(), new RandomRotateTransform(), new JitterTransform(4),
    };

    /// <summary>Applies <paramref name="transforms"/> in order.</summary>
    /// <param name="image"><c>[B, C, H, W]</c>.</param>
    /// <param name="transforms">The stack.</param>
    /// <param name="generator">Random source.</param>
    public static Tensor Apply(Tensor image, IReadOnlyList<ImageTransform> transforms, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(transforms);
        using var scope = NewDisposeScope();
        var x = image;
        foreach (var t in transforms) x = t.Apply(x, generator);
        return (ReferenceEquals(x, image) ? x.alias() : x).MoveToOuterDisposeScope();
    }
}
