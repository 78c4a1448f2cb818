using System.Text.Json;
using Interpretability.Cli;

namespace Interpretability.Tests.NeuronStudies;

public class TuningCliTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("interp-tuning-cli-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args) => Infrastructure.CliRunner.Run(args);

    [Fact]
    public void Tuning_quick_writes_the_figures_and_the_issues_metrics()
    {
        var (code, stdout, err) = Run("tuning", "--out", dir, "--quick", "--quiet", "--threads", "1");
        Assert.True(code == 0, err);
        Assert.Contains(Path.Combine(dir, "index.html"), stdout);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "metrics.json")));
        var root = doc.RootElement;
        foreach (var key in new[] { "curve_units", "curve_family_size", "equivariance_score", "exponential_tail_rate", "exponential_tail_ks", "exponential_tail_threshold", "curve_units_per_layer" })
            Assert.True(root.TryGetProperty(key, out _), $"metrics.json lacks {key}");
        var perLayer = root.GetProperty("curve_units_per_layer");
        foreach (var layer in new[] { "relu2", "relu3", "relu4" }) Assert.True(perLayer.TryGetProperty(layer, out _), layer);
        var units = root.GetProperty("curve_units");
        Assert.Equal(root.GetProperty("curve_family_size").GetInt32(), units.GetArrayLength());
        Assert.True(units.GetArrayLength() >= 1, "ShapesNet has curve-like units");
        foreach (var u in units.EnumerateArray())
        {
            foreach (var key in new[] { "layer", "unit", "preferred_orientation_deg", "preferred_radius", "selectivity", "curve_class_auc" })
                Assert.True(u.TryGetProperty(key, out _), key);
            Assert.InRange(u.GetProperty("preferred_orientation_deg").GetDouble(), 0, 360);
            Assert.InRange(u.GetProperty("selectivity").GetDouble(), 0.5, 1);
            Assert.InRange(u.GetProperty("curve_class_auc").GetDouble(), 0, 1);
        }
        foreach (var rate in root.GetProperty("exponential_tail_rate").EnumerateObject()) Assert.True(rate.Value.GetDouble() > 0);
        foreach (var png in new[] { "stimuli.png", "family_arrangement.png", "tuning_curves.png", "radial_tuning.png", "rotation_tuning.png", "circuit.png", "curve_extraction.png", "nmf.png" })
            Assert.True(File.Exists(Path.Combine(dir, png)), png);
        Assert.NotEmpty(Directory.GetFiles(dir, "histogram_*.png"));
        Assert.NotEmpty(Directory.GetFiles(dir, "heatmap_*.png"));
    }

    [Fact]
    public void The_study_and_command_are_registered()
    {
        Assert.Contains(Interpretability.Studies.ReportStudies.All(quick: true), s => s is Interpretability.Studies.NeuronStudiesStudy { Name: "tuning" });
        Assert.Contains(InterpCli.Commands(), c => c.Name == "tuning");
    }

    [Fact]
    public void Explicit_units_are_studied_and_bad_options_exit_2()
    {
        var (code, _, err) = Run("tuning", "--out", dir, "--quick", "--quiet", "--threads", "1", "--layer", "relu4", "--units", "1,5");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "metrics.json")));
        Assert.Equal(2, doc.RootElement.GetProperty("curve_family_size").GetInt32());
        Assert.Equal("relu4", doc.RootElement.GetProperty("focus_layer").GetString());
        foreach (var (args, mentioned) in new[]
                 {
                     (new[] { "tuning", "--out", dir, "--layer", "relu9" }, "--layer"),
                     (new[] { "tuning", "--out", dir, "--units", "a,b" }, "--units"),
                     (new[] { "tuning", "--out", dir, "--model", "zoo:nope" }, "--model"),
                     (new[] { "tuning", "--out", dir, "--layer", "relu2", "--units", "3,40" }, "--units 40"),
                 })
        {
            var (c, _, e) = Run(args);
            Assert.Equal(2, c);
            Assert.Contains(mentioned, e);
        }
    }
}
