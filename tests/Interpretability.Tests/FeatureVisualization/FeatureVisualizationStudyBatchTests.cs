using System.Text.Json;
using Interpretability.FeatureVisualization;
using Interpretability.Nn;
using Interpretability.Probing;
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

        // the dataset scan (200 test images, once per layer) and the optimised pictures' means (4 pictures) went through the runner
        Assert.Single(small.Calls, c => c.Key.StartsWith("featviz-dataset-examples:relu3:200x3x64x64", StringComparison.Ordinal));
        Assert.Single(small.Calls, c => c.Key.StartsWith("featviz-channel-means:relu3:4x3x64x64", StringComparison.Ordinal));
        Assert.All(small.Calls, c => Assert.Equal(DatasetScan.DefaultBatchSize, c.Requested));

        Assert.Equal(Numbers(reference, "channels"), Numbers(split, "channels"));
        Assert.Equal(Numbers(reference, "never_firing_channels"), Numbers(split, "never_firing_channels"));
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
}
