using System.Text.Json;
using Interpretability.Cli;

namespace Interpretability.Tests.Cli;

public class CliTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("interp-cli-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args) => Infrastructure.CliRunner.Run(args);

    [Theory]
    [InlineData(new[] { "report" }, "--out")]                                     // required option missing
    [InlineData(new[] { "report", "--out", "x", "--threads", "0" }, "--threads")]
    [InlineData(new[] { "report", "--out", "x", "--seed", "abc" }, "abc")]
    [InlineData(new[] { "report", "--out", "x", "--device", "gpu" }, "--device")]
    [InlineData(new[] { "report", "--out", "x", "--bogus" }, "--bogus")]
    [InlineData(new[] { "frobnicate" }, "frobnicate")]
    [InlineData(new string[0], "command")]
    public void Bad_usage_exits_2_with_a_one_line_message_naming_the_problem(string[] args, string mentioned)
    {
        var (code, _, err) = Run(args);
        Assert.Equal(2, code);
        Assert.Contains(mentioned, err);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public void Asking_for_cuda_without_a_gpu_is_a_clear_failure()
    {
        if (Interpretability.Cuda.DevicePolicy.CudaAvailable) return; // a GPU machine: nothing to check here
        var (code, _, err) = Run("probing", "--out", dir, "--device", "cuda", "--quiet");
        Assert.Equal(1, code);
        Assert.Contains("no CUDA device", err);
        Assert.DoesNotContain("   at ", err); // no stack trace without --verbose
    }

    [Fact]
    public void Report_quick_writes_index_html_and_metrics_json()
    {
        var (code, stdout, err) = Run("report", "--out", dir, "--quick", "--quiet", "--seed", "3");
        Assert.True(code == 0, err);
        var index = Path.Combine(dir, "index.html");
        var metrics = Path.Combine(dir, "metrics.json");
        Assert.True(File.Exists(index));
        Assert.True(File.Exists(metrics));
        Assert.Contains(index, stdout);
        using var doc = JsonDocument.Parse(File.ReadAllText(metrics));
        var sections = doc.RootElement.GetProperty("report_sections").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Contains("probing", sections);
        Assert.True(doc.RootElement.GetProperty("report_failed_sections").GetArrayLength() == 0, "failed sections: " + err);
        // Every figure the page links exists.
        var html = File.ReadAllText(index);
        foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(html, "src=\"([^\"]+)\""))
            Assert.True(File.Exists(Path.Combine(dir, Uri.UnescapeDataString(m.Groups[1].Value))), m.Groups[1].Value);
        // No temporary files are left behind.
        Assert.Empty(Directory.GetFiles(dir, "*.tmp", SearchOption.AllDirectories));

        // Legible structure: contents with sub-sections, numbered anchored figures with alternative text, folded metrics,
        // the references the studies cite, and the provenance that reproduces the run.
        var figures = Reporting.ReportHtml.AssertStructured(html);
        Assert.True(figures > 20, $"{figures} figures");
        Assert.Equal(sections.Count, Reporting.ReportHtml.FoldedMetricTables(html));
        Assert.Equal(sections.Append("references"), Reporting.ReportHtml.Sections(html));
        foreach (var study in new[] { "attribution", "dynamics", "ensembles", "featviz", "tuning" }.Where(sections.Contains))
            Assert.Matches($"<h3 id=\"{study}-", html);   // the long studies have sub-sections
        foreach (var key in new[] { "sundararajan2017", "selvaraju2017", "bach2015", "olah2017", "saxe2019" })
            Assert.Contains($"<li id=\"ref-{key}\">", html);
        var command = Interpretability.Studies.ReportProvenance.FormatCommandLine("interp", new[] { "report", "--out", dir, "--quick", "--quiet", "--seed", "3" });
        Assert.StartsWith("interp report --out ", command);
        Assert.Contains($"<code class=\"command\">{System.Net.WebUtility.HtmlEncode(command)}</code>", html);
        Assert.Equal(command, doc.RootElement.GetProperty("command_line").GetString());
        Assert.False(string.IsNullOrEmpty(doc.RootElement.GetProperty("library_version").GetString()));
        Assert.False(string.IsNullOrEmpty(doc.RootElement.GetProperty("commit").GetString()));
    }
}
