using Interpretability.FeatureVisualization;
using Interpretability.Nn;
using Interpretability.Tests.Infrastructure;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Interpretability.Tests.FeatureVisualization;

/// <summary>Small hand-built models for the tests.</summary>
internal static class FvModels
{
    /// <summary>A 5×5 oriented kernel (a Gabor-like edge with colour), [1, 3, 5, 5].</summary>
    public static Tensor Kernel()
    {
        var w = new float[3 * 5 * 5];
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 5; y++)
                for (int x = 0; x < 5; x++)
                {
                    double u = (x - 2) * Math.Cos(0.6) + (y - 2) * Math.Sin(0.6);
                    double env = Math.Exp(-((x - 2) * (x - 2) + (y - 2) * (y - 2)) / 6.0);
                    w[c * 25 + y * 5 + x] = (float)(env * Math.Cos(1.3 * u) * (c == 0 ? 1.0 : c == 1 ? -0.5 : 0.3));
                }
        return tensor(w).reshape(1, 3, 5, 5);
    }

    /// <summary>One convolution with the fixed <see cref="Kernel"/> (no bias): channel 0 is a known linear filter.</summary>
    public static Sequential LinearFilter()
    {
        var conv = Conv2d(3, 1, 5, bias: false);
        using (no_grad()) conv.weight!.copy_(Kernel());
        return Sequential(("conv", conv));
    }

    /// <summary>A ShapesNet-shaped stand-in (random weights, same layer names, smaller widths).</summary>
    public static Sequential ShapesLike(long seed = 0)
    {
        var model = Sequential(
            ("conv1", Conv2d(3, 8, 5, padding: 2)), ("relu1", ReLU()), ("pool1", MaxPool2d(2)),
            ("conv2", Conv2d(8, 8, 3, padding: 1)), ("relu2", ReLU()), ("pool2", MaxPool2d(2)),
            ("conv3", Conv2d(8, 8, 3, padding: 1)), ("relu3", ReLU()), ("gap", AdaptiveAvgPool2d(1)), ("flatten", Flatten()), ("fc", Linear(8, 4)));
        Interpretability.Nn.SeededInit.Apply(model, seed);
        model.eval();
        return model;
    }
}

internal sealed class SyncProgress<T>(Action<T> action) : IProgress<T>
{
    public void Report(T value) => action(value);
}

public class ParameterizationTests
{
    [Theory]
    [InlineData(16, 20, true)]
    [InlineData(15, 17, false)]
    [InlineData(32, 32, true)]
    public void Fourier_round_trips_image_to_spectrum_to_image(int h, int w, bool decorrelate)
    {
        using var gen = new Generator(3);
        var image = rand(new long[] { 2, 3, h, w }, generator: gen) * 0.9f + 0.05f;
        using var p = FourierImage.FromImage(image, decorrelate);
        Assert.Equal(new long[] { 2, 3, h, w / 2 + 1, 2 }, p.Spectrum.shape);
        var back = p.Image();
        Assert.True(back.allclose(image, rtol: 0, atol: 1e-4), $"max error {(back - image).abs().max().ToDouble()}");
    }

    [Fact]
    public void Pixel_round_trips()
    {
        using var gen = new Generator(4);
        var image = rand(new long[] { 1, 3, 8, 9 }, generator: gen) * 0.9f + 0.05f;
        using var p = PixelImage.FromImage(image);
        Assert.True(p.Image().allclose(image, rtol: 0, atol: 1e-4));
    }

    [Fact]
    public void Fourier_scale_is_one_over_f_with_the_dc_clamped()
    {
        int h = 8, w = 12;
        var s = FourierImage.Scale(h, w);
        Assert.Equal(new long[] { h, w / 2 + 1 }, s.shape);
        double root = Math.Sqrt(h * w);
        Assert.Equal(root * Math.Max(h, w), s[0, 0].ToDouble(), 3);                 // DC: 1 / (1 / max(h, w))
        double f = Math.Sqrt(Math.Pow(1.0 / h, 2) + Math.Pow(2.0 / w, 2));          // row 1 (fy = 1/8), column 2 (fx = 2/12)
        Assert.Equal(root / f, s[1, 2].ToDouble(), 3);
        double fneg = Math.Sqrt(Math.Pow(-3.0 / h, 2) + Math.Pow(1.0 / w, 2));      // row 5 is fy = −3/8
        Assert.Equal(root / fneg, s[5, 1].ToDouble(), 3);
    }

