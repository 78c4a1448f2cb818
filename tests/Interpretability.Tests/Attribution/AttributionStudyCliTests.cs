using System.Text.Json;
using Interpretability.Cli;
using Interpretability.Studies;

namespace Interpretability.Tests.Attribution;

public class AttributionStudyCliTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("interp-attr-cli-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args) => Infrastructure.CliRunner.Run(args);

    [Fact]
    public void Attribute_quick_writes_the_grid_overlays_and_the_issues_metrics()
    {
        var (code, stdout, err) = Run("attribute", "--out", dir, "--quick", "--quiet", "--threads", "1", "--seed", "3");
        Assert.True(code == 0, err);
        Assert.Contains(Path.Combine(dir, "index.html"), stdout);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "metrics.json")));
        var root = doc.RootElement;
        var methods = root.GetProperty("methods").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Equal(AttributionStudy.MethodNames, methods);
        foreach (var m in methods)
        {
            Assert.True(File.Exists(Path.Combine(dir, $"overlay_{m}.png")), m);
            Assert.True(root.GetProperty("per_method").TryGetProperty(m, out var pm), m);
            Assert.True(pm.GetProperty("seconds").GetDouble() >= 0);
        }
        var delta = root.GetProperty("ig_convergence_delta").GetDouble();
        Assert.True(delta >= 0 && double.IsFinite(delta), $"ig_convergence_delta {delta}");
        // On the ReLU/max-pool ShapesNet the completeness error shrinks as steps grow (4 → 32 in quick mode).
        var bySteps = root.GetProperty("ig_convergence_relative_by_steps");
        Assert.True(bySteps.GetProperty("32").GetDouble() < bySteps.GetProperty("4").GetDouble(), bySteps.ToString());
        Assert.True(root.GetProperty("lrp_conservation_error").GetDouble() >= 0);
        // DeepLift is exact on ShapesNet (ReLU and max pooling rules): Σ attributions = S(x) − S(0).
        var deeplift = root.GetProperty("per_method").GetProperty("deeplift");
        Assert.True(deeplift.GetProperty("completeness_error").GetDouble() < 1e-4, deeplift.ToString());
        Assert.True(root.GetProperty("circuit_decomposition_error").GetDouble() < 1e-3);
        foreach (var png in new[] { "comparison_grid.png", "ig_convergence.png", "lrp_composites.png", "layers.png", "circuit_relu2_conv3.png",
                                    "expanded_weights_relu1_conv3.png", "weights_pool1_conv2.png", "per_class_mean.png" })
            Assert.True(File.Exists(Path.Combine(dir, png)), png);
        Assert.Empty(Directory.GetFiles(dir, "*.tmp", SearchOption.AllDirectories));
    }

    [Fact]
    public void One_method_runs_alone_and_the_target_is_respected()
    {
        var (code, _, err) = Run("attribute", "--out", dir, "--quick", "--quiet", "--threads", "1", "--method", "grad_cam", "--target", "5");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "metrics.json")));
        Assert.Equal(new[] { "grad_cam" }, doc.RootElement.GetProperty("methods").EnumerateArray().Select(e => e.GetString()).ToArray());
        Assert.Equal(5, doc.RootElement.GetProperty("target").GetInt64());
        Assert.False(File.Exists(Path.Combine(dir, "overlay_saliency.png")));
    }

    [Theory]
    [InlineData(new[] { "attribute", "--out", "x", "--method", "magic" }, "--method")]
    [InlineData(new[] { "attribute", "--out", "x", "--target", "-1" }, "--target")]
    [InlineData(new[] { "attribute", "--out", "x", "--image", "/nonexistent/cat.png" }, "--image")]
    [InlineData(new[] { "attribute", "--out", "x", "--model", "/nonexistent/model.pt" }, "--model")]
    [InlineData(new[] { "attribute", "--out", "x", "--model", "zoo:coordnet-bird" }, "--model")]
    public void Bad_options_exit_2_naming_the_option(string[] args, string mentioned)
    {
        var (code, _, err) = Run(args);
        Assert.Equal(2, code);
        Assert.Contains(mentioned, err);
    }

    [Fact]
    public void The_study_is_registered_in_the_report_and_the_cli()
    {
        Assert.Contains(ReportStudies.All(quick: true), s => s is AttributionStudy);
        Assert.Contains(InterpCli.Commands(), c => c.Name == "attribute");
    }
}
