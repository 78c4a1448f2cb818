using Interpretability.Attribution;
using TorchSharp;
using static TorchSharp.torch;
using static Interpretability.Tests.Attribution.GradientTestNets;

namespace Interpretability.Tests.Attribution;

/// <summary>Gradient methods against independent truths: closed forms on linear models, hand computations, completeness.</summary>
public class GradientMethodTests
{
    [Fact]
    public void Saliency_of_a_linear_model_is_its_weight_row()
    {
        using var lin = LinearNet(5, 3, seed: 4);
        var x = randn(4, 5);
        using var signed = new Saliency(lin).Attribute(x, 2, new SaliencyOptions(Absolute: false));
        using var abs = new Saliency(lin).Attribute(x, 2);
        var w = lin.weight![2].unsqueeze(0).expand(4, 5);
        Assert.True(signed.Attributions.allclose(w, rtol: 1e-6, atol: 1e-7));
        Assert.True(abs.Attributions.allclose(w.abs(), rtol: 1e-6, atol: 1e-7));
        Assert.Equal("saliency", abs.Method);
    }

    [Fact]
    public void InputXGradient_of_a_linear_model_is_w_times_x()
    {
        using var lin = LinearNet(5, 3, seed: 5);
        var x = randn(3, 5);
        var targets = tensor(new long[] { 0, 2, 1 });
        using var r = new InputXGradient(lin).Attribute(x, targets);
        var expected = lin.weight!.index_select(0, targets) * x;
        Assert.True(r.Attributions.allclose(expected, rtol: 1e-6, atol: 1e-7));
    }

    [Fact]
    public void A_forward_function_works_where_no_hooks_are_needed()
    {
        var w = tensor(new float[] { 1, -2, 3 });
        Func<Tensor, Tensor> f = x => stack(new[] { (x * w).sum(dim: 1), x.pow(2).sum(dim: 1) }, 1);
        var x = tensor(new float[] { 0.5f, 1, 2 }).unsqueeze(0);
        using var r = new Saliency(f).Attribute(x, 1, new SaliencyOptions(false));
        Assert.True(r.Attributions.allclose(2 * x));
    }

    [Fact]
    public void IntegratedGradients_is_complete_within_1e_3_with_64_gauss_legendre_steps()
    {
        using var net = Smooth();
        var x = randn(3, 6) * 2;
        var baseline = randn(6) * 0.5f;
        using var r = new IntegratedGradients(net).Attribute(x, 1, new IntegratedGradientsOptions(Steps: 64, Baseline: baseline, ReturnConvergenceDelta: true));
        Tensor sx, sb;
        using (no_grad())
        {
            sx = net.call(x)[.., 1];
            sb = net.call(baseline.unsqueeze(0))[.., 1];
        }
        var total = RowSums(r.Attributions);
        var diff = sx - sb;
        for (int i = 0; i < 3; i++)
            Assert.True(Math.Abs(total[i].ToDouble() - diff[i].ToDouble()) <= 1e-3 * Math.Abs(diff[i].ToDouble()) + 1e-6,
                $"row {i}: Σ IG = {total[i].ToDouble()}, S(x) − S(x′) = {diff[i].ToDouble()}");
        Assert.True(r.Metadata["convergence_delta_relative"] < 1e-3);
        Assert.True(r.Metadata["convergence_delta"] < 1e-3 * (diff.abs().max().ToDouble() + 1e-3));
        // The per-example delta is each row's own Σ IG − (S(x) − S(x′)), signed as Captum's, not the worst row's.
        Assert.NotNull(r.ConvergenceDelta);
        Assert.Equal(new long[] { 3 }, r.ConvergenceDelta!.shape);
        for (int i = 0; i < 3; i++)
            Assert.Equal(total[i].ToDouble() - diff[i].ToDouble(), r.ConvergenceDelta[i].ToDouble(), 1e-5);
    }