    [Fact]
    public void Colour_matrix_has_max_column_norm_one_and_inverts()
    {
        var c = ColorDecorrelation.Normalized();
        var norms = c.pow(2).sum(dim: 0).sqrt();
        Assert.Equal(1.0, norms.max().ToDouble(), 5);
        var x = randn(2, 3, 4, 4);
        Assert.True(ColorDecorrelation.FromRgb(ColorDecorrelation.ToRgb(x)).allclose(x, rtol: 0, atol: 1e-4));
    }

    [Theory]
    [InlineData(ParameterizationKind.Fourier)]
    [InlineData(ParameterizationKind.Pixel)]
    [InlineData(ParameterizationKind.Cppn)]
    public void Every_parameterisation_gives_a_batch_in_the_unit_interval_with_gradients(ParameterizationKind kind)
    {
        using var p = FeatureVisualizer.CreateParameterization(new FeatureVisualizationOptions(Height: 12, Width: 10, Batch: 3, Parameterization: kind, Seed: 1));
        var img = p.Image();
        Assert.Equal(new long[] { 3, 3, 12, 10 }, img.shape);
        Assert.True(img.min().ToDouble() >= 0 && img.max().ToDouble() <= 1);
        img.mean().backward();
        Assert.All(p.Parameters, q => Assert.True(q.grad is not null && q.grad.abs().sum().ToDouble() > 0));
    }

    [Fact]
    public void Cppn_images_of_a_batch_differ_and_are_smooth()
    {
        using var p = new CppnImage(2, 32, 32, seed: 5);
        using var _ = no_grad();
        var img = p.Image();
        Assert.True((img[0] - img[1]).abs().mean().ToDouble() > 1e-3);
        // neighbouring pixels differ much less than random pixels do
        var dx = (img.narrow(3, 1, 31) - img.narrow(3, 0, 31)).abs().mean().ToDouble();
        var spread = (img - img.mean()).abs().mean().ToDouble();
        Assert.True(dx < 0.5 * spread, $"dx {dx} vs spread {spread}");
    }

    [Fact]
    public void Bad_sizes_throw_naming_the_parameter()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new FourierImage(0, 8, 8));
        Assert.Equal("batch", e.ParamName);
        var e2 = Assert.Throws<ArgumentException>(() => FourierImage.FromImage(zeros(1, 1, 8, 8)));
        Assert.Contains("[B, 3, H, W]", e2.Message);
    }
}

public class TransformTests
{
    public static TheoryData<string> Names => new() { "pad", "jitter", "scale", "rotate", "standard" };

    private static IReadOnlyList<ImageTransform> Make(string name) => name switch
    {
        "pad" => new[] { new PadTransform(3) },
        "jitter" => new[] { new JitterTransform(4) },
        "scale" => new[] { new RandomScaleTransform() },
        "rotate" => new[] { new RandomRotateTransform() },
        _ => ImageTransforms.Standard(),
    };

