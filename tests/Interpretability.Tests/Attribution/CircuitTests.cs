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

    /// <summary>
    /// The contributions into conv <c>c2</c> from the channels of its input at each row's own position, computed by hand:
    /// <c>Σ_{ky, kx} a[b, i, y_b + ky − 1, x_b + kx − 1] · W[o, i, ky, kx]</c> over the zero-padded input (float64).
    /// </summary>
    private static double[,,] HandCircuit(Tensor c2Input, TorchSharp.Modules.Conv2d c2, long[,] positions)
    {
        var a = c2Input.to(float64).contiguous().data<double>().ToArray();
        var w = c2.weight!.detach().to(float64).contiguous().data<double>().ToArray();
        int batch = (int)c2Input.shape[0], inC = (int)c2Input.shape[1], h = (int)c2Input.shape[2], wd = (int)c2Input.shape[3], outC = (int)c2.weight.shape[0];
        var result = new double[batch, outC, inC];
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < outC; o++)
                for (int i = 0; i < inC; i++)
                {
                    double sum = 0;
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++)
                        {
                            long y = positions[b, 0] + ky - 1, x = positions[b, 1] + kx - 1;
                            if (y < 0 || y >= h || x < 0 || x >= wd) continue;
                            sum += a[((b * inC + i) * h + y) * wd + x] * w[((o * inC + i) * 3 + ky) * 3 + kx];
                        }
                    result[b, o, i] = sum;
                }
        return result;
    }

    [Fact]
    public void Per_row_positions_match_a_hand_computed_kernel_product_and_sum_to_each_rows_preactivation_minus_bias()
    {
        manual_seed(65);
        using var model = nn.Sequential(("c1", nn.Conv2d(3, 4, 3, padding: 1)), ("r1", nn.ReLU()), ("p1", nn.MaxPool2d(2)),
            ("c2", nn.Conv2d(4, 5, 3, padding: 1)), ("r2", nn.ReLU()));
        var c2 = (TorchSharp.Modules.Conv2d)model[3];
        var x = rand(3, 3, 16, 16);
        var where = new long[,] { { 3, 4 }, { 0, 7 }, { 7, 0 } };
        using var positions = tensor(new long[] { 3, 4, 0, 7, 7, 0 }, new long[] { 3, 2 });
        using var cap = Interpretability.Probing.ActivationRecorder.Capture(model, x, new[] { "p1", "c2" });
        var hand = HandCircuit(cap["p1"], c2, where);
        var bias = c2.bias!.detach().to(float64).data<double>().ToArray();

        // from = the input of c2 (null), from = p1 (the layer feeding it) and from = r1 (through max pooling): all exact
        foreach (var from in new string?[] { null, "p1", "r1" })
        {
            using var c = Circuits.Attribute(model, x, from, "c2", positions, float64);
            Assert.Equal(new long[] { 3, 5, 4 }, c.Attributions.shape);
            Assert.Equal(float64, c.Attributions.dtype);
            var got = c.Attributions.data<double>().ToArray();
            var pre = c.Preactivation.data<double>().ToArray();
            for (int b = 0; b < 3; b++)
                for (int o = 0; o < 5; o++)
                {
                    double total = 0;
                    for (int i = 0; i < 4; i++)
                    {
                        Assert.Equal(hand[b, o, i], got[(b * 5 + o) * 4 + i], 12);
                        total += got[(b * 5 + o) * 4 + i];
                    }
                    var z = cap["c2"][b, o, where[b, 0], where[b, 1]].ToDouble();
                    Assert.Equal(z, pre[b * 5 + o], 12);
                    Assert.Equal(z - bias[o], total, 5);                             // z is float32: 1e-5
                }
        }

        // Without dtype the result stays in the model's type; one position for every row is the fixed-position overload.
        using (var same = tensor(new long[] { 2, 5, 2, 5, 2, 5 }, new long[] { 3, 2 }))
        using (var perRow = Circuits.Attribute(model, x, "r1", "c2", same))
        using (var fixedAt = Circuits.Attribute(model, x, "r1", "c2", (2, 5)))
        {
            Assert.Equal(float32, perRow.Attributions.dtype);
            Assert.True(perRow.Attributions.equal(fixedAt.Attributions).all().item<bool>());
            Assert.True(perRow.Preactivation.equal(fixedAt.Preactivation).all().item<bool>());
        }

        Assert.Throws<ArgumentException>("positions", () => Circuits.Attribute(model, x, null, "c2", tensor(new long[] { 1, 2 }, new long[] { 1, 2 })));
        Assert.Throws<ArgumentException>("positions", () => Circuits.Attribute(model, x, null, "c2", zeros(3, 2)));
        Assert.Throws<ArgumentOutOfRangeException>("positions", () => Circuits.Attribute(model, x, null, "c2", tensor(new long[] { 0, 0, 8, 0, 0, 0 }, new long[] { 3, 2 })));
        Assert.Throws<ArgumentException>("to", () => Circuits.Attribute(model, x, null, "c9", positions));
    }

    [Fact]
    public void Dataset_examples_at_their_argmax_average_to_the_mean_preactivation_minus_bias()
    {
        // Two images of a stimulus set, each explained at its own position: the mean over the rows of the contributions
        // into one unit sums to the mean of the unit's pre-activations minus its bias.
        using var model = nn.Sequential(("c1", nn.Conv2d(3, 4, 3, padding: 1)), ("r1", nn.ReLU()), ("p1", nn.MaxPool2d(2)), ("c2", nn.Conv2d(4, 5, 3, padding: 1)), ("r2", nn.ReLU()));
        using var images = Interpretability.Imaging.Stimuli.Curves(Interpretability.Imaging.Stimuli.CurveGrid(Interpretability.Imaging.Stimuli.Orientations(3), new[] { 6.0 }),
            new Interpretability.Imaging.StimulusCanvas(16));
        using var x = images.index_select(0, tensor(new long[] { 0, 2 }));
        using var positions = tensor(new long[] { 3, 4, 0, 7 }, new long[] { 2, 2 });
        using var c = Circuits.Attribute(model, x, null, "c2", positions, float64);
        var mean = c.Attributions[.., 1, ..].mean(new long[] { 0 });
        Assert.Equal(4, mean.shape[0]);
        using var cap = Interpretability.Probing.ActivationRecorder.Capture(model, images, new[] { "c2" });
        var bias = ((TorchSharp.Modules.Conv2d)model[3]).bias![1].item<float>();
        var expected = (cap["c2"][0, 1, 3, 4].item<float>() + cap["c2"][2, 1, 0, 7].item<float>()) / 2 - bias;
        Assert.Equal(expected, mean.sum().ToDouble(), 4);
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