    [Fact]
    public void The_convergence_delta_costs_two_forward_passes_and_only_on_request()
    {
        using var net = Smooth();
        var calls = 0;
        Func<Tensor, Tensor> counted = t => { calls++; return net.call(t); };
        var x = randn(2, 6);
        using (var r = new IntegratedGradients(counted).Attribute(x, 0, new IntegratedGradientsOptions(Steps: 8)))
        {
            Assert.Null(r.ConvergenceDelta);
            Assert.False(r.Metadata.ContainsKey("convergence_delta"));
        }
        Assert.Equal(1, calls);   // all 2 × 8 scaled inputs in one chunk
        calls = 0;
        using (var r = new IntegratedGradients(counted).Attribute(x, 0, new IntegratedGradientsOptions(Steps: 8, ReturnConvergenceDelta: true)))
            Assert.Equal(new long[] { 2 }, r.ConvergenceDelta!.shape);
        Assert.Equal(3, calls);   // plus S(x) and S(x′)
    }

    [Theory]
    [InlineData(IntegrationRule.RiemannLeft)]
    [InlineData(IntegrationRule.RiemannRight)]
    [InlineData(IntegrationRule.RiemannMiddle)]
    [InlineData(IntegrationRule.RiemannTrapezoid)]
    [InlineData(IntegrationRule.GaussLegendre)]
    public void Every_rule_converges_as_steps_grow(IntegrationRule rule)
    {
        using var net = Smooth(seed: 7, dtype: ScalarType.Float64);
        var x = randn(new long[] { 2, 6 }, dtype: float64) * 2;
        var ig = new IntegratedGradients(net);
        double Error(int steps)
        {
            using var r = ig.Attribute(x, 0, new IntegratedGradientsOptions(steps, rule, ReturnConvergenceDelta: true));
            return r.Metadata["convergence_delta"];
        }
        var errors = new[] { 4, 16, 64 }.Select(Error).ToArray();
        // Expected orders: left/right Riemann O(1/n) (×16 fewer steps → error ÷ ~16), midpoint and trapezoid O(1/n²)
        // (÷ ~256), Gauss–Legendre exponential. Require a clear part of that.
        var factor = rule switch
        {
            IntegrationRule.RiemannLeft or IntegrationRule.RiemannRight => 8.0,
            IntegrationRule.RiemannMiddle or IntegrationRule.RiemannTrapezoid => 100.0,
            _ => 1e4,
        };
        var message = $"{rule}: errors at 4, 16, 64 steps: {string.Join(", ", errors)}";
        Assert.True(errors[1] < errors[0] || errors[1] < 1e-10, message);
        Assert.True(errors[2] < errors[1] || errors[2] < 1e-10, message);
        Assert.True(errors[2] < errors[0] / factor || errors[2] < 1e-10, message);
    }

    [Fact]
    public void Quadrature_weights_sum_to_one_and_gauss_legendre_integrates_polynomials_exactly()
    {
        foreach (IntegrationRule rule in Enum.GetValues<IntegrationRule>())
        {
            var (a, w) = IntegratedGradients.Quadrature(rule, 7);
            Assert.Equal(1.0, w.Sum(), 12);
            Assert.All(a, v => Assert.InRange(v, 0, 1));
        }
        var (x, wx) = IntegratedGradients.Quadrature(IntegrationRule.GaussLegendre, 5);
        // ∫₀¹ α⁹ dα = 1/10: exact for 5 nodes (degree ≤ 9).
        Assert.Equal(0.1, x.Zip(wx, (p, q) => q * Math.Pow(p, 9)).Sum(), 13);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(50)]
    [InlineData(1000)]
    public void Internal_batching_gives_the_same_attributions_for_every_batch_size(int batchSize)
    {
        using var net = Smooth(seed: 8, dtype: ScalarType.Float64);
        var x = randn(new long[] { 3, 6 }, dtype: float64);
        var ig = new IntegratedGradients(net);
        using var whole = ig.Attribute(x, 2, new IntegratedGradientsOptions(Steps: 20));
        using var chunked = ig.Attribute(x, 2, new IntegratedGradientsOptions(Steps: 20, InternalBatchSize: batchSize));
        Assert.True(whole.Attributions.allclose(chunked.Attributions, rtol: 1e-10, atol: 1e-12));
    }

