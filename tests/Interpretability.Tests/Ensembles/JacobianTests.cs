using Interpretability.Ensembles;
using Interpretability.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Tests.Ensembles;

public class JacobianTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Factored_jacobian_equals_plain_central_differences_on_small_dags(int seed)
    {
        var t = PlainNetwork.SmallDag(seed);
        using var net = new CoordinateNetwork(t, seed: seed, dtype: ScalarType.Float64);
        var w = net.GetWeights();
        var b = net.GetBiases();
        var points = new[] { new[] { -0.7, 0.2 }, new[] { 0.1, -0.9 }, new[] { 0.55, 0.45 } };
        using var x = tensor(points.SelectMany(p => p).ToArray(), dtype: float64).reshape(3, 2);
        using var factors = SynapseJacobian.Compute(net, x);
        using var j = factors.Materialize().contiguous();                              // [P, O, S]
        var values = j.data<double>().ToArray();
        for (int p = 0; p < points.Length; p++)
        {
            var fd = PlainNetwork.Jacobian(t, w, b, points[p]);
            for (int c = 0; c < t.OutputCount; c++)
                for (int s = 0; s < t.SynapseCount; s++)
                    Assert.Equal(fd[c, s], values[(p * t.OutputCount + c) * t.SynapseCount + s], 7);
        }
    }

    [Fact]
    public void Factored_jacobian_of_the_article_network_matches_autograd_per_pixel_and_central_differences()
    {
        using var net = new CoordinateNetwork(SynapseTopology.Article(), seed: 2, dtype: ScalarType.Float64);
        using var x = PixelGrid.Square(4).Coordinates(ScalarType.Float64);
        using var factors = SynapseJacobian.Compute(net, x);
        using var j = factors.Materialize().contiguous();
        // Autograd, one output at a time: an independent route through libtorch's own backward.
        for (int p = 0; p < 16; p += 5)
            for (int c = 0; c < 3; c++)
            {
                using var scope = NewDisposeScope();
                var y = net.forward(x.narrow(0, p, 1));
                var g = autograd.grad(new[] { y[0, c] }, new Tensor[] { net.Weights, net.Biases });
                Assert.True((g[0] - j[p, c]).abs().max().ToDouble() < 1e-12, $"weights, pixel {p}, channel {c}");
                Assert.True((g[1] - factors.Deltas[c, p]).abs().max().ToDouble() < 1e-12, $"biases = δ, pixel {p}, channel {c}");
            }
        // The brief's EXPECT: central differences (h = 1e-4) within 1e-4 relative.
        Assert.True(SynapseJacobian.MaxRelativeError(net, x, 1e-4) < 1e-6);
    }

    [Fact]
    public void Linear_effect_equals_the_jacobian_times_the_weight_change()
    {
        using var net = new CoordinateNetwork(SynapseTopology.RandomDag(seed: 1), seed: 5, dtype: ScalarType.Float64);
        using var x = PixelGrid.Square(5).Coordinates(ScalarType.Float64);
        using var factors = SynapseJacobian.Compute(net, x);
        using var gen = new Generator(3);
        using var dw = randn(new long[] { 460 }, dtype: float64, generator: gen);
        using var expected = factors.Materialize().matmul(dw);                         // [P, O]
        using var linear = factors.LinearEffect(dw);
        Assert.True((expected - linear).abs().max().ToDouble() < 1e-12);
        // And it predicts a small actual change to first order.
        using var before = net.Trace(x);
        var small = dw * 1e-6;
        using (net.Perturb(small))
        using (var after = net.Trace(x))
        {
            var actual = (after.Outputs - before.Outputs) / 1e-6;
            Assert.True((actual - linear).abs().max().ToDouble() < 1e-4);
        }
    }

    [Fact]
    public void Columns_and_effect_norms_agree_with_the_materialised_jacobian()
    {
        using var net = new CoordinateNetwork(SynapseTopology.Article(), seed: 6, dtype: ScalarType.Float64);
        using var x = PixelGrid.Square(6).Coordinates(ScalarType.Float64);
        using var f = SynapseJacobian.Compute(net, x);
        using var j = f.Materialize();
        using var col = f.Column(123);
        Assert.True((col - j.select(2, 123)).abs().max().ToDouble() < 1e-14);
        using var norms = f.EffectNorms();                                              // [S, P]
        using var expected = j.pow(2).sum(dim: 1).sqrt().t();
        Assert.True((norms - expected).abs().max().ToDouble() < 1e-12);
    }

    [Fact]
    public void Effect_maps_are_linear_for_small_weight_changes_and_not_for_large_ones()
    {
        using var net = new CoordinateNetwork(SynapseTopology.Article(), seed: 9, dtype: ScalarType.Float64);
        using var x = PixelGrid.Square(6).Coordinates(ScalarType.Float64);
        using var f = SynapseJacobian.Compute(net, x);
        using var linear = EffectMaps.Linear(f, 40, 0.5);
        Assert.True((linear - f.Column(40) * 0.5).abs().max().ToDouble() < 1e-15);
        // Actual: a plain re-evaluation with the weight moved.
        using var actual = EffectMaps.Actual(net, x, 40, 0.5);
        var w = net.GetWeights();
        var b = net.GetBiases();
        var moved = (double[])w.Clone();
        moved[40] += 0.5;
        var xy = x.data<double>().ToArray();
        for (int p = 0; p < 36; p += 7)
        {
            var o0 = PlainNetwork.Outputs(net.Topology, w, b, new[] { xy[2 * p], xy[2 * p + 1] });
            var o1 = PlainNetwork.Outputs(net.Topology, moved, b, new[] { xy[2 * p], xy[2 * p + 1] });
            for (int c = 0; c < 3; c++) Assert.Equal(o1[c] - o0[c], actual[p, c].ToDouble(), 12);
        }
        // Relative linearisation error shrinks in proportion to Δw.
        var tiny = EffectMaps.LinearizationErrors(net, x, 1e-4);
        var big = EffectMaps.LinearizationErrors(net, x, 1.0);
        Assert.True(tiny.Max() < 1e-2, $"max error at Δw = 1e-4: {tiny.Max()}");
        Assert.True(big.Average() > 100 * tiny.Average());
    }

    [Fact]
    public void Forward_differences_with_one_pass_per_synapse_approximate_the_factored_jacobian()
    {
        using var net = new CoordinateNetwork(PlainNetwork.SmallDag(4), seed: 1, dtype: ScalarType.Float64);
        using var x = PixelGrid.Square(3).Coordinates(ScalarType.Float64);
        using var f = SynapseJacobian.Compute(net, x);
        using var fd = SynapseJacobian.ForwardDifferences(net, x, 1e-7);
        Assert.True((fd - f.Materialize()).abs().max().ToDouble() < 1e-5);
    }
}
