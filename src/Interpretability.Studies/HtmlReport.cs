using System.Net;
using System.Text;
using Interpretability.Imaging;

namespace Interpretability.Studies;

/// <summary>A figure in a report: a picture file relative to the report's folder, with a caption.</summary>
/// <param name="Path">Path of the PNG relative to the folder of <c>index.html</c> (forward slashes).</param>
/// <param name="Caption">What the picture shows and how to read it.</param>
public sealed record Figure(string Path, string Caption);

/// <summary>A table: headers and rows of text cells.</summary>
public sealed record Table(string Caption, IReadOnlyList<string> Headers, IReadOnlyList<IReadOnlyList<string>> Rows);

/// <summary>One section of a report (one capability or study).</summary>
public sealed class ReportSection
{
    private readonly List<(string Kind, object Item)> items = new();

    internal ReportSection(string id, string title)
    {
        Id = id;
        Title = title;
    }

    /// <summary>Anchor id (letters, digits, '-').</summary>
    public string Id { get; }

    /// <summary>Heading.</summary>
    public string Title { get; }

    /// <summary>Set when the capability failed: the section shows this error and the report still completes.</summary>
    public string? Error { get; private set; }

    /// <summary>Adds a paragraph of plain text.</summary>
    public ReportSection Paragraph(string text) { items.Add(("p", text)); return this; }

    /// <summary>Adds one figure.</summary>
    public ReportSection AddFigure(Figure figure) { items.Add(("fig", figure)); return this; }

    /// <summary>Adds figures side by side (a table of figures).</summary>
    public ReportSection AddFigureRow(IReadOnlyList<Figure> figures) { items.Add(("figrow", figures)); return this; }

    /// <summary>Adds a table.</summary>
    public ReportSection AddTable(Table table) { items.Add(("table", table)); return this; }

    /// <summary>Adds a table of metrics (flattened keys and values).</summary>
    public ReportSection AddMetrics(Metrics metrics, string caption = "Metrics")
    {
        var rows = metrics.Flatten().Select(kv => (IReadOnlyList<string>)new[] { kv.Key, kv.Value }).ToList();
        return AddTable(new Table(caption, new[] { "key", "value" }, rows));
    }

    /// <summary>Marks the section as failed with <paramref name="error"/>'s message.</summary>
    public ReportSection Fail(Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        Error = $"{error.GetType().Name}: {error.Message}";
        return this;
    }

    internal void Render(StringBuilder html)
    {
        html.Append($"<section id=\"{Id}\"><h2>{E(Title)}</h2>\n");
        if (Error is not null) html.Append($"<div class=\"error\"><strong>This section failed.</strong> {E(Error)}</div>\n");
        foreach (var (kind, item) in items)
        {
            switch (kind)
            {
                case "p":
                    html.Append($"<p>{E((string)item)}</p>\n");
                    break;
                case "fig":
                    RenderFigure(html, (Figure)item, "figure");
                    break;
                case "figrow":
                    html.Append("<div class=\"figrow\">");
                    foreach (var f in (IReadOnlyList<Figure>)item) RenderFigure(html, f, "figure small");
                    html.Append("</div>\n");
                    break;
                case "table":
                    var t = (Table)item;
                    html.Append($"<table><caption>{E(t.Caption)}</caption><thead><tr>");
                    foreach (var h in t.Headers) html.Append($"<th>{E(h)}</th>");
                    html.Append("</tr></thead><tbody>");
                    foreach (var row in t.Rows)
                    {
                        html.Append("<tr>");
                        foreach (var cell in row) html.Append($"<td>{E(cell)}</td>");
                        html.Append("</tr>");
                    }
                    html.Append("</tbody></table>\n");
                    break;
            }
        }
        html.Append("</section>\n");
    }

    private static void RenderFigure(StringBuilder html, Figure f, string cls)
    {
        var src = string.Join('/', f.Path.Replace('\\', '/').Split('/').Select(Uri.EscapeDataString));
        html.Append($"<figure class=\"{cls}\"><a href=\"{src}\"><img src=\"{src}\" alt=\"{E(f.Caption)}\" loading=\"lazy\"></a><figcaption>{E(f.Caption)}</figcaption></figure>\n");
    }

