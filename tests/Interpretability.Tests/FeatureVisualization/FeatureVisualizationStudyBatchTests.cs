using System.Text.Json;
using Interpretability.FeatureVisualization;
using Interpretability.Nn;
using Interpretability.Studies;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Interpretability.Tests.FeatureVisualization;

public class FeatureVisualizationStudyBatchTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("interp-fv-batches-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>Runs every job through <see cref="FixedBatchRunner"/> with at most <c>max</c> images per batch, and records the calls.</summary>
    private sealed class SmallBatches(int max) : IBatchRunner
    {
        public List<(string Key, int Requested)> Calls { get; } = new();

        public T Run<T>(string key, int requested, Func<int, T> work)
        {
            Calls.Add((key, requested));
            return FixedBatchRunner.Instance.Run(key, Math.Min(requested, max), work);
        }
    }

    private JsonElement RunStudy(string name, IBatchRunner? batches)
    {
        var options = new FeatureVisualizationStudyOptions(Layers: new[] { "relu3" }, Channels: new[] { 0, 1, 2, 3 }, Steps: 2);
        var result = StudyRunner.RunOne(new FeatureVisualizationStudy(options), new StudyContext(Path.Combine(dir, name), quick: true, batches: batches));
        using var doc = JsonDocument.Parse(File.ReadAllText(result.MetricsPath));
        return doc.RootElement.GetProperty("layer_relu3").Clone();
    }

    private static double[] Numbers(JsonElement layer, string key) => layer.GetProperty(key).EnumerateArray().Select(e => e.GetDouble()).ToArray();

    [Fact]
    public void Small_batches_from_the_runner_give_the_same_study_results()
    {
        var small = new SmallBatches(3);
        var reference = RunStudy("default", null);
        var split = RunStudy("small", small);

        // the dataset scans (200 test images) and the optimised pictures' means (4 pictures) went through the runner
        Assert.Equal(2, small.Calls.Count(c => c.Key.StartsWith("featviz-dataset-examples:relu3:200x3x64x64", StringComparison.Ordinal)));
        Assert.Single(small.Calls, c => c.Key.StartsWith("featviz-channel-means:relu3:4x3x64x64", StringComparison.Ordinal));
        Assert.All(small.Calls, c => Assert.Equal(DatasetExamples.DefaultBatchSize, c.Requested));

        Assert.Equal(Numbers(reference, "channels"), Numbers(split, "channels"));
        Assert.Equal(reference.GetProperty("layer_dead_channel_count").GetInt32(), split.GetProperty("layer_dead_channel_count").GetInt32());
        foreach (var key in new[] { "dataset_mean_activation", "optimised_activation", "activation_gain" })
        {
            var a = Numbers(reference, key);
            var b = Numbers(split, key);
            Assert.Equal(a.Length, b.Length);
            for (int i = 0; i < a.Length; i++)
                Assert.True(Math.Abs(a[i] - b[i]) <= 1e-4 * Math.Max(1, Math.Abs(a[i])), $"{key}[{i}]: {a[i]} with the default batches, {b[i]} with batches of 3");
        }
        Assert.Contains(Numbers(reference, "dataset_mean_activation"), m => m > 0);   // the comparison is over live channels too
    }

    [Fact]
    public void Channel_means_in_small_batches_equal_one_pass()
    {
        var conv = Conv2d(3, 4, 3, padding: 1);
        Interpretability.Nn.SeededInit.Apply(conv, 3);
        using var model = Sequential(("conv", conv), ("relu", ReLU()));
        using var g = new Generator(1);
        var images = rand(new long[] { 7, 3, 10, 10 }, generator: g);
        var whole = DatasetExamples.ChannelMeans(model, "relu", images);
        var parts = DatasetExamples.ChannelMeans(model, "relu", images, batchSize: 3);       // 3 + 3 + 1
        Assert.Equal(new long[] { 7, 4 }, parts.shape);
        Assert.True(parts.allclose(whole, rtol: 1e-5, atol: 1e-6), $"max difference {(parts - whole).abs().max().ToDouble()}");
        Assert.Throws<ArgumentOutOfRangeException>(() => DatasetExamples.ChannelMeans(model, "relu", images, batchSize: 0));
    }
}