    [Theory]
    [MemberData(nameof(Names))]
    public void Transforms_keep_batch_and_channels_give_the_documented_size_and_are_differentiable(string name)
    {
        var stack = Make(name);
        var x = rand(4, 3, 40, 36).requires_grad_();
        using var gen = new Generator(1);
        var y = ImageTransforms.Apply(x, stack, gen);
        var (h, w) = stack.Aggregate((H: 40, W: 36), (s, t) => t.OutputSize(s.H, s.W));
        Assert.Equal(new long[] { 4, 3, h, w }, y.shape);
        if (name is "scale" or "rotate") Assert.Equal((40, 36), (h, w));
        if (name == "standard") Assert.Equal((52, 48), (h, w));
        y.pow(2).sum().backward();
        Assert.True(x.grad!.abs().sum().ToDouble() > 0);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Transforms_are_seeded(string name)
    {
        var stack = Make(name);
        using var g0 = new Generator(0);
        var x = rand(new long[] { 4, 3, 40, 36 }, generator: g0);
        Tensor Run(ulong seed) { using var g = new Generator(seed); return ImageTransforms.Apply(x, stack, g); }
        Assert.True(Run(7).equal(Run(7)).all().item<bool>());
        if (name == "pad") return;                                   // deterministic by design
        // Different seeds: some of 5 differ (a single draw can coincide, e.g. two zero angles)
        Assert.Contains(new ulong[] { 8, 9, 10, 11, 12 }, s => !Run(s).allclose(Run(7)));
    }

    [Fact]
    public void Zero_rotation_and_unit_scale_are_the_identity()
    {
        var x = rand(2, 3, 9, 11);
        using var g = new Generator(0);
        Assert.True(new RandomRotateTransform(new[] { 0.0 }).Apply(x, g).allclose(x, rtol: 0, atol: 1e-5));
        Assert.True(new RandomScaleTransform(new[] { 1.0 }).Apply(x, g).allclose(x, rtol: 0, atol: 1e-5));
    }

    [Fact]
    public void Rotation_by_ninety_degrees_rotates()
    {
        var x = zeros(1, 1, 5, 5);
        x[0, 0, 0, 2] = 1;                                            // top centre
        using var g = new Generator(0);
        var y = new RandomRotateTransform(new[] { 90.0 }).Apply(x, g);
        var flat = y.flatten().argmax().ToInt64();
        Assert.True(flat is 10 or 14, $"the bright pixel moved to {flat / 5},{flat % 5}");  // left or right centre (convention)
    }

    [Fact]
    public void Lucid_values_are_the_defaults()
    {
        Assert.Equal(11, RandomScaleTransform.LucidScales.Count);
        Assert.Equal(0.9, RandomScaleTransform.LucidScales[0], 12);
        Assert.Equal(1.1, RandomScaleTransform.LucidScales[10], 12);
        Assert.Equal(26, RandomRotateTransform.LucidDegrees.Count);
        Assert.Equal(6, RandomRotateTransform.LucidDegrees.Count(d => d == 0));
        var s = ImageTransforms.Standard();
        Assert.Equal(12, ((PadTransform)s[0]).Pixels);
        Assert.Equal(8, ((JitterTransform)s[1]).Pixels);
        Assert.Equal(4, ((JitterTransform)s[4]).Pixels);
    }

    [Fact]
    public void Jitter_larger_than_the_image_throws()
    {
        using var g = new Generator(0);
        Assert.Throws<ArgumentException>(() => new JitterTransform(8).Apply(zeros(1, 3, 6, 6), g));
    }

    /// <summary>
    /// A smooth test picture: 0.5 plus low-frequency waves (periods ≥ 32 pixels, a phase per image and colour) under a
    /// window that falls smoothly to 0 at the edges, so the picture is 0.5 at its border (as Lucid's padding is) and bilinear
    /// interpolation of it is accurate to a few thousandths.
    /// </summary>
    private static Tensor Smooth(int batch, int h, int w, ulong seed)
    {
        using var g = new Generator(seed);
        var phase = rand(new long[] { batch, 3, 1, 1 }, generator: g) * (float)(2 * Math.PI);
        var y = arange(h, dtype: ScalarType.Float32).reshape(1, 1, h, 1);
        var x = arange(w, dtype: ScalarType.Float32).reshape(1, 1, 1, w);
        var window = ((y + 0.5f) * (float)(Math.PI / h)).sin().pow(2) * ((x + 0.5f) * (float)(Math.PI / w)).sin().pow(2);
        var wave = 0.25f * (x * (float)(2 * Math.PI / 40) + y * (float)(2 * Math.PI / 90) + phase).cos()
                 + 0.2f * (y * (float)(2 * Math.PI / 32) - phase * 2f).cos();
        return (0.5f + window * wave).contiguous();
    }

    /// <summary>A deterministic shift by <paramref name="dx"/> (normalised units): an affine transform whose order matters.</summary>
    private sealed class Shift(double dx) : RandomAffineTransform
    {
        public override double[] DrawMatrices(long batch, Generator generator)
        {
            var theta = new double[6 * batch];
            for (long i = 0; i < batch; i++) { theta[6 * i] = 1; theta[6 * i + 2] = dx; theta[6 * i + 4] = 1; }
            return theta;
        }
    }

    [Fact]
    public void Fused_scale_and_rotate_are_one_independently_computed_resample_with_the_same_draws()
    {
        var x = Smooth(3, 40, 36, 1);
        var stack = new ImageTransform[] { new RandomScaleTransform(), new RandomRotateTransform() };
        using var g = new Generator(5);
        var fused = ImageTransforms.Apply(x, stack, g);

        // by hand: the same generator draws a scale index per image, then an angle index per image; θ = (1/s)·R(α)
        using var g2 = new Generator(5);
        var si = randint(0, RandomScaleTransform.LucidScales.Count, new long[] { 3 }, generator: g2).data<long>().ToArray();
        var ai = randint(0, RandomRotateTransform.LucidDegrees.Count, new long[] { 3 }, generator: g2).data<long>().ToArray();
        var theta = new float[18];
        for (int i = 0; i < 3; i++)
        {
            double s = RandomScaleTransform.LucidScales[(int)si[i]], a = RandomRotateTransform.LucidDegrees[(int)ai[i]] * Math.PI / 180;
            theta[6 * i] = (float)(Math.Cos(a) / s); theta[6 * i + 1] = (float)(-Math.Sin(a) / s);
            theta[6 * i + 3] = (float)(Math.Sin(a) / s); theta[6 * i + 4] = (float)(Math.Cos(a) / s);
        }
        Assert.Contains(ai, a => RandomRotateTransform.LucidDegrees[(int)a] != 0);       // a real rotation is in the test
        var grid = nn.functional.affine_grid(tensor(theta).reshape(3, 2, 3), x.shape, align_corners: false);
        var expected = nn.functional.grid_sample(x, grid, GridSampleMode.Bilinear, GridSamplePaddingMode.Border, align_corners: false);
        Assert.Equal(x.shape, fused.shape);
        Assert.True(fused.allclose(expected, rtol: 0, atol: 1e-5), $"max error {(fused - expected).abs().max().ToDouble()}");
        // and the generator is left where the two separate draws leave it
        Assert.Equal(randint(0, 1000, new long[] { 4 }, generator: g2).data<long>().ToArray(), randint(0, 1000, new long[] { 4 }, generator: g).data<long>().ToArray());
    }

    [Fact]
    public void Composition_applies_the_first_transform_first()
    {
        using var g = new Generator(0);
        var shift = new Shift(0.3).DrawMatrices(1, g);
        var quarter = new RandomRotateTransform(new[] { 90.0 }).DrawMatrices(1, g);
        // output position (1, 0): the rotation (second) maps it to (0, 1) in the shift's output, the shift to (0.3, 1)
        var t = RandomAffineTransform.Compose(shift, quarter);
        Assert.Equal(0.3, t[0] * 1 + t[1] * 0 + t[2], 12);
        Assert.Equal(1.0, t[3] * 1 + t[4] * 0 + t[5], 12);
        var reverse = RandomAffineTransform.Compose(quarter, shift);                 // rotate first: (1.3, 0) → (0, 1.3)
        Assert.Equal(0.0, reverse[0] + reverse[2], 12);
        Assert.Equal(1.3, reverse[3] + reverse[5], 12);
    }

    public static TheoryData<string> FusedStacks => new() { "shift-rotate-scale", "standard" };

    [Theory]
    [MemberData(nameof(FusedStacks))]
    public void Fused_stack_matches_resampling_after_every_transform_up_to_interpolation(string name)
    {
        IReadOnlyList<ImageTransform> stack = name == "standard"
            ? ImageTransforms.Standard()
            : new ImageTransform[] { new Shift(0.25), new RandomRotateTransform(new[] { -10.0, 7.0, 10.0 }), new RandomScaleTransform() };
        var x = Smooth(4, 48, 44, 2);
        Tensor Run(ulong seed, bool fuse) { using var g = new Generator(seed); return ImageTransforms.Apply(x, stack, g, fuseAffine: fuse); }
        var fused = Run(3, true);
        var separate = Run(3, false);
        Assert.Equal(separate.shape, fused.shape);
        // Separate resamples clamp at the border of every intermediate picture, the fused one only at the input's. With
        // Lucid's padding both borders are the constant 0.5, so the whole picture compares; a bare shift pulls picture
        // content to the intermediate's edge, so there only the centre (12 pixels in: beyond the shift of 5.5 pixels plus
        // what a 10° rotation and 10% zoom move) compares.
        Tensor Centre(Tensor t) => name == "standard" ? t : t.narrow(2, 12, t.shape[2] - 24).narrow(3, 12, t.shape[3] - 24);
        double difference = (Centre(fused) - Centre(separate)).abs().max().ToDouble();
        // two bilinear interpolations of waves with periods ≥ 32 pixels differ from one by a few thousandths; the same
        // stack with other random draws (another seed: other angles, scales, jitter offsets) moves pixels by far more
        Assert.True(difference < 0.01, $"fused vs separate: max difference {difference}");
        double other = (Centre(Run(4, false)) - Centre(separate)).abs().max().ToDouble();
        Assert.True(other > 5 * difference && other > 0.05, $"another seed differs by only {other} (fused vs separate {difference})");
        // a fused run is seeded
        Assert.True(Run(3, true).equal(fused).all().item<bool>());
    }

    [Fact]
    public void Resample_checks_the_number_of_matrices()
    {
        var e = Assert.Throws<ArgumentException>(() => RandomAffineTransform.Resample(zeros(2, 3, 8, 8), new double[6]));
        Assert.Equal("theta", e.ParamName);
    }
}

public class ObjectiveTests
{
    private static ObjectiveInputs Inputs(long seed = 0)
    {
        using var g = new Generator((ulong)seed);
        var acts = new Dictionary<string, Tensor>
        {
            ["a"] = randn(new long[] { 3, 4, 5, 6 }, generator: g),
            ["b"] = randn(new long[] { 3, 2, 3, 3 }, generator: g),
        };
        return new ObjectiveInputs(l => acts[l], rand(new long[] { 3, 3, 8, 8 }, generator: g));
    }

