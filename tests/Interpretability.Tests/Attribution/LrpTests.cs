using Interpretability.Attribution;
using TorchSharp;
using static TorchSharp.torch;
using static Interpretability.Tests.Attribution.GradientTestNets;

namespace Interpretability.Tests.Attribution;

/// <summary>LRP rules against conservation, closed forms and a hand computation.</summary>
public class LrpTests
{
    [Fact]
    public void Epsilon_conserves_relevance_on_bias_free_nets_and_equals_input_x_gradient()
    {
        using var mlp = ReluMlp(bias: false, seed: 41);
        var x = randn(3, 6);
        using var r = new Lrp(mlp).Attribute(x, 1, new LrpOptions(LrpComposite.Uniform(new EpsilonRule(1e-9))));
        Assert.True(r.Metadata["conservation_error"] < 1e-4, $"conservation error {r.Metadata["conservation_error"]}");
        using var ixg = new InputXGradient(mlp).Attribute(x, 1);
        Assert.True(r.Attributions.allclose(ixg.Attributions, rtol: 1e-4, atol: 1e-6));

        using var cnn = Cnn(bias: false, seed: 42, avgPool: true);
        var img = rand(2, 3, 16, 16);
        using var rc = new Lrp(cnn).Attribute(img, 2, new LrpOptions(LrpComposite.Uniform(new EpsilonRule(1e-9))));
        Assert.True(rc.Metadata["conservation_error"] < 1e-3, $"conservation error {rc.Metadata["conservation_error"]}");
    }

    [Theory]
    [InlineData("epsilon-plus")]
    [InlineData("epsilon-alpha2-beta1")]
    public void Conservative_rules_conserve_relevance_through_conv_relu_and_max_pooling(string composite)
    {
        using var cnn = Cnn(bias: false, seed: 43);
        var img = rand(2, 3, 16, 16);
        var c = composite == "epsilon-plus" ? LrpComposite.EpsilonPlus(1e-9) : LrpComposite.EpsilonAlpha2Beta1(1e-9);
        using var r = new Lrp(cnn).Attribute(img, 0, new LrpOptions(c));
        Assert.True(r.Metadata["conservation_error"] < 1e-3, $"{composite}: conservation error {r.Metadata["conservation_error"]}");
    }

    [Fact]
    public void ZPlus_matches_a_hand_computation()
    {
        // x ≥ 0 → fc1 (2×3) → ReLU → fc2 (2×2), no biases. Relevance at the output: the target logit.
        using var net = nn.Sequential(("fc1", nn.Linear(3, 2, hasBias: false)), ("relu", nn.ReLU()), ("fc2", nn.Linear(2, 2, hasBias: false)));
        double[,] w1 = { { 1.0, -2.0, 0.5 }, { 0.3, 0.8, -1.0 } };
        double[,] w2 = { { 1.5, -0.7 }, { -0.4, 2.0 } };
        double[] x = { 0.6, 0.2, 0.9 };
        using (no_grad())
        {
            ((TorchSharp.Modules.Linear)net[0]).weight!.copy_(tensor(w1).to(float32));
            ((TorchSharp.Modules.Linear)net[2]).weight!.copy_(tensor(w2).to(float32));
        }
        const int t = 0;
        var z1 = new double[2];
        for (int j = 0; j < 2; j++) for (int i = 0; i < 3; i++) z1[j] += w1[j, i] * x[i];
        var a = z1.Select(v => Math.Max(v, 0)).ToArray();
        double logit = a[0] * w2[t, 0] + a[1] * w2[t, 1];
        // Layer 2, z⁺: R_a_j = a_j w⁺_tj / Σ_k a_k w⁺_tk · R_t.
        double denom2 = Enumerable.Range(0, 2).Sum(k => a[k] * Math.Max(w2[t, k], 0));
        var ra = Enumerable.Range(0, 2).Select(j => a[j] * Math.Max(w2[t, j], 0) / denom2 * logit).ToArray();
        // Layer 1, z⁺: R_x_i = Σ_j x_i w⁺_ji / Σ_i' x_i' w⁺_ji' · R_a_j.
        var rx = new double[3];
        for (int j = 0; j < 2; j++)
        {
            double d = Enumerable.Range(0, 3).Sum(i => x[i] * Math.Max(w1[j, i], 0));
            for (int i = 0; i < 3; i++) rx[i] += d == 0 ? 0 : x[i] * Math.Max(w1[j, i], 0) / d * ra[j];
        }
        using var r = new Lrp(net).Attribute(tensor(x).to(float32).unsqueeze(0), t, new LrpOptions(LrpComposite.Uniform(new ZPlusRule(1e-12))));
        var got = r.Attributions[0].to(float64).data<double>().ToArray();
        for (int i = 0; i < 3; i++) Assert.Equal(rx[i], got[i], 4);
        Assert.Equal(logit, rx.Sum(), 10);
    }

