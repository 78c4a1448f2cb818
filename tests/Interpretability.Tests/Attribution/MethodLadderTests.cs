using Interpretability.Attribution;
using Interpretability.Models;
using Interpretability.Tests.FeatureVisualization;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using static Interpretability.Tests.Attribution.GradientTestNets;

namespace Interpretability.Tests.Attribution;

/// <summary>A ReLU MLP whose nonlinearity runs inside forward (functional), where no hook can reach it.</summary>
internal sealed class FunctionalReluNet : Module<Tensor, Tensor>
{
    private readonly TorchSharp.Modules.Linear fc1, fc2;

    public FunctionalReluNet(int seed = 5) : base(nameof(FunctionalReluNet))
    {
        manual_seed(seed);
        fc1 = Linear(6, 12);
        fc2 = Linear(12, 3);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => fc2.call(functional.relu(fc1.call(x)));
}

/// <summary>The same MLP with its ReLU as a module, and an affine rescaling of the input inside forward (harmless).</summary>
internal sealed class ModuleReluNet : Module<Tensor, Tensor>
{
    private readonly TorchSharp.Modules.Linear fc1, fc2;
    private readonly TorchSharp.Modules.ReLU relu1;

    public ModuleReluNet(int seed = 5) : base(nameof(ModuleReluNet))
    {
        manual_seed(seed);
        fc1 = Linear(6, 12);
        fc2 = Linear(12, 3);
        relu1 = ReLU();
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => fc2.call(relu1.call(fc1.call((x - 0.5) * 4)));
}

/// <summary>Two convolutions sharing one ReLU module, as many hand-written models do.</summary>
internal sealed class SharedReluCnn : Module<Tensor, Tensor>
{
    private readonly TorchSharp.Modules.Conv2d conv1, conv2;
    private readonly TorchSharp.Modules.ReLU relu;
    private readonly TorchSharp.Modules.Linear fc;

    public SharedReluCnn() : base(nameof(SharedReluCnn))
    {
        manual_seed(3);
        conv1 = Conv2d(3, 4, 3, padding: 1);
        conv2 = Conv2d(4, 4, 3, padding: 1);
        relu = ReLU();
        fc = Linear(4, 3);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => fc.call(relu.call(conv2.call(relu.call(conv1.call(x)))).mean(new long[] { 2, 3 }));
}

/// <summary>A ReLU MLP that returns log-probabilities computed inside forward.</summary>
internal sealed class LogSoftmaxHead : Module<Tensor, Tensor>
{
    private readonly TorchSharp.Modules.Linear fc1, fc2;
    private readonly TorchSharp.Modules.ReLU relu1;

    public LogSoftmaxHead() : base(nameof(LogSoftmaxHead))
    {
        manual_seed(4);
        fc1 = Linear(6, 8);
        relu1 = ReLU();
        fc2 = Linear(8, 3);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => functional.log_softmax(fc2.call(relu1.call(fc1.call(x))), 1);
}

/// <summary>The base ladder: layer and perturbation bases, the injecting forward of layer IG, progress and cancellation,
/// the nonlinearity audit and the caller's input shape.</summary>
public class MethodLadderTests
{
    [Fact]
    public void Rule_based_methods_refuse_a_nonlinearity_inside_forward_and_name_the_layer()
    {
        using var hidden = new FunctionalReluNet();
        var x = randn(2, 6);
        foreach (var method in new IAttributionMethod[] { new DeepLift(hidden), new Lrp(hidden) })
        {
            var e = Assert.Throws<ArgumentException>(() => method.Attribute(x, tensor(new long[] { 1, 1 })));
            Assert.Equal("model", e.ParamName);
            Assert.Contains("'fc2'", e.Message);
            Assert.Contains("nonlinearity", e.Message);
        }
        // Without ReLU modules guided backprop and deconvolution refuse before the audit, as before.
        Assert.Throws<ArgumentException>(() => new GuidedBackprop(hidden).Attribute(x, 1));
    }

    [Fact]
    public void The_same_network_with_a_relu_module_is_explained_exactly()
    {
        // The independent truth: DeepLift's summation-to-delta, Σ attributions = S(x) − S(0), per example.
        using var visible = new ModuleReluNet();
        var x = randn(3, 6);
        using var r = new DeepLift(visible).Attribute(x, 2);
        Tensor sx, s0;
        using (no_grad())
        {
            sx = visible.call(x)[.., 2];
            s0 = visible.call(zeros_like(x))[.., 2];
        }
        var total = r.Attributions.sum(1);
        Assert.True(total.allclose(sx - s0, rtol: 1e-4, atol: 1e-5), $"{total} vs {sx - s0}");
        Assert.Equal(new long[] { 3 }, r.ConvergenceDelta!.shape);
        Assert.True(r.ConvergenceDelta.abs().max().ToDouble() < 1e-4);
        using var g = new GuidedBackprop(visible).Attribute(x, 2);
        using var l = new Lrp(visible).Attribute(x, 2);
    }