    [Fact]
    public void IntegratedGradients_per_row_targets_match_row_by_row_runs()
    {
        using var net = Smooth(seed: 9);
        var x = randn(3, 6);
        var targets = tensor(new long[] { 2, 0, 1 });
        var ig = new IntegratedGradients(net);
        using var all = ig.Attribute(x, targets, new IntegratedGradientsOptions(Steps: 16, InternalBatchSize: 5));
        for (int i = 0; i < 3; i++)
        {
            using var one = ig.Attribute(x[i].unsqueeze(0), targets[i].ToInt64(), new IntegratedGradientsOptions(Steps: 16));
            Assert.True(one.Attributions[0].allclose(all.Attributions[i], rtol: 1e-4, atol: 1e-6));
        }
    }

    [Fact]
    public void DeepLift_sums_to_the_score_difference()
    {
        foreach (var net in new nn.Module<Tensor, Tensor>[] { ReluMlp(), Smooth(seed: 11) })
        {
            var x = randn(4, 6) * 2;
            var baseline = randn(6);
            using var r = new DeepLift(net).Attribute(x, 1, new DeepLiftOptions(baseline));
            Tensor sx, sb;
            using (no_grad())
            {
                sx = net.call(x)[.., 1];
                sb = net.call(baseline.unsqueeze(0))[.., 1];
            }
            Assert.True(RowSums(r.Attributions).allclose(sx - sb, rtol: 1e-4, atol: 1e-4),
                $"Σ = {RowSums(r.Attributions).ToString(TorchSharp.TensorStringStyle.Numpy)}, Δ = {(sx - sb).ToString(TorchSharp.TensorStringStyle.Numpy)}");
            Assert.True(r.Metadata["summation_delta"] < 1e-4);
        }
    }

    [Fact]
    public void DeepLift_sums_to_the_score_difference_through_max_pooling()
    {
        using var net = Cnn(seed: 16);
        var x = rand(3, 3, 16, 16);
        var baseline = rand(3, 16, 16) * 0.3f;
        using var r = new DeepLift(net).Attribute(x, 2, new DeepLiftOptions(baseline));
        Tensor diff;
        using (no_grad()) diff = net.call(x)[.., 2] - net.call(baseline.unsqueeze(0))[.., 2];
        Assert.True(RowSums(r.Attributions).allclose(diff, rtol: 1e-3, atol: 1e-4),
            $"Σ = {RowSums(r.Attributions).ToString(TorchSharp.TensorStringStyle.Numpy)}, Δ = {diff.ToString(TorchSharp.TensorStringStyle.Numpy)}");
    }

    [Fact]
    public void DeepLift_stays_exact_where_a_pooling_window_is_dead_on_the_input_but_not_on_the_reference()
    {
        // A constant reference (as a black image) against a random input: some windows have every unit dead on the input
        // and a live unit on the reference; a rule that divides by the input maximum's difference loses that change.
        manual_seed(1);
        using var net = nn.Sequential(("c1", nn.Conv2d(1, 2, 5, padding: 2)), ("r1", nn.ReLU()), ("p1", nn.MaxPool2d(2)),
            ("c2", nn.Conv2d(2, 2, 3, padding: 1)), ("f", nn.Flatten()));
        net.to(float64);
        var x = randn(new long[] { 1, 1, 8, 8 }, dtype: float64);
        var baseline = full_like(x, -2.0);
        for (long t = 0; t < 8; t++)
        {
            using var r = new DeepLift(net).Attribute(x, t, new DeepLiftOptions(baseline));
            Assert.True(r.Metadata["summation_delta"] < 1e-12, $"target {t}: {r.Metadata["summation_delta"]}");
        }
    }

    [Fact]
    public void DeepLift_of_a_relu_net_differs_from_gradient_times_delta_where_units_switch()
    {
        // With a zero baseline and bias-free ReLU units, rescale multipliers equal the gradient where no unit switches;
        // a unit that changes state makes them differ — so the hook is really in effect.
        using var net = ReluMlp(seed: 12);
        var x = randn(2, 6) * 3;
        using var dl = new DeepLift(net).Attribute(x, 0);
        using var ig1 = new IntegratedGradients(net).Attribute(x, 0, new IntegratedGradientsOptions(1, IntegrationRule.RiemannRight));
        Assert.False(dl.Attributions.allclose(ig1.Attributions, rtol: 1e-3, atol: 1e-5));
    }

