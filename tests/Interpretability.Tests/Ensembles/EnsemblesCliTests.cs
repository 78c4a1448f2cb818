using System.Text.Json;
using Interpretability.Cli;

namespace Interpretability.Tests.Ensembles;

public class EnsemblesCliTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("interp-ens-cli-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args) => Infrastructure.CliRunner.Run(args);

    public static readonly string[] RequiredKeys =
    {
        "final_rmse", "neuron_count", "synapse_count", "jacobian_max_rel_error", "region_ensemble_size", "region_ensemble_fraction",
        "region_energy_share", "ensemble_neurons", "edit_selectivity_ensemble", "edit_selectivity_best_single", "thought_experiments_passed",
    };

    [Fact]
    public void Ensembles_quick_writes_every_figure_and_the_issues_metrics()
    {
        var (code, stdout, err) = Run("ensembles", "--out", dir, "--quick", "--quiet", "--seed", "2");
        Assert.True(code == 0, err);
        Assert.Contains(Path.Combine(dir, "index.html"), stdout);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "metrics.json")));
        var root = doc.RootElement;
        foreach (var key in RequiredKeys) Assert.True(root.TryGetProperty(key, out _), $"metrics.json lacks {key}");
        Assert.Equal(37, root.GetProperty("neuron_count").GetInt32());
        Assert.Equal(460, root.GetProperty("synapse_count").GetInt32());
        Assert.Equal(4, root.GetProperty("thought_experiments_passed").GetInt32());
        Assert.True(root.GetProperty("jacobian_max_rel_error").GetDouble() < 1e-4);
        var size = root.GetProperty("region_ensemble_size").GetInt32();
        Assert.InRange(size, 1, 460);
        Assert.Equal(size / 460.0, root.GetProperty("region_ensemble_fraction").GetDouble(), 12);
        foreach (var png in new[] { "target_reconstruction.png", "training_curve.png", "synapse_contact_sheet.png", "neuron_maps.png", "region_ensemble.png",
                                    "region_edit.png", "strips.png", "te_line_classifier.png", "te_comparator.png", "te_range_detector.png", "te_two_interval.png" })
            Assert.True(File.Exists(Path.Combine(dir, png)), png);
        Assert.True(File.Exists(Path.Combine(dir, "network.json")));
        Assert.Empty(Directory.GetFiles(dir, "*.tmp", SearchOption.AllDirectories));
    }

    [Theory]
    [InlineData(new[] { "ensembles", "--out", "x", "--preset", "conv" }, "--preset")]
    [InlineData(new[] { "ensembles", "--out", "x", "--size", "4" }, "--size")]
    [InlineData(new[] { "ensembles", "--out", "x", "--epochs", "0" }, "--epochs")]
    public void Bad_options_exit_2_naming_the_option(string[] args, string mentioned)
    {
        var (code, _, err) = Run(args);
        Assert.Equal(2, code);
        Assert.Contains(mentioned, err);
    }

    [Fact]
    public void An_unreadable_target_picture_exits_2_naming_the_file()
    {
        var bad = Path.Combine(dir, "not-a-picture.png");
        File.WriteAllText(bad, "hello");
        var (code, _, err) = Run("ensembles", "--out", Path.Combine(dir, "o"), "--target", bad, "--quiet");
        Assert.Equal(2, code);
        Assert.Contains("not-a-picture.png", err);
        Assert.Contains("--target", err);
        var (code2, _, err2) = Run("ensembles", "--out", Path.Combine(dir, "o"), "--target", Path.Combine(dir, "missing.png"), "--quiet");
        Assert.Equal(2, code2);
        Assert.Contains("missing.png", err2);
    }
}