    [Fact]
    public void Channel_per_image_equals_the_sum_of_channel_objectives_in_value_and_gradient()
    {
        using var g = new Generator(11);
        var a = randn(new long[] { 3, 4, 5, 6 }, generator: g).requires_grad_();
        var inputs = new ObjectiveInputs(_ => a, zeros(3, 3, 8, 8));
        var channels = new[] { 2, 0, 2 };
        var fast = Objective.ChannelPerImage("a", channels).Evaluate(inputs);
        var gradFast = autograd.grad(new[] { fast }, new[] { a })[0];
        var slow = Enumerable.Range(0, 3).Select(i => Objective.Channel("a", channels[i], batch: i)).Aggregate((x, y) => x + y).Evaluate(inputs);
        var gradSlow = autograd.grad(new[] { slow }, new[] { a })[0];
        Assert.Equal(slow.ToDouble(), fast.ToDouble(), 5);
        Assert.True(allclose(gradSlow, gradFast, 1e-6, 1e-7));
        Assert.Equal("channels", Assert.Throws<ArgumentException>(() => Objective.ChannelPerImage("a", new[] { 1, 2 }).Evaluate(inputs)).ParamName);
        Assert.Equal("channels", Assert.Throws<ArgumentOutOfRangeException>(() => Objective.ChannelPerImage("a", new[] { 1, 4, 0 }).Evaluate(inputs)).ParamName);
    }

