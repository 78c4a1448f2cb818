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
    /// <returns><c>[B]</c> float32 on <paramref name="device"/>.</returns>
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
/// A random affine resample: each image is sampled through a 2 × 3 matrix θ that maps an output position to the input
/// position it reads, in <c>affine_grid</c>'s normalised coordinates (x, y ∈ [−1, 1], <c>align_corners = false</c>),
/// with bilinear <c>grid_sample</c> and border padding, so the size is kept and gradients flow to the image.
/// <see cref="ImageTransforms.Apply"/> composes consecutive affine transforms into one matrix and resamples once (one
/// interpolation instead of several); each one applied alone resamples by itself.
/// </summary>
public abstract class RandomAffineTransform : ImageTransform
{
    /// <summary>
    /// Draws this transform's random parameters for a batch from <paramref name="generator"/> (the same draws, in the
    /// same order, whether the transform is applied alone or composed) and returns the matrices.
    /// </summary>
    /// <param name="batch">Images in the batch (B).</param>
    /// <param name="generator">Random source of this step.</param>
    /// <returns><c>[B, 2, 3]</c> row-major as <c>6·B</c> doubles: for image b, θ<sub>b</sub> = (a, b, c; d, e, f) maps the
    /// output position (x, y) to the input position (a·x + b·y + c, d·x + e·y + f).</returns>
    public abstract double[] DrawMatrices(long batch, Generator generator);

    /// <inheritdoc />
    public sealed override Tensor Apply(Tensor image, Generator generator)
    {
        CheckImage(image);
        return Resample(image, DrawMatrices(image.shape[0], generator));
    }

    /// <summary>
    /// Samples <paramref name="image"/> through the matrices <paramref name="theta"/> (bilinear, border padding, size kept).
    /// </summary>
    /// <param name="image"><c>[B, C, H, W]</c> float.</param>
    /// <param name="theta"><c>[B, 2, 3]</c> row-major, as <see cref="DrawMatrices"/> gives.</param>
    /// <returns><c>[B, C, H, W]</c>, differentiable with respect to <paramref name="image"/>.</returns>
    public static Tensor Resample(Tensor image, double[] theta)
    {
        CheckImage(image);
        ArgumentNullException.ThrowIfNull(theta);
        long b = image.shape[0];
        if (theta.LongLength != 6 * b)
            throw new ArgumentException($"theta must hold [B, 2, 3] = {6 * b} values for a batch of {b}; got {theta.Length}.", nameof(theta));
        using var scope = NewDisposeScope();
        var values = Array.ConvertAll(theta, v => (float)v);
        var matrices = tensor(values, new long[] { b, 2, 3 }, dtype: image.dtype, device: image.device);
        var grid = F.affine_grid(matrices, image.shape, align_corners: false);
        return F.grid_sample(image, grid, GridSampleMode.Bilinear, GridSamplePaddingMode.Border, align_corners: false).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The matrices of applying <paramref name="first"/> and then <paramref name="second"/> as one resample: per image
    /// θ = θ<sub>first</sub> · θ<sub>second</sub> (in homogeneous coordinates), since an output position of the second is
    /// mapped by θ<sub>second</sub> into the first's output and from there by θ<sub>first</sub> into the input.
    /// </summary>
    /// <param name="first"><c>[B, 2, 3]</c> row-major: the transform applied first.</param>
    /// <param name="second"><c>[B, 2, 3]</c> row-major: the transform applied after it.</param>
    /// <returns><c>[B, 2, 3]</c> row-major.</returns>
    public static double[] Compose(double[] first, double[] second)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        if (first.Length != second.Length || first.Length % 6 != 0)
            throw new ArgumentException($"Both must be [B, 2, 3] of the same batch; got {first.Length} and {second.Length} values.", nameof(second));
        var result = new double[first.Length];
        for (int o = 0; o < first.Length; o += 6)
            for (int r = 0; r < 2; r++)
            {
                double a0 = first[o + 3 * r], a1 = first[o + 3 * r + 1], a2 = first[o + 3 * r + 2];
                result[o + 3 * r] = a0 * second[o] + a1 * second[o + 3];
                result[o + 3 * r + 1] = a0 * second[o + 1] + a1 * second[o + 4];
                result[o + 3 * r + 2] = a0 * second[o + 2] + a1 * second[o + 5] + a2;
            }
        return result;
    }

