using Interpretability.Probing;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Interpretability.Tests.Probing;

/// <summary>The dataset scan against a hand computation over one forward pass: maxima, their positions, the ranking.</summary>
public class DatasetScanTests
{
    private static TorchSharp.Modules.Sequential Model()
    {
        // channel 2 is dead (a large negative bias before the ReLU): every image ties at 0, every position too
        var conv = Conv2d(3, 3, 3, stride: 2);
        Interpretability.Nn.SeededInit.Apply(conv, 7);
        using (no_grad()) conv.bias![2].fill_(-100);
        return Sequential(("conv", conv), ("relu", ReLU()), ("gap", AdaptiveAvgPool2d(1)), ("flat", Flatten()));
    }

    [Fact]
    public void Maxima_positions_means_and_ranking_match_a_hand_computation()
    {
        using var model = Model();
        using var g = new Generator(2);
        var images = rand(new long[] { 7, 3, 11, 15 }, generator: g);                    // relu: [7, 3, 5, 7], not square
        using var cap = ActivationRecorder.Capture(model, images, new[] { "relu" });
        var a = cap["relu"].contiguous().data<float>().ToArray();
        int n = 7, c = 3, h = 5, w = 7;
        var max = new float[n, c];
        var arg = new long[n, c];
        var mean = new double[c];
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < c; ch++)
            {
                max[i, ch] = float.NegativeInfinity;
                double sum = 0;
                for (int p = 0; p < h * w; p++)
                {
                    var v = a[(i * c + ch) * h * w + p];
                    sum += v;
                    if (v > max[i, ch]) { max[i, ch] = v; arg[i, ch] = p; }          // the first position on ties
                }
                mean[ch] += sum / (h * w) / n;
            }

        using var scan = DatasetScan.Run(model, "relu", images, batchSize: 3);     // 3 + 3 + 1
        Assert.Equal((7, 3, 5, 7), (scan.Count, scan.Channels, scan.Height, scan.Width));
        var sm = scan.Max.data<float>().ToArray();
        var sa = scan.ArgMax.data<long>().ToArray();
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < c; ch++)
            {
                Assert.Equal(max[i, ch], sm[i * c + ch]);
                Assert.Equal(arg[i, ch], sa[i * c + ch]);
            }
        var sMean = scan.MeanActivation.data<double>().ToArray();
        for (int ch = 0; ch < c; ch++) Assert.Equal(mean[ch], sMean[ch], 6);
        Assert.Equal(0, sMean[2]);

        using var top = scan.Top(new[] { 1, 2, 0 }, k: 4);
        Assert.Equal(new[] { 1, 2, 0 }, top.Channels);
        Assert.Equal(new long[] { 3, 4 }, top.Indices.shape);
        for (int r = 0; r < 3; r++)
        {
            int ch = top.Channels[r];
            var expected = Enumerable.Range(0, n).OrderByDescending(i => max[i, ch]).ThenBy(i => i).Take(4).ToArray();
            for (int j = 0; j < 4; j++)
            {
                int i = expected[j];
                Assert.Equal(i, top.Indices[r, j].ToInt64());
                Assert.Equal(max[i, ch], top.Values[r, j].ToSingle());
                Assert.Equal(arg[i, ch] / w, top.Rows[r, j].ToInt64());
                Assert.Equal(arg[i, ch] % w, top.Cols[r, j].ToInt64());
            }
        }
        // the dead channel: ties everywhere, so the first images, each at its first position
        Assert.Equal(new long[] { 0, 1, 2, 3 }, top.Indices[1].data<long>().ToArray());
        Assert.Equal(new long[] { 0, 0, 0, 0 }, top.Rows[1].data<long>().ToArray());

        using var all = scan.Top(k: 100);                                            // k capped at N
        Assert.Equal(new long[] { 3, 7 }, all.Indices.shape);
    }

    [Fact]
    public void A_layer_without_positions_has_one_and_the_arguments_are_checked()
    {
        using var model = Model();
        var images = rand(4, 3, 9, 9);
        using (var scan = DatasetScan.Run(model, "flat", images))
        {
            Assert.Equal((1, 1), (scan.Height, scan.Width));
            Assert.True(scan.ArgMax.eq(0).all().item<bool>());
            using var cap = ActivationRecorder.Capture(model, images, new[] { "flat" });
            Assert.True(scan.Max.equal(cap["flat"]).all().item<bool>());
            Assert.Equal("k", Assert.Throws<ArgumentOutOfRangeException>(() => scan.Top(k: 0)).ParamName);
            Assert.Equal("channels", Assert.Throws<ArgumentOutOfRangeException>(() => scan.Top(new[] { 3 })).ParamName);
        }
        Assert.Equal("layer", Assert.Throws<ArgumentException>(() => DatasetScan.Run(model, "nope", images)).ParamName);
        Assert.Equal("images", Assert.Throws<ArgumentException>(() => DatasetScan.Run(model, "relu", images[0])).ParamName);
        Assert.Equal("batchSize", Assert.Throws<ArgumentOutOfRangeException>(() => DatasetScan.Run(model, "relu", images, 0)).ParamName);
    }

    [Fact]
    public void Channel_means_in_small_batches_equal_one_pass()
    {
        var conv = Conv2d(3, 4, 3, padding: 1);
        Interpretability.Nn.SeededInit.Apply(conv, 3);
        using var model = Sequential(("conv", conv), ("relu", ReLU()));
        using var g = new Generator(1);
        var images = rand(new long[] { 7, 3, 10, 10 }, generator: g);
        var whole = DatasetScan.ChannelMeans(model, "relu", images);
        var parts = DatasetScan.ChannelMeans(model, "relu", images, batchSize: 3);       // 3 + 3 + 1
        Assert.Equal(new long[] { 7, 4 }, parts.shape);
        Assert.True(parts.allclose(whole, rtol: 1e-5, atol: 1e-6), $"max difference {(parts - whole).abs().max().ToDouble()}");
        Assert.Throws<ArgumentOutOfRangeException>(() => DatasetScan.ChannelMeans(model, "relu", images, batchSize: 0));
    }
}