    [Fact]
    public void Algebra_evaluates_as_the_sums()
    {
        var i = Inputs();
        var a = Objective.Channel("a", 1);
        var b = Objective.Neuron("b", 0, x: 1, y: 2);
        double va = a.Evaluate(i).ToDouble(), vb = b.Evaluate(i).ToDouble();
        Assert.Equal(va + vb, (a + b).Evaluate(i).ToDouble(), 5);
        Assert.Equal(va - vb, (a - b).Evaluate(i).ToDouble(), 5);
        Assert.Equal(2 * va, (2 * a).Evaluate(i).ToDouble(), 5);
        Assert.Equal(2 * va, (a * 2).Evaluate(i).ToDouble(), 5);
        Assert.Equal(-va, (-a).Evaluate(i).ToDouble(), 5);
        Assert.Equal(-va, Objective.Minimize(a).Evaluate(i).ToDouble(), 5);
        Assert.Equal(3 * va - 0.5 * vb, (3 * a - 0.5 * b).Evaluate(i).ToDouble(), 5);
        Assert.Equal(new[] { "a", "b" }, (a + b).Layers.OrderBy(x => x));
        Assert.Contains("channel(a, 1)", (a + b).Description);
    }

    [Fact]
    public void Objectives_compute_what_they_say()
    {
        var i = Inputs(1);
        var act = i.Activation("a");
        Assert.Equal(act.select(1, 1).mean().ToDouble(), Objective.Channel("a", 1).Evaluate(i).ToDouble(), 5);
        Assert.Equal(act[2, 1].mean().ToDouble(), Objective.Channel("a", 1, batch: 2).Evaluate(i).ToDouble(), 5);
        Assert.Equal(act.select(1, 3).select(1, 2).select(1, 3).mean().ToDouble(), Objective.Neuron("a", 3).Evaluate(i).ToDouble(), 5); // centre (5/2, 6/2)
        var v = new float[] { 1, -2, 0.5f, 0 };
        var expected = (act * tensor(v).reshape(1, 4, 1, 1)).sum(dim: 1).mean().ToDouble();
        Assert.Equal(expected, Objective.Direction("a", v).Evaluate(i).ToDouble(), 5);
        var x = i.Input;
        Assert.Equal((x - 0.5).abs().mean().ToDouble(), Objective.L1(0.5).Evaluate(i).ToDouble(), 5);
        Assert.Equal((x - 0.5).pow(2).mean().ToDouble(), Objective.L2(0.5).Evaluate(i).ToDouble(), 5);
        var tv = (x.narrow(2, 1, 7) - x.narrow(2, 0, 7)).abs().sum() + (x.narrow(3, 1, 7) - x.narrow(3, 0, 7)).abs().sum();
        Assert.Equal(tv.ToDouble() / x.numel(), Objective.TotalVariation().Evaluate(i).ToDouble(), 5);
        Assert.Equal(0.0, Objective.TotalVariation().Evaluate(new ObjectiveInputs(_ => x, ones(1, 3, 5, 5))).ToDouble(), 6);
        Assert.Equal(0.0, Objective.Blur().Evaluate(new ObjectiveInputs(_ => x, ones(1, 3, 5, 5))).ToDouble(), 6);
        Assert.True(Objective.Blur().Evaluate(i).ToDouble() > 0);
    }