    [Fact]
    public void GuidedBackprop_and_Deconvolution_match_a_hand_computation_on_a_two_layer_relu_net()
    {
        manual_seed(21);
        using var net = nn.Sequential(("fc1", nn.Linear(4, 6, hasBias: true)), ("relu", nn.ReLU()), ("fc2", nn.Linear(6, 3, hasBias: true)));
        var x = randn(2, 4);
        const long t = 1;
        var w1 = ((TorchSharp.Modules.Linear)net[0]).weight!.detach();
        var b1 = ((TorchSharp.Modules.Linear)net[0]).bias!.detach();
        var w2 = ((TorchSharp.Modules.Linear)net[2]).weight!.detach();
        var z = x.matmul(w1.t()) + b1;                               // [2, 6]
        var gh = w2[t].unsqueeze(0).expand(2, 6);                    // ∂S/∂h
        var guided = (gh.clamp_min(0) * (z > 0).to(float32)).matmul(w1);
        var deconv = gh.clamp_min(0).matmul(w1);
        var plain = (gh * (z > 0).to(float32)).matmul(w1);
        using var g = new GuidedBackprop(net).Attribute(x, t);
        using var d = new Deconvolution(net).Attribute(x, t);
        Assert.True(g.Attributions.allclose(guided, rtol: 1e-5, atol: 1e-6));
        Assert.True(d.Attributions.allclose(deconv, rtol: 1e-5, atol: 1e-6));
        Assert.False(guided.allclose(plain, rtol: 1e-3, atol: 1e-5)); // the rule matters for this net and input
    }

    [Fact]
    public void GradCam_matches_a_hand_computation()
    {
        manual_seed(31);
        using var net = nn.Sequential(("conv", nn.Conv2d(2, 3, 3, padding: 1)), ("relu", nn.ReLU()), ("gap", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()), ("fc", nn.Linear(3, 2)));
        var x = randn(1, 2, 5, 5);
        var conv = (TorchSharp.Modules.Conv2d)net[0];
        var fc = (TorchSharp.Modules.Linear)net[4];
        const long t = 1;
        var a = nn.functional.conv2d(x, conv.weight!.detach(), conv.bias!.detach(), padding: new long[] { 1, 1 }).relu();   // [1,3,5,5]
        // S = Σ_k w_k mean(A_k) + b, so ∂S/∂A_k,ij = w_k / 25 and α_k = w_k / 25.
        var alpha = (fc.weight!.detach()[t] / 25f).reshape(1, 3, 1, 1);
        var expected = (alpha * a).sum(dim: 1, keepdim: true).relu();
        using var cam = new GradCam(net, "relu").Attribute(x, t, new GradCamOptions(Upsample: false));
        Assert.True(cam.Attributions.allclose(expected, rtol: 1e-5, atol: 1e-7));
        using var up = new GradCam(net, "relu").Attribute(x, t);
        Assert.Equal(new long[] { 1, 1, 5, 5 }, up.Attributions.shape);
        using var gg = new GuidedGradCam(net, "relu").Attribute(x, t);
        using var gb = new GuidedBackprop(net).Attribute(x, t);
        Assert.True(gg.Attributions.allclose(gb.Attributions * up.Attributions, rtol: 1e-5, atol: 1e-7));
    }

