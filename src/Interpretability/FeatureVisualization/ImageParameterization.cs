using Interpretability.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Interpretability.FeatureVisualization;

/// <summary>
/// A differentiable image made from trainable parameters: what the feature-visualisation optimiser changes.
/// <see cref="Image"/> gives a batch <c>[B, 3, H, W]</c> float32 in [0, 1] that autograd connects to <see cref="Parameters"/>.
/// </summary>
public abstract class ImageParameterization : IDisposable
{
    /// <summary>The range a picture is clamped into before its logit (alive for the process).</summary>
    private protected static readonly Scalar LogitLow = 1e-4.ToScalar(), LogitHigh = (1 - 1e-4).ToScalar();

    private bool disposed;

    /// <summary>Sets the batch and image size.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size below 1.</exception>
    protected ImageParameterization(int batch, int height, int width)
    {
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, "batch must be at least 1.");
        if (height < 2) throw new ArgumentOutOfRangeException(nameof(height), height, "height must be at least 2 pixels.");
        if (width < 2) throw new ArgumentOutOfRangeException(nameof(width), width, "width must be at least 2 pixels.");
        Batch = batch;
        Height = height;
        Width = width;
    }

    /// <summary>Number of images optimised together (B).</summary>
    public int Batch { get; }

    /// <summary>Image height in pixels (H).</summary>
    public int Height { get; }

    /// <summary>Image width in pixels (W).</summary>
    public int Width { get; }

    /// <summary>The trainable tensors (leaves with <c>requires_grad</c>) an optimiser updates.</summary>
    public abstract IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>The images, differentiable with respect to <see cref="Parameters"/>.</summary>
    /// <returns><c>[B, 3, H, W]</c> float32 in [0, 1], on the parameters' device.</returns>
    public abstract Tensor Image();

    /// <summary>Frees the parameters.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees what a derived parameterisation owns.</summary>
    protected virtual void Dispose(bool disposing)
    {
        foreach (var p in Parameters) p.Dispose();
    }

    /// <summary>Checks the shape of an image handed to a <c>FromImage</c> constructor.</summary>
    protected static void CheckImage(Tensor image, string name)
    {
        ArgumentNullException.ThrowIfNull(image, name);
        if (image.dim() != 4 || image.shape[1] != 3)
            throw new ArgumentException($"{name} must be [B, 3, H, W]; got [{string.Join(", ", image.shape)}].", name);
    }
}

/// <summary>
/// Lucid's colour decorrelation: images are parameterised in a decorrelated colour space <c>t</c> and mapped per pixel
/// to RGB by <c>rgb = C t</c>, with <c>C = M / max_col_norm(M)</c> and M Lucid's square root of the ImageNet colour
/// covariance (Olah et al. 2017, "Feature Visualization"; tensorflow/lucid <c>color.py</c>).
/// </summary>
public static class ColorDecorrelation
{
    /// <summary>Lucid's <c>color_correlation_svd_sqrt</c> (rows R, G, B).</summary>
    public static readonly float[,] Matrix = { { 0.26f, 0.09f, 0.02f }, { 0.27f, 0.00f, -0.05f }, { 0.27f, -0.09f, 0.03f } };

    /// <summary>
    /// The normalised matrix C (largest column norm 1), <c>[3, 3]</c> float32 on <paramref name="device"/> (CPU when
    /// null).
    /// </summary>
    public static Tensor Normalized(Device? device = null)
    {
        using var scope = NewDisposeScope();
        var m = tensor(Matrix, dtype: ScalarType.Float32);
        var maxNorm = m.pow(Scalars.IntTwo).sum(dim: 0).sqrt().max();
        return (m / maxNorm).to(device ?? CPU).MoveToOuterDisposeScope();
    }