    [Fact]
    public void Diversity_is_minus_b_minus_one_for_identical_images_and_higher_for_different_ones()
    {
        var same = randn(1, 4, 5, 5).expand(3, -1, -1, -1).contiguous();
        var d = Objective.Diversity("a").Evaluate(new ObjectiveInputs(_ => same, same)).ToDouble();
        Assert.Equal(-2.0, d, 4);
        var different = randn(3, 4, 5, 5);
        var d2 = Objective.Diversity("a").Evaluate(new ObjectiveInputs(_ => different, different)).ToDouble();
        Assert.True(d2 > d);
        Assert.Equal(0.0, Objective.Diversity("a").Evaluate(new ObjectiveInputs(_ => different.narrow(0, 0, 1), different)).ToDouble(), 6);
    }

    [Fact]
    public void Bad_channels_throw_naming_the_parameter()
    {
        var i = Inputs();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Objective.Channel("a", 4).Evaluate(i));
        Assert.Equal("channel", e.ParamName);
        Assert.Throws<ArgumentException>(() => Objective.Direction("a", new float[3]).Evaluate(i));
    }
}

public class VisualizerTests
{
    private static double Cosine(Tensor a, Tensor b) =>
        (a.flatten() * b.flatten()).sum().ToDouble() / (a.norm().ToDouble() * b.norm().ToDouble());

    [Theory]
    [InlineData(ParameterizationKind.Pixel)]
    [InlineData(ParameterizationKind.Fourier)]
    public void The_optimised_image_of_a_linear_filter_is_the_filter(ParameterizationKind kind)
    {
        // neuron = <w, patch>; with an L2 pull towards grey the maximiser is patch = 0.5 + w / (2λ) (inside the sigmoid's range)
        using var model = FvModels.LinearFilter();
        var viz = new FeatureVisualizer(model);
        var objective = Objective.Neuron("conv", 0) - 2.0 * 243 * Objective.L2(0.5);   // 2 per element of the 3×9×9 image
        using var r = viz.Visualize(objective, new FeatureVisualizationOptions(Steps: kind == ParameterizationKind.Pixel ? 300 : 400, Height: 9, Width: 9,
            Parameterization: kind, Transforms: Array.Empty<ImageTransform>(), Seed: 1));
        var patch = r.Images[0].narrow(1, 2, 5).narrow(2, 2, 5) - 0.5f;      // centre output (2, 2) sees rows/cols 2..6
        var cos = Cosine(patch, FvModels.Kernel()[0]);
        Assert.True(cos >= 0.9, $"cosine {cos:0.000}");
        Assert.True(r.Trace[^1] > r.Trace[0]);
    }

