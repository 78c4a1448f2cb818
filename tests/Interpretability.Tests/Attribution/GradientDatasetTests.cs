using Interpretability.Attribution;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Tests.Attribution;

/// <summary>Streaming a dataset through a method and per-class means.</summary>
public class GradientDatasetTests
{
    [Fact]
    public void Streaming_in_batches_equals_one_big_batch_and_yields_lazily()
    {
        using var net = GradientTestNets.Smooth(seed: 81);
        var x = randn(10, 6);
        var labels = tensor(new long[] { 0, 1, 2, 0, 1, 2, 0, 1, 2, 0 });
        var method = new InputXGradient(net);
        using var whole = method.Attribute(x, labels);
        var batches = DatasetAttribution.Stream(method, x, labels, batchSize: 4);
        var starts = new List<long>();
        foreach (var b in batches)
            using (b)
            {
                starts.Add(b.Start);
                Assert.True(b.Result.Attributions.allclose(whole.Attributions.narrow(0, b.Start, b.Targets.shape[0]), rtol: 1e-5, atol: 1e-7));
            }
        Assert.Equal(new long[] { 0, 4, 8 }, starts);
    }

    [Fact]
    public void Per_class_mean_is_the_mean_of_each_class_rows()
    {
        var w = randn(3, 5);
        Func<Tensor, Tensor> f = v => v.matmul(w.t());
        var x = randn(7, 5);
        var labels = tensor(new long[] { 2, 0, 2, 2, 0, 0, 2 });
        using var pc = DatasetAttribution.PerClassMean(new InputXGradient(f), x, labels, classes: 4, batchSize: 3);
        Assert.Equal(new long[] { 3, 0, 4, 0 }, pc.Counts);
        foreach (var c in new[] { 0L, 2L })
        {
            var rows = (labels == c).nonzero().flatten();
            var expected = (x.index_select(0, rows) * w[c]).mean(new long[] { 0 });
            Assert.True(pc.Means[c].allclose(expected, rtol: 1e-5, atol: 1e-6));
        }
        Assert.True(pc.Means[1].abs().sum().ToDouble() == 0);
        Assert.Throws<ArgumentOutOfRangeException>("labels", () => DatasetAttribution.PerClassMean(new InputXGradient(f), x, labels, classes: 2));
        Assert.Throws<ArgumentOutOfRangeException>("batchSize", () => DatasetAttribution.Stream(new InputXGradient(f), x, labels, batchSize: 0));
    }
}
