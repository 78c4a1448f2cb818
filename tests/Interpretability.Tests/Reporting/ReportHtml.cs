using System.Text.RegularExpressions;

namespace Interpretability.Tests.Reporting;

/// <summary>Checks of a report's HTML a reader relies on: numbered, anchored figures with alternative text, a table of
/// contents whose links all land, folded metric tables, a References list and the run's provenance.</summary>
internal static partial class ReportHtml
{
    [GeneratedRegex("<figure\\b[^>]*>.*?</figure>", RegexOptions.Singleline)]
    private static partial Regex FigureElement();

    [GeneratedRegex("\\bid=\"([^\"]+)\"")]
    private static partial Regex IdAttribute();

    [GeneratedRegex("href=\"#([^\"]*)\"")]
    private static partial Regex InPageLink();

    [GeneratedRegex("<nav class=\"toc\" id=\"contents\"[^>]*>(.*?)</nav>", RegexOptions.Singleline)]
    private static partial Regex Contents();

    [GeneratedRegex("<section id=\"([^\"]+)\"")]
    private static partial Regex SectionId();

    [GeneratedRegex("<h3 id=\"([^\"]+)\"")]
    private static partial Regex HeadingId();

    /// <summary>The anchor ids of the page's sections (the References section included).</summary>
    public static IReadOnlyList<string> Sections(string html) => SectionId().Matches(html).Select(m => m.Groups[1].Value).ToList();

    /// <summary>Asserts the structure; returns the number of figures.</summary>
    public static int AssertStructured(string html)
    {
        // Every id is unique, and every in-page link lands on one.
        var ids = IdAttribute().Matches(html).Select(m => m.Groups[1].Value).ToList();
        var duplicated = ids.GroupBy(i => i).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(duplicated.Count == 0, "duplicate ids: " + string.Join(", ", duplicated));
        var idSet = ids.ToHashSet();
        foreach (Match link in InPageLink().Matches(html))
            Assert.True(idSet.Contains(link.Groups[1].Value), $"the link #{link.Groups[1].Value} has no target");

        // Figures: numbered 1, 2, … in page order, each with its anchor, its number in the caption and alternative text.
        var figures = FigureElement().Matches(html).Select(m => m.Value).ToList();
        for (int i = 0; i < figures.Count; i++)
        {
            var f = figures[i];
            var n = i + 1;
            Assert.Contains($"id=\"fig-{n}\"", f);
            Assert.Matches($"<figcaption><a class=\"fignum\" href=\"#fig-{n}\">Figure {n}\\.</a> \\S", f);
            var alt = Regex.Match(f, "<img [^>]*alt=\"([^\"]*)\"");
            Assert.True(alt.Success && alt.Groups[1].Value.Trim().Length > 0, $"figure {n} has no alternative text: {f}");
        }

        // The table of contents lists every section and every sub-section heading.
        var nav = Contents().Match(html);
        Assert.True(nav.Success, "the page has no table of contents");
        var contents = nav.Groups[1].Value;
        foreach (var id in Sections(html)) Assert.Contains($"href=\"#{id}\"", contents);
        foreach (Match h in HeadingId().Matches(html)) Assert.Contains($"href=\"#{h.Groups[1].Value}\"", contents);

        // Metric tables are folded: no metrics table is shown open.
        Assert.DoesNotContain("<caption>Metrics</caption>", html);
        foreach (Match m in Regex.Matches(html, "<summary>Metrics \\((\\d+) values?\\)</summary><table>"))
            Assert.True(int.Parse(m.Groups[1].Value) > 0);

        // Every citation resolves to a References entry with a link out.
        var citedKeys = Regex.Matches(html, "href=\"#ref-([a-z0-9]+)\"").Select(m => m.Groups[1].Value).Distinct().ToList();
        if (citedKeys.Count > 0)
        {
            Assert.Contains("<section id=\"references\">", html);
            foreach (var key in citedKeys)
                Assert.Matches($"<li id=\"ref-{key}\">[^\\n]*<a href=\"https://[^\"]+\">", html);
        }

        // Provenance and nothing loaded from the network (links out are fine; sources are not).
        Assert.Contains("<dl class=\"provenance\"><dt>Library</dt><dd>Interpretability ", html);
        Assert.DoesNotMatch("src=\"(https?:)?//", html);
        Assert.DoesNotContain("<script", html);
        Assert.DoesNotContain("<link ", html);
        return figures.Count;
    }

    /// <summary>The number of metric tables (folded) on the page.</summary>
    public static int FoldedMetricTables(string html) => Regex.Matches(html, "<details class=\"table\"><summary>Metrics \\(").Count;
}
