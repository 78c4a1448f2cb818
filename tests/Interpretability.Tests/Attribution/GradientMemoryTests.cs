using Interpretability.Attribution;
using Interpretability.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Tests.Attribution;

[Collection(RunsAloneCollection.Name)]
public class GradientMemoryTests
{
    [Fact]
    public void Repeated_integrated_gradients_runs_do_not_grow_native_memory()
    {
        using var net = GradientTestNets.Cnn(seed: 71);
        var x = rand(1, 3, 16, 16);
        var ig = new IntegratedGradients(net);
        var options = new IntegratedGradientsOptions(Steps: 8, InternalBatchSize: 5);
        var (rss, tensors) = MemoryProbe.Measure(() =>
        {
            using var r = ig.Attribute(x, 1, options);
        }, repeats: 100, warmup: 30);
        Assert.Equal(0, tensors);
        Assert.True(rss < MemoryProbe.LeakThresholdBytes, $"native memory in use grew by {rss / 1024} KiB per 100 runs");
    }

    [Fact]
    public void Hook_based_methods_do_not_leak_tensors()
    {
        using var net = GradientTestNets.Cnn(seed: 72);
        var x = rand(1, 3, 16, 16);
        var methods = new IAttributionMethod[] { new DeepLift(net), new GuidedBackprop(net), new Lrp(net), new GradCam(net, "relu3"), new LayerIntegratedGradients(net, "relu2").With(new IntegratedGradientsOptions(4)) };
        foreach (var m in methods)
        {
            var (_, tensors) = MemoryProbe.Measure(() =>
            {
                using var t = tensor(new long[] { 2 });
                using var r = m.Attribute(x, t);
            }, repeats: 20, warmup: 5);
            Assert.True(tensors == 0, $"{m.Name} leaks {tensors} tensors over 40 runs");
        }
    }

    [Fact]
    public void Streaming_a_dataset_keeps_one_batch_alive_and_leaks_nothing()
    {
        using var net = GradientTestNets.Cnn(seed: 73);
        var images = rand(24, 3, 16, 16);
        var labels = arange(24, dtype: ScalarType.Int64).remainder(4);
        var method = new IntegratedGradients(net).With(new IntegratedGradientsOptions(Steps: 4, InternalBatchSize: 8));
        var (_, tensors) = MemoryProbe.Measure(() =>
        {
            using var pc = DatasetAttribution.PerClassMean(method, images, labels, classes: 4, batchSize: 4);
        }, repeats: 5, warmup: 2);
        Assert.Equal(0, tensors);
        // While streaming, the live tensor count does not grow with the number of batches consumed.
        var counts = new List<long>();
        foreach (var batch in DatasetAttribution.Stream(method, images, labels, batchSize: 4))
        {
            batch.Dispose();
            GC.Collect();
            GC.WaitForPendingFinalizers();
            counts.Add(torch.Tensor.TotalCount);
        }
        Assert.Equal(6, counts.Count);
        Assert.True(counts.Max() - counts.Min() <= 2, string.Join(", ", counts));
    }
}
