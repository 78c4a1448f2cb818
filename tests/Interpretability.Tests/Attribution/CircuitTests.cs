using Interpretability.Attribution;
using TorchSharp;
using static TorchSharp.torch;
using static Interpretability.Tests.Attribution.GradientTestNets;

namespace Interpretability.Tests.Attribution;

/// <summary>Activation × weight circuits against exact decompositions and a hand-computed kernel product.</summary>
public class CircuitTests
{
    [Theory]
    [InlineData("pool2")]   // adjacent: pool2 feeds conv3
    [InlineData("relu2")]   // through max pooling (positively homogeneous, still exact)
    public void Activation_x_weight_sums_to_the_preactivation_minus_bias(string from)
    {
        using var net = Cnn(seed: 61);
        var x = rand(2, 3, 16, 16);
        using var c = Circuits.Attribute(net, x, from, "conv3");
        Assert.Equal(new long[] { 2, 8, 8 }, c.Attributions.shape);
        var conv3 = (TorchSharp.Modules.Conv2d)net[6];
        var positions = 4 * 4;
        var expected = c.Preactivation - conv3.bias!.detach() * positions;
        Assert.True(c.Attributions.sum(dim: 2).allclose(expected, rtol: 1e-4, atol: 1e-4));
        using var at = Circuits.Attribute(net, x, from, "conv3", (1, 2));
        Assert.True(at.Attributions.sum(dim: 2).allclose(at.Preactivation - conv3.bias!.detach(), rtol: 1e-4, atol: 1e-5));
    }

    [Fact]
    public void Expanded_weights_of_adjacent_layers_are_the_conv_weights()
    {
        using var net = Cnn(seed: 62);
        var k = Circuits.ExpandedWeights(net, rand(1, 3, 16, 16), "pool2", "conv3");
        var w = ((TorchSharp.Modules.Conv2d)net[6]).weight!.detach();
        Assert.Equal(w.shape, k.shape);
        Assert.True(k.allclose(w, rtol: 1e-5, atol: 1e-7));
    }

    [Fact]
    public void Expanded_weights_across_two_linear_convs_are_the_kernel_product()
    {
        manual_seed(63);
        using var net = nn.Sequential(("inp", nn.Identity()), ("a", nn.Conv2d(2, 3, 3)), ("b", nn.Conv2d(3, 2, 3)));
        var wa = ((TorchSharp.Modules.Conv2d)net[1]).weight!.detach().to(float64).data<double>().ToArray();   // [3,2,3,3]
        var wb = ((TorchSharp.Modules.Conv2d)net[2]).weight!.detach().to(float64).data<double>().ToArray();   // [2,3,3,3]
        var k = Circuits.ExpandedWeights(net, rand(1, 2, 9, 9), "inp", "b");
        Assert.Equal(new long[] { 2, 2, 5, 5 }, k.shape);
        var got = k.to(float64).data<double>().ToArray();
        for (int o = 0; o < 2; o++)
            for (int i = 0; i < 2; i++)
                for (int u = 0; u < 5; u++)
                    for (int v = 0; v < 5; v++)
                    {
                        double sum = 0;
                        for (int m = 0; m < 3; m++)
                            for (int p = 0; p < 3; p++)
                                for (int q = 0; q < 3; q++)
                                {
                                    int r = u - p, s = v - q;
                                    if (r is < 0 or > 2 || s is < 0 or > 2) continue;
                                    sum += wb[((o * 3 + m) * 3 + p) * 3 + q] * wa[((m * 2 + i) * 3 + r) * 3 + s];
                                }
                        Assert.Equal(sum, got[((o * 2 + i) * 5 + u) * 5 + v], 5);
                    }
    }

    [Fact]
    public void Kernel_picture_is_written_and_the_model_is_unchanged()
    {
        using var net = Cnn(seed: 64);
        var snapshot = Snapshot(net);
        var k = Circuits.ExpandedWeights(net, rand(1, 3, 16, 16), "relu1", "conv3");
        using var c = Circuits.Attribute(net, rand(1, 3, 16, 16), "relu2", "conv3");
        AssertUnchanged(net, snapshot);
        var png = Circuits.KernelPicture(k, "relu1 → conv3", maxOut: 4, maxIn: 6);
        using (var bitmap = SkiaSharp.SKBitmap.Decode(png))
            Assert.True(bitmap.Width > 4 * 28 && bitmap.Height > 4 * 28, $"{bitmap.Width}×{bitmap.Height}");
        Assert.Throws<ArgumentException>("to", () => Circuits.Attribute(net, rand(1, 3, 16, 16), "relu2", "conv7"));
    }
}
