using Interpretability.Attribution;
using TorchSharp;
using static TorchSharp.torch;
using static Interpretability.Tests.Attribution.GradientTestNets;

namespace Interpretability.Tests.Attribution;

/// <summary>Layer and neuron methods against closed forms and completeness.</summary>
public class LayerMethodTests
{
    [Fact]
    public void LayerActivation_is_the_layer_output()
    {
        using var net = ReluMlp(seed: 51);
        var x = randn(2, 6);
        using var r = new LayerActivation(net, "relu1").Attribute(x);
        var fc1 = (TorchSharp.Modules.Linear)net[0];
        Tensor expected;
        using (no_grad()) expected = fc1.call(x).relu();
        Assert.True(r.Attributions.allclose(expected));
    }

    [Fact]
    public void LayerGradientXActivation_before_the_last_linear_layer_is_weight_times_activation()
    {
        using var net = ReluMlp(seed: 52);
        var x = randn(3, 6);
        using var r = new LayerGradientXActivation(net, "relu2").Attribute(x, 2);
        using var a = new LayerActivation(net, "relu2").Attribute(x);
        var w = ((TorchSharp.Modules.Linear)net[4]).weight!.detach()[2];
        Assert.True(r.Attributions.allclose(a.Attributions * w, rtol: 1e-5, atol: 1e-7));
        using var g = new LayerGradientXActivation(net, "relu2").Attribute(x, 2, new LayerGradientXActivationOptions(false));
        Assert.True(g.Attributions.allclose(w.expand(3, 10)));
    }

    [Fact]
    public void LayerIntegratedGradients_is_complete_at_the_layer()
    {
        using var net = Smooth(seed: 53, dtype: ScalarType.Float64);
        var x = randn(new long[] { 2, 6 }, dtype: float64) * 2;
        using var r = new LayerIntegratedGradients(net, "tanh1").Attribute(x, 1, new IntegratedGradientsOptions(Steps: 64, InternalBatchSize: 30, ReturnConvergenceDelta: true));
        Assert.Equal(new long[] { 2, 16 }, r.Attributions.shape);
        Assert.True(r.Metadata["convergence_delta_relative"] < 1e-6, $"{r.Metadata["convergence_delta_relative"]}");
        // Completeness at the layer: Σ = S(x) − S(x′) with the zero input as baseline.
        Tensor diff;
        using (no_grad()) diff = net.call(x)[.., 1] - net.call(zeros_like(x))[.., 1];
        Assert.True(RowSums(r.Attributions).allclose(diff, rtol: 1e-6, atol: 1e-9));
    }

    [Fact]
    public void NeuronGradient_of_a_first_layer_unit_is_its_weight_row()
    {
        using var net = ReluMlp(seed: 54);
        var x = randn(2, 6);
        using var r = new NeuronGradient(net, "fc1").Attribute(x, 4);
        var w = ((TorchSharp.Modules.Linear)net[0]).weight!.detach()[4];
        Assert.True(r.Attributions.allclose(w.expand(2, 6)));
        Assert.Throws<ArgumentOutOfRangeException>("neuron", () => new NeuronGradient(net, "fc1").Attribute(x, 12));
    }

    [Fact]
    public void A_layer_that_does_not_exist_is_named_in_the_error()
    {
        using var net = ReluMlp();
        foreach (var make in new Action[]
                 {
                     () => _ = new LayerActivation(net, "fc9"), () => _ = new LayerGradientXActivation(net, "fc9"),
                     () => _ = new LayerIntegratedGradients(net, "fc9"), () => _ = new NeuronGradient(net, "fc9"),
                 })
        {
            var e = Assert.Throws<ArgumentException>(make);
            Assert.Equal("layer", e.ParamName);
            Assert.Contains("'fc9'", e.Message);
            Assert.Contains("relu1", e.Message);
        }
    }
}
