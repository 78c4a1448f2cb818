using System.Text.Json;
using Interpretability.Studies;

namespace Interpretability.Tests.Reporting;

public class ReportingTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("interp-report-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void Metrics_write_numbers_as_numbers_under_snake_case_keys()
    {
        var m = new Metrics().Set("final_rmse", 0.05).Set("synapse_count", 460).Set("passed", true)
            .Set("singular_values", new[] { 3.0, 2.0 }).Set("per_method", new[] { new KeyValuePair<string, double>("IntegratedGradients", 0.1) });
        var path = Path.Combine(dir, "metrics.json");
        m.Save(path);
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        Assert.Equal(JsonValueKind.Number, doc.RootElement.GetProperty("final_rmse").ValueKind);
        Assert.Equal(460, doc.RootElement.GetProperty("synapse_count").GetInt32());
        Assert.Equal(JsonValueKind.True, doc.RootElement.GetProperty("passed").ValueKind);
        Assert.Equal(2, doc.RootElement.GetProperty("singular_values").GetArrayLength());
        Assert.Equal(0.1, doc.RootElement.GetProperty("per_method").GetProperty("IntegratedGradients").GetDouble());
    }

    [Theory]
    [InlineData("FinalRmse")]
    [InlineData("final-rmse")]
    [InlineData("_x")]
    [InlineData("x__y")]
    public void Metric_keys_must_be_snake_case(string key) =>
        Assert.Throws<ArgumentException>(() => new Metrics().Set(key, 1.0));

    [Fact]
    public void Non_finite_metrics_are_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => new Metrics().Set("loss", double.NaN));
        Assert.Contains("loss", e.Message);
        Assert.Throws<ArgumentException>(() => new Metrics().Set("values", new[] { 1.0, double.PositiveInfinity }));
    }

    private sealed class FailingStudy : Study
    {
        public override string Name => "broken";
        public override string Title => "A study that fails";
        public override void Run(StudyContext context, ReportSection section, Metrics metrics)
        {
            metrics.Set("started", true);
            throw new InvalidOperationException("the data was wrong");
        }
    }

    private sealed class FineStudy : Study
    {
        public override string Name => "fine";
        public override string Title => "A study that works";
        public override void Run(StudyContext context, ReportSection section, Metrics metrics)
        {
            section.AddFigure(context.SavePng("pic.png", Interpretability.Imaging.Charts.Bars(new[] { "a" }, new[] { 1.0 }), "a bar"));
            metrics.Set("answer", 42);
        }
    }

    [Fact]
    public void A_failing_section_shows_its_error_and_the_report_still_completes()
    {
        var result = StudyRunner.RunAll(new Study[] { new FailingStudy(), new FineStudy() }, new StudyContext(dir));
        Assert.True(File.Exists(result.IndexPath));
        var html = File.ReadAllText(result.IndexPath);
        Assert.Contains("the data was wrong", html);
        Assert.Contains("src=\"fine/pic.png\"", html);
        Assert.DoesNotContain("http://", html);
        Assert.DoesNotContain("https://", html);
        Assert.True(File.Exists(Path.Combine(dir, "fine", "pic.png")));
        using var doc = JsonDocument.Parse(File.ReadAllText(result.MetricsPath));
        Assert.Equal(new[] { "broken", "fine" }, doc.RootElement.GetProperty("report_sections").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("broken", doc.RootElement.GetProperty("report_failed_sections")[0].GetString());
        Assert.Equal(42, doc.RootElement.GetProperty("fine").GetProperty("answer").GetInt32());
        Assert.Single(result.Failures);
    }

    [Fact]
    public void Report_html_escapes_text()
    {
        var r = new HtmlReport("a <b> & c");
        r.AddSection("s1", "x").Paragraph("<script>alert(1)</script>");
        var html = r.ToHtml();
        Assert.DoesNotContain("<script>", html);
        Assert.Contains("&lt;script&gt;", html);
        Assert.Throws<ArgumentException>(() => r.AddSection("bad id", "y"));
    }
}