    [Fact]
    public void NoiseTunnel_with_zero_noise_equals_the_inner_method_and_vargrad_is_zero()
    {
        using var net = Smooth(seed: 13);
        var x = randn(2, 6);
        using var plain = new Saliency(net).Attribute(x, 0, new SaliencyOptions(false));
        var tunnel = new NoiseTunnel(new Saliency(net).With(new SaliencyOptions(false)));
        using var sg = tunnel.Attribute(x, 0, new NoiseTunnelOptions(Samples: 3, Stdev: 0));
        using var sq = tunnel.Attribute(x, 0, new NoiseTunnelOptions(NoiseTunnelType.SmoothGradSquared, Samples: 3, Stdev: 0));
        using var vg = tunnel.Attribute(x, 0, new NoiseTunnelOptions(NoiseTunnelType.VarGrad, Samples: 3, Stdev: 0));
        Assert.True(sg.Attributions.allclose(plain.Attributions, rtol: 1e-5, atol: 1e-7));
        Assert.True(sq.Attributions.allclose(plain.Attributions.pow(2), rtol: 1e-5, atol: 1e-7));
        Assert.True(vg.Attributions.abs().max().ToDouble() < 1e-6);
        Assert.Equal("smoothgrad_saliency", sg.Method);
    }

    [Fact]
    public void SmoothGrad_of_a_quadratic_is_the_gradient_at_the_mean_and_the_seed_fixes_the_result()
    {
        // S = Σ x², ∂S/∂x = 2x is linear in x, so the mean gradient over noise converges to 2x (error ~ 2σ/√n).
        Func<Tensor, Tensor> f = x => stack(new[] { x.pow(2).sum(dim: 1), x.sum(dim: 1) }, 1);
        var x = tensor(new float[] { 1, -2, 0.5f, 3 }).unsqueeze(0);
        var tunnel = new NoiseTunnel(new Saliency(f).With(new SaliencyOptions(false)));
        using var a = tunnel.Attribute(x, 0, new NoiseTunnelOptions(Samples: 400, Stdev: 0.3));
        using var b = tunnel.Attribute(x, 0, new NoiseTunnelOptions(Samples: 400, Stdev: 0.3));
        Assert.True((a.Attributions - 2 * x).abs().max().ToDouble() < 0.15);
        Assert.True(a.Attributions.equal(b.Attributions).all().item<bool>());
        // VarGrad of 2(x+ε) is 4σ².
        using var v = tunnel.Attribute(x, 0, new NoiseTunnelOptions(NoiseTunnelType.VarGrad, Samples: 400, Stdev: 0.3));
        Assert.True((v.Attributions - 4 * 0.09f).abs().max().ToDouble() < 0.1);
        // SmoothGrad² of 2(x+ε) is E[4(x+ε)²] = 4x² + 4σ² (sampling error about 8|x|σ/√400).
        using var sq = tunnel.Attribute(x, 0, new NoiseTunnelOptions(NoiseTunnelType.SmoothGradSquared, Samples: 400, Stdev: 0.3));
        var expected = 4 * x * x + 4 * 0.09f;
        Assert.True(((sq.Attributions - expected).abs() - (0.05f * expected + 0.3f)).max().ToDouble() < 0, $"{sq.Attributions} vs {expected}");
    }

    [Fact]
    public void GradientShap_is_complete_in_expectation()
    {
        using var net = Smooth(seed: 14, dtype: ScalarType.Float64);
        var x = randn(new long[] { 1, 6 }, dtype: float64);
        var baselines = randn(new long[] { 10, 6 }, dtype: float64) * 0.3;
        using var r = new GradientShap(net).Attribute(x, 2, new GradientShapOptions(baselines, Samples: 4000, Seed: 3));
        double expected;
        using (no_grad()) expected = (net.call(x)[0, 2] - net.call(baselines)[.., 2].mean()).ToDouble();
        Assert.True(Math.Abs(r.Attributions.sum().ToDouble() - expected) < 0.05 * Math.Abs(expected) + 0.02,
            $"Σ = {r.Attributions.sum().ToDouble()}, expected {expected}");
    }

