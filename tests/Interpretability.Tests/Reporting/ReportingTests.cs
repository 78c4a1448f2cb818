using System.Text.Json;
using System.Text.RegularExpressions;
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
        ReportHtml.AssertStructured(html);   // among others: nothing is loaded from the network
        Assert.Equal(2, ReportHtml.FoldedMetricTables(html));
        Assert.True(File.Exists(Path.Combine(dir, "fine", "pic.png")));
        using var doc = JsonDocument.Parse(File.ReadAllText(result.MetricsPath));
        Assert.Equal(new[] { "broken", "fine" }, doc.RootElement.GetProperty("report_sections").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("broken", doc.RootElement.GetProperty("report_failed_sections")[0].GetString());
        Assert.Equal(42, doc.RootElement.GetProperty("fine").GetProperty("answer").GetInt32());
        Assert.False(string.IsNullOrEmpty(doc.RootElement.GetProperty("library_version").GetString()));
        Assert.False(string.IsNullOrEmpty(doc.RootElement.GetProperty("commit").GetString()));
        Assert.Equal("", doc.RootElement.GetProperty("command_line").GetString());   // not run from a command line
        Assert.Single(result.Failures);
    }

    [Fact]
    public void A_report_has_contents_numbered_anchored_figures_folded_metrics_references_and_provenance()
    {
        var provenance = new ReportProvenance("1.2.3-alpha.4", "0123456789abcdef0123456789abcdef01234567", "interp report --out 'my report' --quick");
        var r = new HtmlReport("A report", "seed 0") { Provenance = provenance };
        var first = r.AddSection("first", "First study");
        first.Paragraph("Opening words.").Cite("sundararajan2017", "smilkov2017");
        first.Heading("Every method on one input");
        first.AddFigure(new Figure("first/a.png", "A single figure."));
        first.AddFigureRow(new[] { new Figure("first/b.png", "Left of the row."), new Figure("first/c d.png", "Right of the row.") });
        first.Heading("Faithfulness");
        first.Cite("adebayo2018", "sundararajan2017");
        first.AddTable(new Table("An open table", new[] { "a", "b" }, new[] { (IReadOnlyList<string>)new[] { "1", "2" } }));
        first.AddTable(new Table("A long table", new[] { "a" }, new[] { (IReadOnlyList<string>)new[] { "1" }, new[] { "2" } }) { Collapsed = true });
        first.Heading("Faithfulness");   // the same title again gets its own anchor
        first.AddMetrics(new Metrics().Set("x", 1.0).Set("per_method", new Metrics().Set("y", 2)));
        var second = r.AddSection("second", "Second study");
        second.Cite("saxe2019");
        second.Heading("Ümlauts, Σ31 & “quotes”");
        second.AddFigure(new Figure("second/e.png", "Another figure."));
        second.AddMetrics(new Metrics().Set("z", 3));
        second.Fail(new InvalidOperationException("late trouble"));

        var html = r.ToHtml();
        Assert.Equal(4, ReportHtml.AssertStructured(html));
        Assert.Equal(new[] { "first", "second", "references" }, ReportHtml.Sections(html));
        Assert.Equal(2, ReportHtml.FoldedMetricTables(html));

        // Headings: anchors from the section id and a slug of the title, unique, listed under their section.
        Assert.Equal(new[] { "first-every-method-on-one-input", "first-faithfulness", "first-faithfulness-2" }, first.Headings.Select(h => h.Id));
        Assert.Equal("second-umlauts-31-quotes", second.Headings.Single().Id);
        Assert.Contains("<li><a href=\"#first\">First study</a><ol><li><a href=\"#first-every-method-on-one-input\">Every method on one input</a></li>", html);
        Assert.Contains("<h3 id=\"first-faithfulness-2\">Faithfulness ", html);

        // Figures are numbered across sections; the row numbers each of its figures; the picture links to the full PNG.
        Assert.Contains("<figure id=\"fig-3\" class=\"figure in-row\"><a href=\"first/c%20d.png\"", html);
        Assert.Contains("<a class=\"fignum\" href=\"#fig-4\">Figure 4.</a> Another figure.</figcaption>", html);
        Assert.Equal(4, first.FigureCount + second.FigureCount);

        // Tables: open with a caption unless collapsed; metrics folded and counted.
        Assert.Contains("<table><caption>An open table</caption>", html);
        Assert.Contains("<details class=\"table\"><summary>A long table (2 rows)</summary><table><thead>", html);
        Assert.Contains("<summary>Metrics (2 values)</summary>", html);
        Assert.Contains("<summary>Metrics (1 value)</summary>", html);

        // References: numbered in the order first cited, linked, with the sections that cite them; each section lists its own.
        Assert.Equal(new[] { "sundararajan2017", "smilkov2017", "adebayo2018", "saxe2019" }, r.CitedReferences.Select(c => c.Key));
        Assert.Contains("<li id=\"ref-sundararajan2017\">Sundararajan, M., Taly, A., Yan, Q. (2017). <cite>Axiomatic Attribution for Deep Networks</cite>. ICML 2017. " +
                        "<a href=\"https://arxiv.org/abs/1703.01365\">arXiv:1703.01365</a>", html);
        Assert.Contains("<a href=\"https://doi.org/10.1073/pnas.1820226116\">doi:10.1073/pnas.1820226116</a>", html);
        Assert.Contains("<p class=\"cites\">References: <a href=\"#ref-adebayo2018\">[3]</a> Adebayo et al. 2018; <a href=\"#ref-sundararajan2017\">[1]</a> Sundararajan, Taly &amp; Yan 2017</p>", html);
        Assert.Contains("<strong>Works cited in this section:</strong> <a href=\"#ref-saxe2019\">[4]</a> Saxe, McClelland &amp; Ganguli 2019", html);
        Assert.Contains("<li><a href=\"#references\">References</a></li>", html);

        // Provenance: version, commit (short, the full hash on hover) and the command that reproduces the run.
        Assert.Contains("Interpretability 1.2.3-alpha.4", html);
        Assert.Contains("<code title=\"0123456789abcdef0123456789abcdef01234567\">0123456789ab</code>", html);
        Assert.Contains("<code class=\"command\">interp report --out &#39;my report&#39; --quick</code>", html);

        // A failed section says so in the contents and in the section.
        Assert.Contains("<a href=\"#second\">Second study</a> <span class=\"bad\">(failed)</span>", html);
        Assert.Contains("late trouble", html);
    }

    [Fact]
    public void Saved_figures_reserve_their_size_and_wide_pictures_in_rows_keep_a_legible_width()
    {
        File.WriteAllBytes(Path.Combine(dir, "chart.png"), Interpretability.Imaging.Charts.Bars(new[] { "a" }, new[] { 1.0 }));
        File.WriteAllBytes(Path.Combine(dir, "wide.png"), Interpretability.Imaging.Charts.Bars(new[] { "a" }, new[] { 1.0 }, new Interpretability.Imaging.ChartOptions(Width: 1200, Height: 200)));
        File.WriteAllText(Path.Combine(dir, "broken.png"), "not a picture");
        var r = new HtmlReport("sizes") { Provenance = ReportProvenance.OfLibrary() };
        r.AddSection("s", "S").AddFigure(new Figure("chart.png", "single"))
            .AddFigureRow(new[] { new Figure("wide.png", "wide"), new Figure("broken.png", "broken"), new Figure("missing.png", "missing") });
        var html = File.ReadAllText(r.Save(dir));
        Assert.Equal(4, ReportHtml.AssertStructured(html));
        Assert.Contains("<img src=\"chart.png\" alt=\"single\" width=\"800\" height=\"500\" loading=\"lazy\">", html);
        Assert.Contains("<figure id=\"fig-2\" class=\"figure in-row\" style=\"flex:1 1 840px;max-width:min(1200px,100%)\">", html);
        Assert.Contains("<figure id=\"fig-3\" class=\"figure in-row\"><a href=\"broken.png\"", html);   // no size: the stylesheet's 420 px
        Assert.Contains("<img src=\"missing.png\" alt=\"missing\" loading=\"lazy\">", html);
    }

    [Fact]
    public void A_report_without_citations_has_no_references_section()
    {
        var r = new HtmlReport("plain") { Provenance = ReportProvenance.OfLibrary() };
        r.AddSection("only", "Only").AddFigure(new Figure("x.png", "x"));
        var html = r.ToHtml();
        Assert.Equal(1, ReportHtml.AssertStructured(html));
        Assert.DoesNotContain("id=\"references\"", html);
        Assert.DoesNotContain("Reproduce", html);   // no command line given
    }

    [Fact]
    public void Citing_an_unknown_work_or_reusing_a_reserved_anchor_is_refused()
    {
        var r = new HtmlReport("t");
        var s = r.AddSection("s", "S");
        var e = Assert.Throws<ArgumentException>(() => s.Cite("nobody1999"));
        Assert.Contains("nobody1999", e.Message);
        Assert.Contains("sundararajan2017", e.Message);   // the message lists the keys
        Assert.Throws<ArgumentException>(() => s.Cite());
        Assert.Throws<ArgumentException>(() => s.Heading(" "));
        Assert.Empty(s.Citations);
        foreach (var id in new[] { "references", "contents", "fig-1", "ref-x" })
            Assert.Throws<ArgumentException>(() => r.AddSection(id, "x"));
    }

    [Fact]
    public void The_bibliography_holds_each_method_s_original_paper_with_a_resolvable_identifier()
    {
        var keys = Bibliography.All.Select(r => r.Key).ToList();
        Assert.Equal(keys.Count, keys.Distinct().Count());
        foreach (var r in Bibliography.All)
        {
            Assert.Matches("^[a-z]+[0-9]{4}$", r.Key);
            Assert.EndsWith(r.Year.ToString(), r.Key);
            Assert.NotEmpty(r.Authors);
            Assert.All(r.Authors, a => Assert.Matches("^[^,]+, [A-Z]", a));
            Assert.Matches(@"^(arXiv:[0-9]{4}\.[0-9]{4,5}|doi:10\.[0-9]{4,5}/\S+|https://\S+)$", r.Identifier);
            Assert.StartsWith("https://", r.Url);
        }
        // The papers the report's methods come from (arXiv or DOI as published).
        var expected = new Dictionary<string, string>
        {
            ["sundararajan2017"] = "arXiv:1703.01365", ["smilkov2017"] = "arXiv:1706.03825", ["selvaraju2017"] = "arXiv:1610.02391",
            ["bach2015"] = "doi:10.1371/journal.pone.0130140", ["shrikumar2017"] = "arXiv:1704.02685", ["lundberg2017"] = "arXiv:1705.07874",
            ["ribeiro2016"] = "arXiv:1602.04938", ["springenberg2014"] = "arXiv:1412.6806", ["zeiler2014"] = "arXiv:1311.2901",
            ["simonyan2013"] = "arXiv:1312.6034", ["castro2009"] = "doi:10.1016/j.cor.2008.04.004", ["adebayo2018"] = "arXiv:1810.03292",
            ["petsiuk2018"] = "arXiv:1806.07421", ["yeh2019"] = "arXiv:1901.09392", ["olah2017"] = "doi:10.23915/distill.00007",
            ["cammarata2020"] = "doi:10.23915/distill.00024.003", ["saxe2014"] = "arXiv:1312.6120", ["saxe2019"] = "doi:10.1073/pnas.1820226116",
            ["meng2022"] = "arXiv:2202.05262", ["vig2020"] = "arXiv:2004.12265",
        };
        foreach (var (key, id) in expected) Assert.Equal(id, Bibliography.Get(key).Identifier);
        Assert.True(Bibliography.Contains("strumbelj2010"));
        Assert.Equal("Selvaraju et al. 2017", Bibliography.Get("selvaraju2017").ShortLabel);
        Assert.Equal("Zeiler & Fergus 2014", Bibliography.Get("zeiler2014").ShortLabel);
    }

    [Fact]
    public void Provenance_reads_the_library_version_and_quotes_the_command_line_for_a_shell()
    {
        var p = ReportProvenance.OfLibrary("interp x");
        Assert.Matches(@"^\d+\.\d+\.\d+", p.LibraryVersion);
        Assert.DoesNotContain("+", p.LibraryVersion);
        Assert.True(p.Commit is null || Regex.IsMatch(p.Commit, "^[0-9a-f]{7,64}$"), p.Commit);
        Assert.Equal("interp x", p.CommandLine);
        Assert.Equal("interp report --out /tmp/a_b-1 --seed=3 '' 'two words' 'it'\\''s' '$HOME'",
            ReportProvenance.FormatCommandLine("interp", new[] { "report", "--out", "/tmp/a_b-1", "--seed=3", "", "two words", "it's", "$HOME" }));
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