    [Fact]
    public void A_missing_batch_dimension_is_named_before_any_expansion()
    {
        using var model = new ShapesNet(seed: 1);
        var image = rand(3, 64, 64);
        var ig = Assert.Throws<ArgumentException>(() => new IntegratedGradients(model).Attribute(image, 1));
        Assert.Equal("input", ig.ParamName);
        Assert.Contains("[3, 64, 64]", ig.Message);
        Assert.Contains("unsqueeze(0)", ig.Message);
        Assert.DoesNotContain("150", ig.Message);   // not the shape of IG's internal expansion
        using var mlp = ReluMlp();
        var row = randn(6);
        var s = Assert.Throws<ArgumentException>(() => new Saliency(mlp).Attribute(row, 0));
        Assert.Equal("input", s.ParamName);
        Assert.Contains("[batch, 6]", s.Message);
        // A forward function has no first layer to read: libtorch's error is turned into one that names the input.
        Func<Tensor, Tensor> f = t => mlp.call(t.reshape(-1, 7));
        var fe = Assert.Throws<ArgumentException>(() => new IntegratedGradients(f).Attribute(randn(2, 6), 0));
        Assert.Equal("input", fe.ParamName);
        Assert.Contains("[2, 6]", fe.Message);
    }

    [Fact]
    public void Layer_integrated_gradients_is_integrated_gradients_of_the_model_seen_from_the_layer()
    {
        // Independent construction: the model after fc1 as a function g(a) = fc3(relu2(fc2(relu1(a)))), integrated by the
        // input-level method from fc1(x′) to fc1(x).
        using var net = ReluMlp(seed: 8);
        var fc1 = (TorchSharp.Modules.Linear)net[0];
        Func<Tensor, Tensor> rest = a => net[4].call(net[3].call(net[2].call(net[1].call(a))));
        var x = randn(2, 6);
        var options = new IntegratedGradientsOptions(Steps: 24, InternalBatchSize: 7);
        using var layer = new LayerIntegratedGradients(net, "fc1").Attribute(x, 1, options);
        Tensor ax, a0;
        using (no_grad())
        {
            ax = fc1.call(x);
            a0 = fc1.call(zeros_like(x));
        }
        using var direct = new IntegratedGradients(rest).Attribute(ax, 1, options with { Baseline = a0 });
        Assert.True(layer.Attributions.allclose(direct.Attributions, rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void Layer_integrated_gradients_before_a_linear_head_is_the_activation_change_times_the_weights()
    {
        // After relu1 the model is fc2 alone: ∂S/∂A is fc2's target row at every α, so any quadrature gives exactly
        // (A(x) − A(x′)) ⊙ W2[target].
        using var net = Sequential(("fc1", Linear(5, 7)), ("relu1", ReLU()), ("fc2", Linear(7, 3)));
        var x = randn(4, 5);
        var baseline = randn(5);
        using var r = new LayerIntegratedGradients(net, "relu1").Attribute(x, 2, new IntegratedGradientsOptions(Steps: 3, Baseline: baseline, ReturnConvergenceDelta: true));
        Tensor ax, ab;
        using (no_grad())
        {
            ax = net[1].call(net[0].call(x));
            ab = net[1].call(net[0].call(baseline.unsqueeze(0)));
        }
        var w = ((TorchSharp.Modules.Linear)net[2]).weight![2].detach();
        Assert.True(r.Attributions.allclose((ax - ab) * w, rtol: 1e-5, atol: 1e-6));
        Assert.True(r.ConvergenceDelta!.abs().max().ToDouble() < 1e-4);
    }

    [Fact]
    public void A_module_reused_in_one_forward_pass_cannot_be_a_layer_and_the_survey_falls_back_to_the_convolution()
    {
        using var net = new SharedReluCnn();
        var x = rand(2, 3, 16, 16);
        var e = Assert.Throws<ArgumentException>(() => new LayerIntegratedGradients(net, "relu").Attribute(x, 1, new IntegratedGradientsOptions(Steps: 4)));
        Assert.Equal("layer", e.ParamName);
        Assert.Contains("more than once", e.Message);
        var layers = Interpretability.Probing.LayerSurvey.Run(net, x);
        var convs = Interpretability.Probing.LayerSurvey.Convolutions(layers);
        Assert.Equal(2, layers.First(l => l.Path == "relu").Calls);
        Assert.Equal("conv2", Interpretability.Probing.LayerSurvey.ActivationAfter(layers, convs[1]).Path);
    }

    [Fact]
    public void The_audit_refuses_in_place_activations_and_training_mode_and_lets_guided_backprop_past_a_final_softmax()
    {
        var x = randn(2, 6);
        using var inplace = Sequential(("fc1", Linear(6, 8)), ("relu1", ReLU(inplace: true)), ("fc2", Linear(8, 3)));
        var e1 = Assert.Throws<ArgumentException>(() => new DeepLift(inplace).Attribute(x, 0));
        Assert.Contains("'relu1'", e1.Message);
        Assert.Contains("inplace", e1.Message);
        using var dropout = Sequential(("fc1", Linear(6, 8)), ("relu1", ReLU()), ("drop", Dropout(0.5)), ("fc2", Linear(8, 3)));
        dropout.train();
        var e2 = Assert.Throws<ArgumentException>(() => new Lrp(dropout).Attribute(x, 0));
        Assert.Contains("model.eval()", e2.Message);
        dropout.eval();
        using (new Lrp(dropout).Attribute(x, 0)) { }
        using var softmaxed = new LogSoftmaxHead();
        using (new GuidedBackprop(softmaxed).Attribute(x, 0)) { }   // guided backprop's rules concern the ReLUs only
        var e3 = Assert.Throws<ArgumentException>(() => new DeepLift(softmaxed).Attribute(x, 0));
        Assert.Contains("(the model itself)", e3.Message);
    }

    [Fact]
    public void Perturbation_methods_evaluate_in_batches_report_progress_and_stop_when_cancelled()
    {
        using var model = Cnn(seed: 4);
        var calls = 0;
        Func<Tensor, Tensor> counted = t => { calls++; return model.call(t); };
        var x = rand(1, 3, 16, 16);
        var reports = new List<AttributionProgress>();
        var progress = new SyncProgress<AttributionProgress>(reports.Add);
        // 7 × 7 windows of 4 × 4 at stride 2 = 49 occluded images, 10 per pass: 5 passes, plus the unoccluded image.
        using (var r = new Occlusion(counted).Attribute(x, 1, new OcclusionOptions(4, 4, 2, 2, PerturbationsPerEval: 10), progress))
            Assert.Equal(49, r.Metadata["windows"]);
        Assert.Equal(6, calls);
        Assert.Equal(50, reports[^1].Total);
        Assert.Equal(50, reports[^1].Done);
        Assert.True(reports.Zip(reports.Skip(1)).All(p => p.First.Done <= p.Second.Done));
        using var cancel = new CancellationTokenSource();
        var seen = 0;
        var stopper = new SyncProgress<AttributionProgress>(_ => { if (++seen == 2) cancel.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() => { using var r = new FeatureAblation(model).Attribute(x, 1,
            new FeatureAblationOptions(FeatureMasks.Grid(16, 16, 2), PerturbationsPerEval: 4), stopper, cancel.Token); });
        Assert.Equal(2, seen);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Lime(model).Attribute(x, 1, new LimeOptions(PerturbationsPerEval: 0)));
    }

    [Fact]
    public void Noise_tunnel_is_a_method_batches_samples_and_nests()
    {
        using var net = Smooth(seed: 21);
        var x = randn(2, 6);
        var inner = new Saliency(net).With(new SaliencyOptions(false));
        var options = new NoiseTunnelOptions(Samples: 6, Seed: 3);
        using var one = new NoiseTunnel(inner).Attribute(x, 1, options);
        using var batched = new NoiseTunnel(inner).Attribute(x, 1, options with { SamplesPerCall = 4 });
        Assert.True(one.Attributions.allclose(batched.Attributions, rtol: 1e-5, atol: 1e-7));
        // A tunnel around a tunnel with zero noise outside is the inner tunnel.
        var nested = new NoiseTunnel(new NoiseTunnel(inner).With(options));
        using var twice = nested.Attribute(x, 1, new NoiseTunnelOptions(Samples: 2, Stdev: 0));
        Assert.True(twice.Attributions.allclose(one.Attributions, rtol: 1e-5, atol: 1e-7));
        Assert.Equal("smoothgrad_noise_tunnel", twice.Method);
        Assert.Same(net, new NoiseTunnel(inner).Model);
    }

    [Fact]
    public void A_result_owns_its_tensors()
    {
        using var net = Smooth(seed: 2);
        var r = new IntegratedGradients(net).Attribute(randn(2, 6), 0, new IntegratedGradientsOptions(Steps: 4, ReturnConvergenceDelta: true));
        var (a, d) = (r.Attributions, r.ConvergenceDelta!);
        r.Dispose();
        Assert.True(a.IsInvalid);
        Assert.True(d.IsInvalid);
        r.Dispose();   // twice is harmless
    }
}
