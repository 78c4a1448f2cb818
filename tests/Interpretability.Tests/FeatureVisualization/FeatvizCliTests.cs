using System.Text.Json;
using Interpretability.Cli;
using Interpretability.Cli.Commands;

namespace Interpretability.Tests.FeatureVisualization;

public class FeatvizCliTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("interp-fv-cli-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args) => Infrastructure.CliRunner.Run(args);

    [Fact]
    public void Featviz_quick_writes_grids_traces_and_the_gain_metrics()
    {
        var (code, stdout, err) = Run("featviz", "--out", dir, "--quick", "--quiet", "--threads", "1", "--steps", "6");
        Assert.True(code == 0, err);
        Assert.Contains(Path.Combine(dir, "index.html"), stdout);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "metrics.json")));
        var root = doc.RootElement;
        Assert.Equal(6, root.GetProperty("steps").GetInt32());
        foreach (var layer in new[] { "relu2", "relu3", "relu4" })
        {
            Assert.Equal(2, root.GetProperty("activation_gain").GetProperty(layer).GetArrayLength());
            Assert.True(File.Exists(Path.Combine(dir, $"grid_{layer}.png")), layer);
            Assert.True(File.Exists(Path.Combine(dir, $"trace_{layer}.png")), layer);
        }
        var median = root.GetProperty("activation_gain_median").GetDouble();
        var fraction = root.GetProperty("fraction_channels_gain_at_least_10").GetDouble();
        Assert.InRange(fraction, 0, 1);
        Assert.True(median >= 0);
        // quick mode: two channels per layer that fire on the test set, each counted; failures counted, never left out
        Assert.Equal(6, root.GetProperty("summary_channel_count").GetInt32());
        Assert.InRange(root.GetProperty("failed_channel_count").GetInt32(), 0, 6);
        Assert.Equal(root.GetProperty("fraction_channels_gain_at_least_10").GetDouble(),
            new[] { "relu2", "relu3", "relu4" }.SelectMany(l => root.GetProperty("activation_gain").GetProperty(l).EnumerateArray().Select(e => e.GetDouble())).Count(g => g >= 10) / 6.0, 3);
        Assert.InRange(root.GetProperty("saturation_median").GetDouble(), 0, 1);
        Assert.True(root.GetProperty("silent_channel_count").GetInt32() >= 0);
        Assert.True(File.Exists(Path.Combine(dir, "filters.png")));
        Assert.True(File.Exists(Path.Combine(dir, "snapshots_relu2.png")));
        Assert.True(File.Exists(Path.Combine(dir, "gains.png")));
        Assert.Empty(Directory.GetFiles(dir, "*.tmp", SearchOption.AllDirectories));
    }

    [Fact]
    public void One_layer_with_chosen_channels_and_diversity()
    {
        var (code, _, err) = Run("featviz", "--out", dir, "--quick", "--quiet", "--threads", "1", "--steps", "3", "--layer", "relu3", "--channels", "1,4",
            "--objective", "diversity", "--param", "pixel", "--seed", "2");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "metrics.json")));
        var root = doc.RootElement;
        Assert.Equal(new[] { 1, 4 }, root.GetProperty("channels").GetProperty("relu3").EnumerateArray().Select(e => e.GetInt32()));
        Assert.False(root.GetProperty("activation_gain").TryGetProperty("relu2", out _));
        Assert.Equal(2 * 2, 2 * root.GetProperty("layer_relu3").GetProperty("activation_gain").GetArrayLength());
        Assert.True(File.Exists(Path.Combine(dir, "grid_relu3.png")));
    }

    [Theory]
    [InlineData(new[] { "featviz", "--out", "x", "--objective", "style" }, "--objective")]
    [InlineData(new[] { "featviz", "--out", "x", "--param", "dct" }, "--param")]
    [InlineData(new[] { "featviz", "--out", "x", "--steps", "0" }, "--steps")]
    [InlineData(new[] { "featviz", "--out", "x", "--channels", "a,b" }, "--channels")]
    [InlineData(new[] { "featviz", "--out", "x", "--model", "zoo:nothing" }, "--model")]
    public void Bad_options_exit_2_naming_the_option(string[] args, string mentioned)
    {
        var (code, _, err) = Run(args);
        Assert.Equal(2, code);
        Assert.Contains(mentioned, err);
    }

    [Fact]
    public void Several_layers_in_one_run()
    {
        var (code, _, err) = Run("featviz", "--out", dir, "--quick", "--quiet", "--threads", "1", "--steps", "2", "--layer", "relu3,conv4", "--channels", "0-1");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "metrics.json")));
        Assert.Equal(new[] { "relu3", "conv4" }, doc.RootElement.GetProperty("layers").EnumerateArray().Select(e => e.GetString()));
        Assert.True(File.Exists(Path.Combine(dir, "grid_conv4.png")));
    }

    [Fact]
    public void Channel_lists_parse()
    {
        Assert.Equal(new[] { 0, 1, 2, 5 }, FeatvizCommand.ParseChannels("0-2,5", out _));
        Assert.Empty(FeatvizCommand.ParseChannels("all", out _)!);
        Assert.Null(FeatvizCommand.ParseChannels("3-1", out var error));
        Assert.Contains("3-1", error);
    }
}