    private static string E(string s) => WebUtility.HtmlEncode(s);
}

/// <summary>
/// A self-contained HTML report: sections of paragraphs, figures with captions, tables; inline CSS, relative links to the
/// pictures, nothing loaded from the network.
/// </summary>
public sealed class HtmlReport
{
    private readonly List<ReportSection> sections = new();

    /// <summary>Creates an empty report.</summary>
    public HtmlReport(string title, string? subtitle = null)
    {
        Title = title;
        Subtitle = subtitle;
    }

    /// <summary>Title of the page.</summary>
    public string Title { get; }

    /// <summary>A line under the title (e.g. seed, machine, date).</summary>
    public string? Subtitle { get; }

    /// <summary>The sections, in order.</summary>
    public IReadOnlyList<ReportSection> Sections => sections;

    /// <summary>Adds a section.</summary>
    /// <param name="id">Anchor id: letters, digits and '-'.</param>
    /// <param name="title">Heading.</param>
    public ReportSection AddSection(string id, string title)
    {
        if (string.IsNullOrEmpty(id) || !id.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
            throw new ArgumentException($"Section id '{id}' must be letters, digits and '-'.", nameof(id));
        if (sections.Any(s => s.Id == id)) throw new ArgumentException($"A section with id '{id}' exists already.", nameof(id));
        var section = new ReportSection(id, title);
        sections.Add(section);
        return section;
    }

    /// <summary>The HTML text.</summary>
    public string ToHtml()
    {
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
        html.Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
        html.Append($"<title>{WebUtility.HtmlEncode(Title)}</title><style>{Css}</style></head><body>\n");
        html.Append($"<header><h1>{WebUtility.HtmlEncode(Title)}</h1>");
        if (Subtitle is not null) html.Append($"<p class=\"sub\">{WebUtility.HtmlEncode(Subtitle)}</p>");
        html.Append("<nav><ul>");
        foreach (var s in sections)
            html.Append($"<li><a href=\"#{s.Id}\">{WebUtility.HtmlEncode(s.Title)}</a>{(s.Error is null ? "" : " <span class=\"bad\">(failed)</span>")}</li>");
        html.Append("</ul></nav></header>\n<main>\n");
        foreach (var s in sections) s.Render(html);
        html.Append("</main></body></html>\n");
        return html.ToString();
    }

    /// <summary>Writes <c>index.html</c> into <paramref name="directory"/>, atomically; returns its path.</summary>
    public string Save(string directory)
    {
        var path = Path.Combine(directory, "index.html");
        AtomicFile.WriteAllText(path, ToHtml());
        return path;
    }

    private const string Css = """
        body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:0;color:#222;background:#fafafa;line-height:1.45}
        header{background:#1f2d3d;color:#fff;padding:18px 32px}header h1{margin:0 0 4px 0;font-size:26px}
        .sub{margin:0 0 8px 0;color:#c8d3df;font-size:14px}nav ul{list-style:none;padding:0;margin:6px 0 0 0;display:flex;flex-wrap:wrap;gap:14px}
        nav a{color:#9fd0ff;text-decoration:none}main{padding:8px 32px 48px 32px;max-width:1500px}
        section{background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:12px 24px;margin:22px 0}
        h2{border-bottom:2px solid #1f2d3d;padding-bottom:4px}figure{margin:14px 0}figure img{max-width:100%;border:1px solid #ddd}
        figcaption{font-size:13px;color:#444;max-width:900px}.figrow{display:flex;flex-wrap:wrap;gap:16px}.figrow figure{flex:1 1 300px;max-width:480px}
        table{border-collapse:collapse;margin:12px 0;font-size:13px}caption{text-align:left;font-weight:bold;padding:4px 0}
        th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f0f3f6}
        .error{background:#fde8e8;border:1px solid #e0a0a0;padding:10px;border-radius:4px;color:#7a1010}.bad{color:#ff9b9b}
        """;
}