    [Theory]
    [InlineData(ParameterizationKind.Fourier)]
    [InlineData(ParameterizationKind.Pixel)]
    [InlineData(ParameterizationKind.Cppn)]
    public void Same_seed_gives_the_same_image_and_another_seed_another(ParameterizationKind kind)
    {
        using var model = FvModels.ShapesLike();
        var viz = new FeatureVisualizer(model);
        FeatureVisualizationResult Run(long seed) => viz.Visualize(Objective.Channel("relu2", 1),
            new FeatureVisualizationOptions(Steps: 5, Height: 24, Width: 24, Batch: 2, Parameterization: kind, Seed: seed));
        using var a = Run(3);
        using var b = Run(3);
        using var c = Run(4);
        Assert.True(a.Images.equal(b.Images).all().item<bool>());
        Assert.Equal(a.Trace, b.Trace);
        Assert.False(a.Images.allclose(c.Images));
    }

    [Fact]
    public void A_channel_objective_rises_and_thresholds_keep_snapshots()
    {
        using var model = FvModels.ShapesLike();
        var viz = new FeatureVisualizer(model);
        var steps = new List<int>();
        using var r = viz.Visualize(Objective.Channel("conv3", 2), new FeatureVisualizationOptions(Steps: 40, Height: 32, Width: 32, Thresholds: new[] { 10, 40 }),
            new SyncProgress<FeatureVisualizationProgress>(p => steps.Add(p.Step)));
        Assert.Equal(Enumerable.Range(1, 40), steps);
        Assert.Equal(40, r.Trace.Count);
        Assert.True(r.Trace.Skip(30).Average() > r.Trace.Take(3).Average() + 0.1 * Math.Abs(r.Trace.Take(3).Average()), string.Join(" ", r.Trace.Select(t => t.ToString("0.0000"))));
        Assert.Equal(new[] { 10, 40 }, r.Snapshots.Select(s => s.Step));
        Assert.True(r.Snapshots[1].Images.allclose(r.Images));
        Assert.Equal(new long[] { 1, 3, 32, 32 }, r.Images.shape);
        foreach (var p in model.parameters()) Assert.Null(p.grad);                       // the model gets no gradients
    }

    [Fact]
    public void Cancellation_stops_the_loop()
    {
        using var model = FvModels.ShapesLike();
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.Throws<OperationCanceledException>(() =>
            new FeatureVisualizer(model).Visualize(Objective.Channel("relu2", 0), new FeatureVisualizationOptions(Steps: 5, Height: 16, Width: 16), cancellation: cts.Token));
    }

    [Fact]
    public void Unknown_layer_names_the_layers_that_exist()
    {
        using var model = FvModels.ShapesLike();
        var e = Assert.Throws<ArgumentException>(() => new FeatureVisualizer(model).Visualize(Objective.Channel("conv9", 0), new FeatureVisualizationOptions(Steps: 1, Height: 16, Width: 16)));
        Assert.Contains("conv3", e.Message);
    }

    [Fact]
    public void Filters_render_as_pictures_with_grey_zero()
    {
        var w = zeros(2, 3, 3, 3);
        w[0, 0, 1, 1] = 2;
        w[1, 2, 0, 0] = -1;
        var img = FilterVisualization.Render(w);
        Assert.Equal(new long[] { 2, 3, 3, 3 }, img.shape);
        Assert.Equal(1.0, img[0, 0, 1, 1].ToDouble(), 6);
        Assert.Equal(0.5, img[0, 1, 1, 1].ToDouble(), 6);
        Assert.Equal(0.0, img[1, 2, 0, 0].ToDouble(), 6);
    }

    [Fact]
    public void Dataset_examples_rank_by_the_channels_peak()
    {
        // a 1×1 convolution summing the colours: the brightest images rank first
        var conv = Conv2d(3, 2, 1, bias: false);
        using (no_grad()) conv.weight!.copy_(tensor(new float[] { 1, 1, 1, -1, -1, -1 }).reshape(2, 3, 1, 1));
        using var model = Sequential(("conv", conv));
        var brightness = tensor(new float[] { 0.2f, 0.9f, 0.5f, 0.1f, 0.7f });
        var images = brightness.reshape(5, 1, 1, 1).expand(5, 3, 4, 4).contiguous();
        using var scan = Interpretability.Probing.DatasetScan.Run(model, "conv", images, batchSize: 2);
        using var set = scan.Top(k: 2);
        Assert.Equal(new long[] { 1, 4 }, set.Indices[0].data<long>().ToArray());
        Assert.Equal(new long[] { 3, 0 }, set.Indices[1].data<long>().ToArray());
        Assert.Equal(3 * brightness.mean().ToDouble(), scan.MeanActivation[0].ToDouble(), 5);
        var montage = DatasetExamples.Montage(set, 0, images);
        Assert.Equal(new long[] { 3, 4, 9 }, montage.shape);
    }
}