    [Fact]
    public void Every_method_leaves_the_model_unchanged()
    {
        using var net = Cnn(seed: 15);
        var snapshot = Snapshot(net);
        var x = rand(2, 3, 16, 16);
        var methods = new IAttributionMethod[]
        {
            new Saliency(net), new InputXGradient(net), new IntegratedGradients(net).With(new IntegratedGradientsOptions(Steps: 4, InternalBatchSize: 3)),
            new NoiseTunnel(new Saliency(net)).With(new NoiseTunnelOptions(Samples: 2)), new GradientShap(net), new DeepLift(net),
            new GuidedBackprop(net), new Deconvolution(net), new GradCam(net, "relu3"), new GuidedGradCam(net, "conv2"),
            new Lrp(net), new Lrp(net).With(new LrpOptions(LrpComposite.EpsilonAlpha2Beta1())), new LayerGradientXActivation(net, "relu2"),
            new LayerIntegratedGradients(net, "pool1").With(new IntegratedGradientsOptions(Steps: 4)),
        };
        Tensor before;
        using (no_grad()) before = net.call(x);
        foreach (var m in methods)
        {
            using var r = m.Attribute(x, tensor(new long[] { 1, 3 }));
            Assert.False(r.Attributions.requires_grad, m.Name);
            Assert.True(r.Attributions.isfinite().all().item<bool>(), m.Name);
            AssertUnchanged(net, snapshot);
        }
        using (new LayerActivation(net, "conv2").Attribute(x)) AssertUnchanged(net, snapshot);
        using (new NeuronGradient(net, "conv3").Attribute(x, 1, 2, 2)) AssertUnchanged(net, snapshot);
        using (no_grad()) Assert.True(net.call(x).equal(before).all().item<bool>());
    }

    [Fact]
    public void Hooks_are_removed_when_the_forward_pass_throws_and_the_hook_probe_sees_hooks()
    {
        using var net = Cnn(seed: 17);
        var snapshot = Snapshot(net);
        var x = rand(1, 3, 16, 16);
        foreach (var m in new IAttributionMethod[] { new GuidedBackprop(net), new DeepLift(net), new Lrp(net), new GradCam(net, "relu2") })
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => m.Attribute(x, tensor(new long[] { 9 })));
            AssertUnchanged(net, snapshot);
        }
        // The probe itself: a registered hook is counted, a removed one is not.
        var relu = (TorchSharp.Modules.ReLU)net[1];
        var remover = relu.register_forward_hook((_, _, o) => o);
        Assert.Equal(1, HookCount(relu));
        remover.remove();
        Assert.Equal(0, HookCount(relu));
    }

    [Fact]
    public void Bad_input_names_the_parameter()
    {
        using var net = Smooth();
        var x = randn(2, 6);
        var e1 = Assert.Throws<ArgumentOutOfRangeException>(() => new Saliency(net).Attribute(x, 3));
        Assert.Equal("target", e1.ParamName);
        Assert.Contains("[0, 2]", e1.Message);
        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => new IntegratedGradients(net).Attribute(x, -1));
        Assert.Equal("target", e2.ParamName);
        var e3 = Assert.Throws<ArgumentException>(() => new IntegratedGradients(net).Attribute(x, 0, new IntegratedGradientsOptions(Baseline: zeros(5))));
        Assert.Equal("Baseline", e3.ParamName);
        Assert.Contains("[2, 6]", e3.Message);
        Assert.Contains("[5]", e3.Message);
        var e4 = Assert.Throws<ArgumentException>(() => new DeepLift(net).Attribute(x, 0, new DeepLiftOptions(zeros(3, 6))));
        Assert.Equal("Baseline", e4.ParamName);
        var e5 = Assert.Throws<ArgumentException>(() => new GradCam(Cnn(), "conv9"));
        Assert.Equal("layer", e5.ParamName);
        Assert.Contains("conv3", e5.Message);
        var e6 = Assert.Throws<ArgumentException>(() => new Saliency(net).Attribute(x, tensor(new long[] { 0, 1, 2 })));
        Assert.Equal("targets", e6.ParamName);
        var e7 = Assert.Throws<ArgumentOutOfRangeException>(() => new Saliency(net).Attribute(x, tensor(new long[] { 0, 7 })));
        Assert.Equal("targets", e7.ParamName);
        var e8 = Assert.Throws<ArgumentException>(() => new GradientShap(net).Attribute(x, 0, new GradientShapOptions(zeros(4, 5))));
        Assert.Equal("Baselines", e8.ParamName);
    }
}