    /// <summary>Maps decorrelated colours to RGB: <c>rgb[b, :, y, x] = C · t[b, :, y, x]</c>.</summary>
    /// <param name="t"><c>[B, 3, H, W]</c>.</param>
    /// <returns><c>[B, 3, H, W]</c> (not yet squashed into [0, 1]), in the dtype and on the device of
    /// <paramref name="t"/>.</returns>
    public static Tensor ToRgb(Tensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        using var scope = NewDisposeScope();
        return Mix(Normalized(t.device).to(t.dtype), t).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <c>out[b, :, …] = matrix · t[b, :, …]</c> as one batched matrix product (contiguous output, unlike <c>einsum</c>'s
    /// permuted one); the parameterisations call it with their own copy of C, made once.
    /// </summary>
    /// <param name="matrix"><c>[3, 3]</c> of <paramref name="t"/>'s dtype and device.</param>
    /// <param name="t"><c>[B, 3, …]</c>.</param>
    /// <returns>The shape of <paramref name="t"/>.</returns>
    internal static Tensor Mix(Tensor matrix, Tensor t)
    {
        using var scope = NewDisposeScope();
        return matrix.matmul(t.reshape(t.shape[0], t.shape[1], -1)).reshape(t.shape).MoveToOuterDisposeScope();
    }

    /// <summary>The inverse of <see cref="ToRgb"/>: <c>t = C⁻¹ rgb</c>.</summary>
    /// <param name="rgb"><c>[B, 3, H, W]</c>.</param>
    /// <returns><c>[B, 3, H, W]</c>, in the dtype and on the device of <paramref name="rgb"/>.</returns>
    public static Tensor FromRgb(Tensor rgb)
    {
        using var scope = NewDisposeScope();
        var inverse = linalg.inv(Normalized(rgb.device).to(ScalarType.Float64)).to(rgb.dtype);
        return Mix(inverse, rgb).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Raw pixels: one trainable value per pixel and colour, <c>~ N(0, sd²)</c>, optionally in the decorrelated colour space,
/// squashed into [0, 1] by a sigmoid (Lucid's <c>param.image(fft=False)</c>).
/// </summary>
public sealed class PixelImage : ImageParameterization
{
    private readonly Parameter pixels;
    private readonly Tensor? colour;                                    // [3, 3] C on the parameters' device, made once

    /// <summary>Random pixels drawn from <paramref name="generator"/> (or the global RNG).</summary>
    /// <param name="batch">Images optimised together.</param>
    /// <param name="height">Height in pixels.</param>
    /// <param name="width">Width in pixels.</param>
    /// <param name="decorrelate">Parameterise in Lucid's decorrelated colour space.</param>
    /// <param name="sd">Standard deviation of the initial values (Lucid: 0.01).</param>
    /// <param name="generator">Random source; null uses the global one.</param>
    /// <param name="device">Device of the parameters.</param>
    public PixelImage(int batch, int height, int width, bool decorrelate = true, double sd = 0.01, Generator? generator = null, Device? device = null)
        : base(batch, height, width)
    {
        Decorrelate = decorrelate;
        using var scope = NewDisposeScope();
        var init = randn(new long[] { batch, 3, height, width }, generator: generator) * (float)sd;
        pixels = new Parameter(init.to(device ?? CPU).DetachFromDisposeScope());
        colour = decorrelate ? ColorDecorrelation.Normalized(pixels.device).DetachFromDisposeScope() : null;
    }

    private PixelImage(Tensor logits, bool decorrelate) : base((int)logits.shape[0], (int)logits.shape[2], (int)logits.shape[3])
    {
        Decorrelate = decorrelate;
        pixels = new Parameter(logits);
        using var scope = NewDisposeScope();
        colour = decorrelate ? ColorDecorrelation.Normalized(pixels.device).DetachFromDisposeScope() : null;
    }

    /// <summary>A parameterisation whose <see cref="Image"/> is <paramref name="image"/> (values are clamped into (0, 1)).</summary>
    /// <param name="image"><c>[B, 3, H, W]</c> in [0, 1].</param>
    /// <param name="decorrelate">Parameterise in the decorrelated colour space.</param>
    public static PixelImage FromImage(Tensor image, bool decorrelate = true)
    {
        CheckImage(image, nameof(image));
        using var scope = NewDisposeScope();
        var logits = image.to(ScalarType.Float32).clamp(LogitLow, LogitHigh).logit();
        if (decorrelate) logits = ColorDecorrelation.FromRgb(logits);
        return new PixelImage(logits.detach().contiguous().DetachFromDisposeScope(), decorrelate);
    }

    /// <summary>Whether the values live in the decorrelated colour space.</summary>
    public bool Decorrelate { get; }

    /// <summary>The raw values, <c>[B, 3, H, W]</c>.</summary>
    public Parameter Pixels => pixels;

    /// <inheritdoc />
    public override IReadOnlyList<Parameter> Parameters => new[] { pixels };

    /// <inheritdoc />
    public override Tensor Image()
    {
        using var scope = NewDisposeScope();
        var t = colour is null ? (Tensor)pixels : ColorDecorrelation.Mix(colour, pixels);
        return t.sigmoid().MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        colour?.Dispose();
    }
}

/// <summary>
/// Lucid's Fourier parameterisation (<c>param.image(w, fft=True, decorrelate=True)</c>): a spectrum on the <c>rfft2</c>
/// grid, <c>(re, im) ~ N(0, sd²)</c>, scaled by <c>1 / max(f, 1/max(H, W))^decay · √(H·W)</c> (1/f: every frequency band
/// gets the same energy, so low frequencies are not starved), inverted by <c>irfft2</c>, divided by 4, mapped through
/// the colour decorrelation and a sigmoid into [0, 1].
/// </summary>
public sealed class FourierImage : ImageParameterization
{
    private readonly Parameter spectrum;
    private readonly Tensor scale;                                      // [H, W/2 + 1]: Scale(...) / 4 (the ÷ 4 folded in), made once
    private readonly Tensor? colour;                                    // [3, 3] C on the parameters' device, made once

    /// <summary>A random spectrum drawn from <paramref name="generator"/> (or the global RNG).</summary>
    /// <param name="batch">Images optimised together.</param>
    /// <param name="height">Height in pixels.</param>
    /// <param name="width">Width in pixels.</param>
    /// <param name="decorrelate">Map colours through Lucid's decorrelation matrix.</param>
    /// <param name="decayPower">Exponent of the 1/f scaling (Lucid: 1).</param>
    /// <param name="sd">Standard deviation of the initial spectrum (Lucid: 0.01).</param>
    /// <param name="generator">Random source; null uses the global one.</param>
    /// <param name="device">Device of the parameters.</param>
    public FourierImage(int batch, int height, int width, bool decorrelate = true, double decayPower = 1, double sd = 0.01,
        Generator? generator = null, Device? device = null) : base(batch, height, width)
    {
        Decorrelate = decorrelate;
        DecayPower = decayPower;
        using var scope = NewDisposeScope();
        var init = randn(new long[] { batch, 3, height, width / 2 + 1, 2 }, generator: generator) * (float)sd;
        spectrum = new Parameter(init.to(device ?? CPU).DetachFromDisposeScope());
        (scale, colour) = Constants(height, width, decayPower, decorrelate, spectrum.device);
    }

    private FourierImage(Tensor spec, int height, int width, bool decorrelate, double decayPower) : base((int)spec.shape[0], height, width)
    {
        Decorrelate = decorrelate;
        DecayPower = decayPower;
        spectrum = new Parameter(spec);
        (scale, colour) = Constants(height, width, decayPower, decorrelate, spectrum.device);
    }

    /// <summary>The tensors <see cref="Image"/> reuses every step: the 1/f scale with the ÷ 4 folded in, and C.</summary>
    private static (Tensor Scale, Tensor? Colour) Constants(int height, int width, double decayPower, bool decorrelate, Device device)
    {
        using var scope = NewDisposeScope();
        var s = (Scale(height, width, decayPower, device) / 4f).DetachFromDisposeScope();
        var c = decorrelate ? ColorDecorrelation.Normalized(device).DetachFromDisposeScope() : null;
        return (s, c);
    }

    /// <summary>
    /// The spectrum whose image is <paramref name="image"/>: the inverse of every step of <see cref="Image"/> (logit,
    /// inverse colour matrix, ×4, <c>rfft2</c>, ÷ scale). <c>FromImage(x).Image() ≈ x</c> (values clamped into (0, 1)).
    /// </summary>
    /// <param name="image"><c>[B, 3, H, W]</c> in [0, 1].</param>
    /// <param name="decorrelate">Use the colour decorrelation.</param>
    /// <param name="decayPower">Exponent of the 1/f scaling.</param>
    public static FourierImage FromImage(Tensor image, bool decorrelate = true, double decayPower = 1)
    {
        CheckImage(image, nameof(image));
        int h = (int)image.shape[2], w = (int)image.shape[3];
        using var scope = NewDisposeScope();
        var t = image.to(ScalarType.Float32).clamp(LogitLow, LogitHigh).logit();
        if (decorrelate) t = ColorDecorrelation.FromRgb(t);
        var spec = fft.rfft2(t * 4f) / Scale(h, w, decayPower, image.device);
        var real = view_as_real(spec).contiguous().detach();
        return new FourierImage(real.DetachFromDisposeScope(), h, w, decorrelate, decayPower);
    }

    /// <summary>
    /// The per-frequency scale <c>√(H·W) / max(f, 1/max(H, W))^decay</c> with <c>f = √(fx² + fy²)</c> from <c>fftfreq</c>
    /// (rows) and <c>rfftfreq</c> (columns): <c>[H, W/2 + 1]</c> float32.
    /// </summary>
    public static Tensor Scale(int height, int width, double decayPower = 1, Device? device = null)
    {
        using var scope = NewDisposeScope();
        var fy = fft.fftfreq(height).unsqueeze(1);
        var fx = fft.rfftfreq(width).unsqueeze(0);
        var freq = (fy * fy + fx * fx).sqrt().to(ScalarType.Float32);
        using Scalar lowest = (1.0 / Math.Max(height, width)).ToScalar(), exponent = (-decayPower).ToScalar();
        var s = freq.clamp_min(lowest).pow(exponent) * (float)Math.Sqrt((double)width * height);
        return s.to(device ?? CPU).MoveToOuterDisposeScope();
    }

    /// <summary>Whether colours go through the decorrelation matrix.</summary>
    public bool Decorrelate { get; }

    /// <summary>Exponent of the 1/f scaling.</summary>
    public double DecayPower { get; }

    /// <summary>The spectrum, <c>[B, 3, H, W/2 + 1, 2]</c> (real and imaginary parts).</summary>
    public Parameter Spectrum => spectrum;

    /// <inheritdoc />
    public override IReadOnlyList<Parameter> Parameters => new[] { spectrum };

    /// <inheritdoc />
    public override Tensor Image()
    {
        using var scope = NewDisposeScope();
        var complex = view_as_complex(spectrum) * scale;                // scale holds the ÷ 4
        var t = fft.irfft2(complex, s: new long[] { Height, Width });
        if (colour is not null) t = ColorDecorrelation.Mix(colour, t);
        return t.sigmoid().MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        scale.Dispose();
        colour?.Dispose();
    }
}

/// <summary>
/// A compositional pattern-producing network (CPPN; Mordvintsev et al. 2018, "Differentiable Image Parameterizations"):
/// one <see cref="CoordinateNetwork"/> per image maps each pixel's (x, y, r) — x, y in [−√3·s, √3·s], r = √(x² + y²) — to
/// (r, g, b) in (−1, 1), shown as <c>(out + 1) / 2</c>. The network's weights and biases are the parameters, so the
/// image is a smooth function of the coordinates at any resolution.
/// </summary>
public sealed class CppnImage : ImageParameterization
{
    private readonly CoordinateNetwork[] networks;
    private readonly Tensor coordinates;

    /// <summary>The default wiring: inputs x, y, r; eight dense tanh layers of 24 neurons; three outputs.</summary>
    public static SynapseTopology DefaultTopology() => SynapseTopology.Dense(Enumerable.Repeat(24, 8).ToArray(), outputs: 3, inputs: 3);

    /// <summary>
    /// Random networks (seeded <c>seed</c>, <c>seed + 1</c>, … per image): synapses into hidden neurons
    /// <c>~ N(0, (hiddenGain)² / fan_in)</c> — a gain above 1 keeps a deep tanh network's picture from flattening into
    /// one colour — synapses into the outputs <c>~ N(0, (outputGain)² / fan_in)</c>, biases zero. (A near-grey start, as
    /// Lucid's zero-initialised output layer, leaves ShapesNet's ReLU units off and the optimisation drifts to a flat
    /// bright picture; a structured start does not.)
    /// </summary>
    /// <param name="batch">Images optimised together.</param>
    /// <param name="height">Height in pixels.</param>
    /// <param name="width">Width in pixels.</param>
    /// <param name="topology">The wiring; null = <see cref="DefaultTopology"/>. It needs 3 inputs (x, y, r) or 2 (x, y) and 3 outputs.</param>
    /// <param name="seed">Initialisation seed.</param>
    /// <param name="device">Device of the parameters.</param>
    /// <param name="hiddenGain">Scale of the hidden synapses' initial weights.</param>
    /// <param name="outputGain">Scale of the output synapses' initial weights.</param>
    /// <param name="coordinateScale">Coordinates run over <c>[−√3·s, √3·s]</c>: a larger s lets the first tanh layer draw
    /// finer detail (ShapesNet's units like strokes a few pixels wide on 64 × 64 pictures; Lucid uses s = 1 at 224 × 224).</param>
    public CppnImage(int batch, int height, int width, SynapseTopology? topology = null, long seed = 0, Device? device = null,
        double hiddenGain = 2.0, double outputGain = 1.0, double coordinateScale = 4.0)
        : base(batch, height, width)
    {
        topology ??= DefaultTopology();
        if (topology.OutputCount != 3) throw new ArgumentException($"A CPPN image needs 3 outputs (r, g, b); the topology has {topology.OutputCount}.", nameof(topology));
        if (topology.InputCount is not (2 or 3)) throw new ArgumentException($"A CPPN image needs 2 (x, y) or 3 (x, y, r) inputs; the topology has {topology.InputCount}.", nameof(topology));
        networks = Enumerable.Range(0, batch).Select(b => Initial(topology, seed + b, hiddenGain, outputGain, device)).ToArray();
        using var scope = NewDisposeScope();
        var r3 = (float)(Math.Sqrt(3) * coordinateScale);
        var ys = linspace(-r3, r3, height);
        var xs = linspace(-r3, r3, width);
        var grid = meshgrid(new[] { ys, xs }, indexing: "ij");
        var y = grid[0].reshape(-1, 1);
        var x = grid[1].reshape(-1, 1);
        var c = topology.InputCount == 3 ? cat(new[] { x, y, (x * x + y * y).sqrt() }, 1) : cat(new[] { x, y }, 1);
        coordinates = c.to(device ?? CPU).DetachFromDisposeScope();
    }

    private static CoordinateNetwork Initial(SynapseTopology topology, long seed, double hiddenGain, double outputGain, Device? device)
    {
        var random = new Random((int)(seed * 7919 % int.MaxValue));
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        var weights = new double[topology.SynapseCount];
        for (int s = 0; s < weights.Length; s++)
        {
            int target = topology.TargetNeuron(s);
            double gain = topology.IsOutput(target) ? outputGain : hiddenGain;
            weights[s] = Normal() * gain / Math.Sqrt(topology.FanIn(target));
        }
        return new CoordinateNetwork(topology, weights, new double[topology.NeuronCount], device: device);
    }

    /// <summary>The networks, one per image.</summary>
    public IReadOnlyList<CoordinateNetwork> Networks => networks;

    /// <inheritdoc />
    public override IReadOnlyList<Parameter> Parameters => networks.SelectMany(n => new[] { n.Weights, n.Biases }).ToArray();

    private static readonly Scalar Half = 0.5.ToScalar();

    /// <inheritdoc />
    public override Tensor Image()
    {
        using var scope = NewDisposeScope();
        var images = networks.Select(n => n.call(coordinates).t().reshape(3, Height, Width)).ToArray();
        return ((stack(images, 0) + Scalars.One) * Half).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        foreach (var n in networks) n.Dispose();
        coordinates.Dispose();
    }
}
