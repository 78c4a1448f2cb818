using System.Text.Json;
using Interpretability.Models;
using Interpretability.Probing;
using Interpretability.Studies;
using Interpretability.Tests.Infrastructure;
using static TorchSharp.torch;

namespace Interpretability.Tests.Cli;

/// <summary>The studies on a model this project did not ship: a TorchSharp weight file of the small reference CNN.</summary>
public sealed class AnyModelCliTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("interp-anymodel-").FullName;
    private readonly string weights;

    public AnyModelCliTests()
    {
        // A model no study knows by name: 3 → 8 → 16 → 32 channels, 10 classes, written as TorchSharp weights.
        weights = Path.Combine(dir, "small-cnn.dat");
        using var model = ReferenceModels.SmallCnn(inChannels: 3, classes: 10, width: 8, seed: 11);
        model.save(weights);
    }

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void The_weight_file_is_recognised_as_the_small_cnn_with_its_own_weights()
    {
        using var loaded = ModelZoo.Load(weights);
        using var original = ReferenceModels.SmallCnn(inChannels: 3, classes: 10, width: 8, seed: 11);
        Assert.Equal(new long[] { 3, 64, 64 }, loaded.InputShape);
        Assert.Contains("SmallCnn", loaded.Description);
        var x = rand(2, 3, 64, 64);
        using (no_grad()) Assert.True(loaded.Module.call(x).allclose(original.call(x)));
    }

    [Fact]
    public void Attribute_runs_every_method_on_the_weight_file_at_its_last_convolution()
    {
        var outDir = Path.Combine(dir, "attr");
        var (code, _, err) = CliRunner.Run("attribute", "--out", outDir, "--model", weights, "--layer", "conv3", "--quick", "--quiet");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "metrics.json")));
        var root = doc.RootElement;
        Assert.Equal(AttributionStudy.MethodNames, root.GetProperty("methods").EnumerateArray().Select(e => e.GetString()!).ToList());
        foreach (var m in AttributionStudy.MethodNames)
        {
            Assert.True(File.Exists(Path.Combine(outDir, $"overlay_{m}.png")), m);
            Assert.True(double.IsFinite(root.GetProperty("per_method").GetProperty(m).GetProperty("max_abs").GetDouble()), m);
        }
        // DeepLift is exact on this ReLU/max-pool network too; the circuit is relu1 → conv2 (the model's own layers).
        Assert.True(root.GetProperty("per_method").GetProperty("deeplift").GetProperty("completeness_error").GetDouble() < 1e-4);
        Assert.True(root.GetProperty("circuit_decomposition_error").GetDouble() < 1e-3);
        Assert.True(File.Exists(Path.Combine(outDir, "circuit_relu1_conv2.png")));
        Assert.Equal(11, root.GetProperty("randomization_rank_correlation").EnumerateObject().Count());   // the 11 gradient methods (perturbation methods skip it in quick mode)
    }

    [Fact]
    public void The_default_layers_come_from_the_model()
    {
        using var opened = StudyModel.Open(weights);
        Assert.Equal("conv3", AttributionStudy.ChooseLayers(opened, null).Cam);
        Assert.Equal(new[] { "relu1", "relu2", "relu3" }, FeatureVisualizationStudy.DefaultLayers(opened));
        Assert.Equal(new[] { "relu1", "relu2", "relu3" }, NeuronStudiesOptions.ScannedLayers(opened, null));
        using var shapes = StudyModel.Open(null);
        var layers = AttributionStudy.ChooseLayers(shapes, null);
        Assert.Equal(("conv4", "relu3"), (layers.Cam, layers.LayerIg));
        Assert.Equal(new[] { "conv2", "conv3", "conv4" }, layers.GradCamLayers);
        Assert.Equal(("relu2", "conv3", 256L), layers.Circuit);   // conv3 runs on 16 × 16 positions
        Assert.Equal(("pool1", "conv2"), layers.Adjacent);
        Assert.Equal("relu1", layers.Expanded!.Value.From);
        Assert.Equal(new[] { "relu2", "relu3", "relu4" }, FeatureVisualizationStudy.DefaultLayers(shapes));
    }

    [Theory]
    [InlineData("attribute", "--layer", "conv9")]
    [InlineData("attribute", "--layer", "fc")]
    [InlineData("attribute", "--target", "99")]
    [InlineData("featviz", "--layer", "conv9")]
    [InlineData("featviz", "--channels", "999")]
    [InlineData("tuning", "--layer", "conv9")]
    [InlineData("tuning", "--units", "999")]
    public void A_value_the_model_cannot_take_exits_2_with_one_line_naming_the_option(string command, string option, string value)
    {
        var (code, stdout, err) = CliRunner.Run(command, "--out", Path.Combine(dir, "bad"), option, value, "--quick", "--quiet");
        Assert.Equal(2, code);
        Assert.Contains(option, err);
        Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Empty(stdout);
        if (option == "--layer") Assert.Contains("conv1", err);   // the message lists the layers that exist
    }

    [Fact]
    public void An_unwritable_out_folder_is_a_usage_error_naming_out()
    {
        var file = Path.Combine(dir, "a-file");
        File.WriteAllText(file, "x");
        var (code, _, err) = CliRunner.Run("models", "--out", Path.Combine(file, "sub"), "--quick", "--quiet");
        Assert.Equal(2, code);
        Assert.Contains("--out", err);
        Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void One_method_runs_only_its_own_sections()
    {
        var outDir = Path.Combine(dir, "ig");
        var (code, _, err) = CliRunner.Run("attribute", "--out", outDir, "--method", "integrated_gradients", "--quick", "--quiet");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "metrics.json")));
        var root = doc.RootElement;
        Assert.True(root.TryGetProperty("ig_convergence_delta", out _));
        Assert.True(root.TryGetProperty("dataset_size", out _));
        foreach (var other in new[] { "lrp_conservation_error", "circuit_decomposition_error", "layer_ig_convergence_delta" })
            Assert.False(root.TryGetProperty(other, out _), other);
        Assert.False(File.Exists(Path.Combine(outDir, "lrp_composites.png")));
    }

    [Fact]
    public void The_survey_lists_layers_in_run_order_with_their_output_shapes()
    {
        using var model = new ShapesNet(seed: 2);
        var layers = LayerSurvey.Run(model, zeros(1, 3, 64, 64));
        var convs = LayerSurvey.Convolutions(layers);
        Assert.Equal(new[] { "conv1", "conv2", "conv3", "conv4" }, convs.Select(c => c.Path));
        // 5×5 'same' convolution, then three 2×2 poolings before conv4: 64, 32, 16, 8.
        Assert.Equal(new long[] { 1, 16, 64, 64 }, convs[0].OutputShape);
        Assert.Equal(new long[] { 1, 64, 8, 8 }, convs[3].OutputShape);
        Assert.Equal("relu3", LayerSurvey.ActivationAfter(layers, convs[2]).Path);
        Assert.Equal("pool2", LayerSurvey.LeafBefore(layers, convs[2])!.Path);
        Assert.Equal(new long[] { 1, 11 }, layers.Single(l => l.Path == "fc").OutputShape);
    }
}

/// <summary>The help text says each default once.</summary>
public sealed class CliHelpTests
{
    [Fact]
    public void The_thread_default_is_stated_once()
    {
        var (code, stdout, err) = CliRunner.Run("attribute", "--help");
        Assert.True(code == 0, err);
        var line = stdout.Split('\n').Single(l => l.Contains("--threads", StringComparison.Ordinal));
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(line, "default", System.Text.RegularExpressions.RegexOptions.IgnoreCase));
        Assert.Contains("--layer", stdout);
    }
}