[Collection(RunsAloneCollection.Name)]
public class FeatureVisualizationMemoryTests
{
    [Fact]
    public void Two_hundred_steps_do_not_grow_native_memory()
    {
        // As MemoryProbe.Measure: the bytes in use after 50, 150 and 250 steps; a leak grows both halves alike, a one-time
        // step (the JIT promoting a method, a cache reaching its size) only one, so the smaller growth is the measure.
        using var model = FvModels.ShapesLike();
        var viz = new FeatureVisualizer(model);
        var bytes = new Dictionary<int, long>();
        var tensors = new Dictionary<int, long>();
        var progress = new SyncProgress<FeatureVisualizationProgress>(p =>
        {
            if (p.Step is 50 or 150 or 250) { bytes[p.Step] = MemoryProbe.NativeBytesInUse(); tensors[p.Step] = torch.Tensor.TotalCount; }
        });
        var objective = Objective.Channel("relu3", 0) + 10 * Objective.Diversity("relu2") - 1e-4 * 24 * 24 * 3 * 2 * Objective.TotalVariation();
        using (var r = viz.Visualize(objective, new FeatureVisualizationOptions(Steps: 250, Height: 24, Width: 24, Batch: 2), progress)) { }
        Assert.Equal(0, tensors[250] - tensors[50]);
        var growth = Math.Min(bytes[150] - bytes[50], bytes[250] - bytes[150]);
        Assert.True(growth < MemoryProbe.LeakThresholdBytes, $"native memory in use grew by {growth / 1024} KiB per 100 steps ({(bytes[150] - bytes[50]) / 1024} and {(bytes[250] - bytes[150]) / 1024} KiB).");
    }
}

public class RedirectedReluTests
{
    [Fact]
    public void Forward_is_relu_and_dead_images_get_the_upward_gradient()
    {
        // image 0 has a positive input (ordinary ReLU gradient); image 1 is all negative (dead): redirected
        var x = tensor(new float[] { 1, -2, -1, -3 }).reshape(2, 2).requires_grad_();
        var y = RedirectedReluScope.Apply(x);
        Assert.Equal(new float[] { 1, 0, 0, 0 }, y.data<float>().ToArray());
        // grad_output: −1 means "raise this unit" (loss = −objective), +1 means "lower it"
        y.backward(new[] { tensor(new float[] { -1, -1, -1, 1 }).reshape(2, 2) });
        Assert.Equal(new float[] { -1, 0, -1, 0 }, x.grad!.data<float>().ToArray());
    }

    [Fact]
    public void A_dead_channel_comes_alive_only_with_redirection()
    {
        // conv with a strongly negative bias: relu output is 0 everywhere for any picture in [0, 1] at the start
        var conv = Conv2d(3, 1, 3, padding: 1);
        using (no_grad()) { conv.weight!.fill_(0.2f); conv.bias!.fill_(-3.5f); }
        using var model = Sequential(("conv", conv), ("relu", ReLU()));
        var viz = new FeatureVisualizer(model);
        var o = new FeatureVisualizationOptions(Steps: 60, Height: 12, Width: 12, Transforms: Array.Empty<ImageTransform>());
        using var plain = viz.Visualize(Objective.Channel("relu", 0), o with { RedirectRelu = false });
        using var redirected = viz.Visualize(Objective.Channel("relu", 0), o);
        Assert.Equal(0.0, plain.Trace[^1], 6);
        Assert.True(redirected.Trace[^1] > 0.1, $"{redirected.Trace[^1]}");
    }
}

public class FeatureVisualizationBenchmarkTests
{
    [Fact]
    public void The_step_benchmark_runs_on_shapesnet_too()
    {
        // the smoke test covers the first [Params] value (resnet18); this covers the other
        var bench = new Interpretability.Benchmarks.FeatureVisualizationStepBenchmarks { Model = "shapesnet" };
        bench.UseTinySizes();
        bench.Setup();
        try
        {
            Assert.True(double.IsFinite(bench.RawForwardBackward()));
            Assert.True(double.IsFinite(bench.RawForwardBackwardAtTransformedSize()));
            Assert.True(double.IsFinite(bench.FeatureVisualizationStep()));
            Assert.Equal((32 + 12, 32 + 12), bench.TransformedSize);                 // tiny size 32; pad 12, jitter 8 and 4
        }
        finally
        {
            bench.Cleanup();
        }
    }
}