    [Fact]
    public void Gamma_zero_is_epsilon_and_gamma_changes_the_result()
    {
        using var cnn = Cnn(seed: 44);
        var img = rand(1, 3, 16, 16);
        var lrp = new Lrp(cnn);
        using var eps = lrp.Attribute(img, 1, new LrpOptions(LrpComposite.Uniform(new EpsilonRule(1e-6))));
        using var g0 = lrp.Attribute(img, 1, new LrpOptions(LrpComposite.ByType(new GammaRule(0, 1e-6), new EpsilonRule(1e-6))));
        using var g1 = lrp.Attribute(img, 1, new LrpOptions(LrpComposite.EpsilonGamma(0.25)));
        Assert.True(eps.Attributions.allclose(g0.Attributions, rtol: 1e-4, atol: 1e-7));
        Assert.False(eps.Attributions.allclose(g1.Attributions, rtol: 1e-2, atol: 1e-5));
    }

    [Fact]
    public void Lrp_leaves_the_model_unchanged_and_works_with_padding_and_stride()
    {
        manual_seed(45);
        using var net = nn.Sequential(("conv", nn.Conv2d(3, 4, 3, stride: 2, padding: 1, bias: false)), ("relu", nn.ReLU()),
            ("flatten", nn.Flatten()), ("fc", nn.Linear(4 * 4 * 4, 3, hasBias: false)));
        var snapshot = Snapshot(net);
        var img = rand(2, 3, 8, 8);
        using var r = new Lrp(net).Attribute(img, 2, new LrpOptions(LrpComposite.Uniform(new EpsilonRule(1e-9))));
        using var ixg = new InputXGradient(net).Attribute(img, 2);
        Assert.True(r.Attributions.allclose(ixg.Attributions, rtol: 1e-3, atol: 1e-6));
        AssertUnchanged(net, snapshot);
    }

    private sealed class Normalised : nn.Module<Tensor, Tensor>
    {
        private readonly nn.Module<Tensor, Tensor> conv = nn.Conv2d(3, 4, 3, padding: 1, bias: false);
        private readonly nn.Module<Tensor, Tensor> relu = nn.ReLU();
        private readonly nn.Module<Tensor, Tensor> fc = nn.Linear(4 * 8 * 8, 3, hasBias: false);

        public Normalised() : base(nameof(Normalised)) => RegisterComponents();

        public override Tensor forward(Tensor x) => fc.call(relu.call(conv.call((x - 0.5f) * 4)).flatten(1));
    }

    [Fact]
    public void Relevance_of_a_model_that_normalises_its_pixels_is_taken_after_the_shift_and_is_conserved()
    {
        manual_seed(46);
        using var net = new Normalised();
        var img = rand(2, 3, 8, 8);
        using var r = new Lrp(net).Attribute(img, 1, new LrpOptions(LrpComposite.Uniform(new EpsilonRule(1e-9))));
        Assert.True(r.Metadata["conservation_error"] < 1e-4, $"conservation error {r.Metadata["conservation_error"]}");
        // x ⊙ ∂S/∂x at the raw pixels would count the −0.5 shift: it differs.
        using var ixg = new InputXGradient(net).Attribute(img, 1);
        Assert.False(r.Attributions.allclose(ixg.Attributions, rtol: 1e-2, atol: 1e-4));
    }
}