    /// <summary>One uniform draw per image of an index into a list of <paramref name="count"/> choices (the generator is
    /// advanced exactly as by <c>randint(0, count, [batch])</c>).</summary>
    protected static long[] DrawIndices(int count, long batch, Generator generator)
    {
        using var scope = NewDisposeScope();
        return randint(0, count, new long[] { batch }, generator: generator).data<long>().ToArray();
    }
}

/// <summary>
/// Random zoom by a factor drawn per image from <see cref="Scales"/> (Lucid: 0.90, 0.92, …, 1.10), about the image
/// centre, as a <see cref="RandomAffineTransform"/> (bilinear, border padding, size kept).
/// </summary>
public sealed class RandomScaleTransform : RandomAffineTransform
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
    /// <remarks>Per image one factor s from <see cref="Scales"/>; θ = (1/s, 0, 0; 0, 1/s, 0).</remarks>
    public override double[] DrawMatrices(long batch, Generator generator)
    {
        var index = DrawIndices(Scales.Count, batch, generator);
        var theta = new double[6 * batch];
        for (long i = 0; i < batch; i++)
        {
            double inv = 1 / Scales[(int)index[i]];
            theta[6 * i] = inv;
            theta[6 * i + 4] = inv;
        }
        return theta;
    }

    /// <inheritdoc />
    public override string ToString() => $"random scale {Scales.Min():0.00}–{Scales.Max():0.00}";
}

/// <summary>
/// Random rotation about the image centre by an angle in degrees drawn per image from <see cref="Degrees"/> (Lucid:
/// −10 … 10 plus five extra zeros), as a <see cref="RandomAffineTransform"/> (bilinear, border padding, size kept).
/// </summary>
public sealed class RandomRotateTransform : RandomAffineTransform
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
    /// <remarks>Per image one angle α from <see cref="Degrees"/>; θ = (cos α, −sin α, 0; sin α, cos α, 0).</remarks>
    public override double[] DrawMatrices(long batch, Generator generator)
    {
        var index = DrawIndices(Degrees.Count, batch, generator);
        var theta = new double[6 * batch];
        for (long i = 0; i < batch; i++)
        {
            double a = Degrees[(int)index[i]] * Math.PI / 180;
            double c = Math.Cos(a), s = Math.Sin(a);
            theta[6 * i] = c;
            theta[6 * i + 1] = -s;
            theta[6 * i + 3] = s;
            theta[6 * i + 4] = c;
        }
        return theta;
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

    /// <summary>
    /// Applies <paramref name="transforms"/> in order. A run of consecutive <see cref="RandomAffineTransform"/>s (as the
    /// scale and rotation of <see cref="Standard"/>) is done as one resample through the product of their matrices, with
    /// every random value drawn from <paramref name="generator"/> in the same order as applying them one after another:
    /// one bilinear interpolation instead of one per transform (faster, and slightly sharper; the border is clamped once,
    /// in the input, instead of after every resample).
    /// </summary>
    /// <param name="image"><c>[B, C, H, W]</c>.</param>
    /// <param name="transforms">The stack.</param>
    /// <param name="generator">Random source.</param>
    /// <param name="fuseAffine">Compose consecutive affine transforms (default); false resamples after each one.</param>
    /// <returns><c>[B, C, H', W']</c> with the size the transforms' <see cref="ImageTransform.OutputSize"/> give.</returns>
    public static Tensor Apply(Tensor image, IReadOnlyList<ImageTransform> transforms, Generator generator, bool fuseAffine = true)
    {
        ArgumentNullException.ThrowIfNull(transforms);
        using var scope = NewDisposeScope();
        var x = image;
        for (int i = 0; i < transforms.Count; i++)
        {
            if (fuseAffine && transforms[i] is RandomAffineTransform affine)
            {
                ArgumentNullException.ThrowIfNull(x, nameof(image));
                if (x.dim() != 4) throw new ArgumentException($"image must be [B, C, H, W]; got [{string.Join(", ", x.shape)}].", nameof(image));
                long batch = x.shape[0];
                var theta = affine.DrawMatrices(batch, generator);
                while (i + 1 < transforms.Count && transforms[i + 1] is RandomAffineTransform next)
                {
                    theta = RandomAffineTransform.Compose(theta, next.DrawMatrices(batch, generator));
                    i++;
                }
                x = RandomAffineTransform.Resample(x, theta);
            }
            else
            {
                x = transforms[i].Apply(x, generator);
            }
        }
        return (ReferenceEquals(x, image) ? x.alias() : x).MoveToOuterDisposeScope();
    }
}
