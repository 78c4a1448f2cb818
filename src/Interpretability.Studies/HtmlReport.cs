using System.Globalization;
using System.Net;
using System.Text;
using Interpretability.Imaging;

namespace Interpretability.Studies;

/// <summary>A figure in a report: a picture file relative to the report's folder, with a caption.</summary>
/// <param name="Path">Path of the PNG relative to the folder of <c>index.html</c> (forward slashes).</param>
/// <param name="Caption">What the picture shows and how to read it; also the picture's alternative text.</param>
public sealed record Figure(string Path, string Caption);

/// <summary>A table: headers and rows of text cells.</summary>
/// <param name="Caption">What the table holds (shown above it, or as the line that unfolds it when <see cref="Collapsed"/>).</param>
/// <param name="Headers">Column headers.</param>
/// <param name="Rows">Rows of cells, one text per column.</param>
public sealed record Table(string Caption, IReadOnlyList<string> Headers, IReadOnlyList<IReadOnlyList<string>> Rows)
{
    /// <summary>Shown folded (an HTML <c>&lt;details&gt;</c> element) until the reader opens it: for long tables of
    /// numbers a script reads more often than a person. Default false.</summary>
    public bool Collapsed { get; init; }
}

/// <summary>A sub-section heading inside a report section.</summary>
/// <param name="Id">Anchor id, unique in the report: the section's id, '-', and a slug of the title.</param>
/// <param name="Title">The heading's text.</param>
public sealed record ReportHeading(string Id, string Title);

/// <summary>
/// One section of a report (one capability or study): paragraphs, sub-section headings, figures (numbered across the
/// report), tables, and the works it cites.
/// </summary>
public sealed class ReportSection
{
    private readonly List<(string Kind, object Item)> items = new();
    private readonly List<ReportHeading> headings = new();
    private readonly List<string> citations = new();

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

    /// <summary>The sub-section headings, in order (the table of contents lists them under the section).</summary>
    public IReadOnlyList<ReportHeading> Headings => headings;

    /// <summary>Keys of the works the section cites (see <see cref="Bibliography"/>), in the order first cited.</summary>
    public IReadOnlyList<string> Citations => citations;

    /// <summary>The number of figures in the section (single figures and the figures of rows).</summary>
    public int FigureCount => items.Sum(i => i.Item switch { Figure => 1, IReadOnlyList<Figure> row => row.Count, _ => 0 });

    /// <summary>Adds a paragraph of plain text.</summary>
    public ReportSection Paragraph(string text) { items.Add(("p", text)); return this; }

    /// <summary>
    /// Starts a sub-section: a heading with an anchor (<see cref="ReportHeading.Id"/>: the section's id and a slug of
    /// <paramref name="title"/>, made unique with a number where two headings would share it) that the table of
    /// contents links to.
    /// </summary>
    /// <param name="title">The heading's text.</param>
    /// <exception cref="ArgumentException"><paramref name="title"/> is empty or white space.</exception>
    public ReportSection Heading(string title)
    {
        if (string.IsNullOrWhiteSpace(title)) throw new ArgumentException("A heading needs a title.", nameof(title));
        var stem = $"{Id}-{Slug(title)}";
        var id = stem;
        for (int n = 2; headings.Any(h => h.Id == id); n++) id = $"{stem}-{n.ToString(CultureInfo.InvariantCulture)}";
        var heading = new ReportHeading(id, title.Trim());
        headings.Add(heading);
        items.Add(("h", heading));
        return this;
    }

    /// <summary>
    /// Cites works of the <see cref="Bibliography"/> here: a line at this point names them with their numbers in the
    /// report's References, and the section lists every work it cites at its end.
    /// </summary>
    /// <param name="keys">Bibliography keys, e.g. <c>"sundararajan2017"</c>.</param>
    /// <exception cref="ArgumentException">No key given, or a key that is not in the <see cref="Bibliography"/>.</exception>
    public ReportSection Cite(params string[] keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (keys.Length == 0) throw new ArgumentException("Cite at least one work.", nameof(keys));
        foreach (var key in keys) Bibliography.Get(key);
        foreach (var key in keys) if (!citations.Contains(key)) citations.Add(key);
        items.Add(("cite", keys.Distinct().ToArray()));
        return this;
    }

    /// <summary>Adds one figure.</summary>
    public ReportSection AddFigure(Figure figure) { items.Add(("fig", figure)); return this; }

    /// <summary>Adds figures side by side (wrapping onto further lines where the page is narrow); each has its own number.</summary>
    public ReportSection AddFigureRow(IReadOnlyList<Figure> figures) { items.Add(("figrow", figures)); return this; }

    /// <summary>Adds a table (folded when <see cref="Table.Collapsed"/>).</summary>
    public ReportSection AddTable(Table table) { items.Add(("table", table)); return this; }

    /// <summary>Adds a table of metrics (flattened keys and values), folded under "Metrics (N values)".</summary>
    public ReportSection AddMetrics(Metrics metrics, string caption = "Metrics")
    {
        var rows = metrics.Flatten().Select(kv => (IReadOnlyList<string>)new[] { kv.Key, kv.Value }).ToList();
        items.Add(("metrics", new Table(caption, new[] { "key", "value" }, rows) { Collapsed = true }));
        return this;
    }

    /// <summary>Marks the section as failed with <paramref name="error"/>'s message.</summary>
    public ReportSection Fail(Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        Error = $"{error.GetType().Name}: {error.Message}";
        return this;
    }

    /// <summary>Figure numbers and reference numbers shared by the sections of one rendering.</summary>
    internal sealed class RenderState
    {
        public int Figures;
        public string? PictureDirectory;
        public Dictionary<string, int> ReferenceNumbers { get; } = new(StringComparer.Ordinal);
    }

    internal void Render(StringBuilder html, RenderState state)
    {
        html.Append($"<section id=\"{Id}\"><h2>{E(Title)} <a class=\"anchor\" href=\"#{Id}\" aria-label=\"link to this section\">#</a></h2>\n");
        if (Error is not null) html.Append($"<div class=\"error\"><strong>This section failed.</strong> {E(Error)}</div>\n");
        foreach (var (kind, item) in items)
        {
            switch (kind)
            {
                case "p":
                    html.Append($"<p>{E((string)item)}</p>\n");
                    break;
                case "h":
                    var h = (ReportHeading)item;
                    html.Append($"<h3 id=\"{h.Id}\">{E(h.Title)} <a class=\"anchor\" href=\"#{h.Id}\" aria-label=\"link to this sub-section\">#</a></h3>\n");
                    break;
                case "cite":
                    html.Append("<p class=\"cites\">References: ");
                    html.Append(string.Join("; ", ((string[])item).Select(k => CitationLink(k, state, withLabel: true))));
                    html.Append("</p>\n");
                    break;
                case "fig":
                    RenderFigure(html, (Figure)item, inRow: false, ++state.Figures, state.PictureDirectory);
                    break;
                case "figrow":
                    html.Append("<div class=\"figrow\">\n");
                    foreach (var f in (IReadOnlyList<Figure>)item) RenderFigure(html, f, inRow: true, ++state.Figures, state.PictureDirectory);
                    html.Append("</div>\n");
                    break;
                case "table":
                    RenderTable(html, (Table)item, "rows");
                    break;
                case "metrics":
                    RenderTable(html, (Table)item, "values");
                    break;
            }
        }
        if (citations.Count > 0)
        {
            html.Append("<div class=\"cited\"><strong>Works cited in this section:</strong> ");
            html.Append(string.Join("; ", citations.Select(k => CitationLink(k, state, withLabel: true))));
            html.Append("</div>\n");
        }
        html.Append("</section>\n");
    }

    private static string CitationLink(string key, RenderState state, bool withLabel)
    {
        var number = state.ReferenceNumbers[key];
        var link = $"<a href=\"#ref-{key}\">[{number.ToString(CultureInfo.InvariantCulture)}]</a>";
        return withLabel ? $"{link} {E(Bibliography.Get(key).ShortLabel)}" : link;
    }

    private static void RenderTable(StringBuilder html, Table t, string unit)
    {
        if (t.Collapsed)
            html.Append($"<details class=\"table\"><summary>{E(t.Caption)} ({t.Rows.Count.ToString(CultureInfo.InvariantCulture)} {(t.Rows.Count == 1 ? unit.TrimEnd('s') : unit)})</summary>");
        html.Append("<table>");
        if (!t.Collapsed) html.Append($"<caption>{E(t.Caption)}</caption>");
        html.Append("<thead><tr>");
        foreach (var h in t.Headers) html.Append($"<th>{E(h)}</th>");
        html.Append("</tr></thead><tbody>");
        foreach (var row in t.Rows)
        {
            html.Append("<tr>");
            foreach (var cell in row) html.Append($"<td>{E(cell)}</td>");
            html.Append("</tr>");
        }
        html.Append("</tbody></table>");
        if (t.Collapsed) html.Append("</details>");
        html.Append('\n');
    }

    /// <summary>
    /// A figure with its number; where the PNG's pixel size is known, the picture reserves its space, and a figure in a
    /// row asks for at least 70% of its natural width (420 px or more), growing to its natural width where the row has
    /// room, so a wide picture takes a line of its own rather than shrinking until its text cannot be read.
    /// </summary>
    private static void RenderFigure(StringBuilder html, Figure f, bool inRow, int number, string? pictureDirectory)
    {
        var src = string.Join('/', f.Path.Replace('\\', '/').Split('/').Select(Uri.EscapeDataString));
        var id = $"fig-{number.ToString(CultureInfo.InvariantCulture)}";
        var size = pictureDirectory is null ? null : PngSize(Path.Combine(pictureDirectory, f.Path));
        var style = "";
        var dimensions = "";
        if (size is var (width, height))
        {
            dimensions = $" width=\"{width.ToString(CultureInfo.InvariantCulture)}\" height=\"{height.ToString(CultureInfo.InvariantCulture)}\"";
            if (inRow)
            {
                var basis = Math.Max(420, (int)Math.Round(0.7 * width));
                style = $" style=\"flex:1 1 {basis.ToString(CultureInfo.InvariantCulture)}px;max-width:min({width.ToString(CultureInfo.InvariantCulture)}px,100%)\"";
            }
        }
        html.Append($"<figure id=\"{id}\" class=\"{(inRow ? "figure in-row" : "figure")}\"{style}><a href=\"{src}\" title=\"open the full-size picture\"><img src=\"{src}\" alt=\"{E(f.Caption)}\"{dimensions} loading=\"lazy\"></a>");
        html.Append($"<figcaption><a class=\"fignum\" href=\"#{id}\">Figure {number.ToString(CultureInfo.InvariantCulture)}.</a> {E(f.Caption)}</figcaption></figure>\n");
    }

    /// <summary>Width and height of a PNG file from its header, or null when the file is missing or not a PNG.</summary>
    internal static (int Width, int Height)? PngSize(string path)
    {
        try
        {
            Span<byte> header = stackalloc byte[24];
            using var stream = File.OpenRead(path);
            if (stream.ReadAtLeast(header, 24, throwOnEndOfStream: false) < 24) return null;
            ReadOnlySpan<byte> signature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
            if (!header[..8].SequenceEqual(signature) || header[12] != 'I' || header[13] != 'H' || header[14] != 'D' || header[15] != 'R') return null;
            int width = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(header[16..20]);
            int height = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(header[20..24]);
            return width > 0 && height > 0 ? (width, height) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>Lower-case ASCII letters and digits of <paramref name="title"/> (accents dropped), other runs as one '-'.</summary>
    internal static string Slug(string title)
    {
        var slug = new StringBuilder();
        foreach (var ch in title.Normalize(NormalizationForm.FormD))
        {
            if (CharUnicodeInfo.GetUnicodeCategory(ch) == UnicodeCategory.NonSpacingMark) continue;
            if (char.IsAsciiLetterOrDigit(ch)) slug.Append(char.ToLowerInvariant(ch));
            else if (slug.Length > 0 && slug[^1] != '-') slug.Append('-');
        }
        var text = slug.ToString().Trim('-');
        if (text.Length > 60) text = text[..60].TrimEnd('-');
        return text.Length == 0 ? "part" : text;
    }

    private static string E(string s) => WebUtility.HtmlEncode(s);
}

/// <summary>
/// A self-contained HTML report: a header with the run's provenance, a table of contents of the sections and their
/// sub-sections, sections of paragraphs, numbered figures with captions, tables (metrics folded), and a numbered list of
/// the works the sections cite. Inline CSS, relative links to the pictures; nothing is loaded from the network (the
/// references are plain links).
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

    /// <summary>Library version, commit and command line, shown in the header; null shows none.</summary>
    public ReportProvenance? Provenance { get; init; }

    /// <summary>The sections, in order.</summary>
    public IReadOnlyList<ReportSection> Sections => sections;

    /// <summary>Anchor id of the References section.</summary>
    public const string ReferencesId = "references";

    /// <summary>Anchor id of the table of contents.</summary>
    public const string ContentsId = "contents";

    /// <summary>Adds a section.</summary>
    /// <param name="id">Anchor id: letters, digits and '-'; not <see cref="ReferencesId"/> or <see cref="ContentsId"/>, and
    /// not starting with <c>fig-</c> or <c>ref-</c> (the figures' and references' anchors).</param>
    /// <param name="title">Heading.</param>
    public ReportSection AddSection(string id, string title)
    {
        if (string.IsNullOrEmpty(id) || !id.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
            throw new ArgumentException($"Section id '{id}' must be letters, digits and '-'.", nameof(id));
        if (id is ReferencesId or ContentsId || id.StartsWith("fig-", StringComparison.Ordinal) || id.StartsWith("ref-", StringComparison.Ordinal))
            throw new ArgumentException($"Section id '{id}' is reserved for the report's own anchors.", nameof(id));
        if (sections.Any(s => s.Id == id)) throw new ArgumentException($"A section with id '{id}' exists already.", nameof(id));
        var section = new ReportSection(id, title);
        sections.Add(section);
        return section;
    }

    /// <summary>The works the sections cite, in the order first cited (their numbers in the References, from 1).</summary>
    public IReadOnlyList<Reference> CitedReferences =>
        sections.SelectMany(s => s.Citations).Distinct().Select(Bibliography.Get).ToList();

    /// <summary>The HTML text.</summary>
    /// <param name="pictureDirectory">The folder the figures' paths are relative to (where <c>index.html</c> goes); where
    /// given, each picture's pixel size is read from its PNG header, so the page reserves the pictures' space and lays out
    /// rows of figures by their natural widths. Null: sizes are left to the browser.</param>
    public string ToHtml(string? pictureDirectory = null)
    {
        var cited = CitedReferences;
        var state = new ReportSection.RenderState { PictureDirectory = pictureDirectory };
        for (int i = 0; i < cited.Count; i++) state.ReferenceNumbers[cited[i].Key] = i + 1;

        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
        html.Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
        html.Append($"<title>{E(Title)}</title><style>{Css}</style></head><body>\n");
        html.Append($"<header><h1>{E(Title)}</h1>");
        if (Subtitle is not null) html.Append($"<p class=\"sub\">{E(Subtitle)}</p>");
        if (Provenance is { } p)
        {
            html.Append("<dl class=\"provenance\">");
            html.Append($"<dt>Library</dt><dd>Interpretability {E(p.LibraryVersion)}</dd>");
            html.Append($"<dt>Commit</dt><dd>{(p.Commit is null ? "unknown (built outside a git checkout)" : $"<code title=\"{E(p.Commit)}\">{E(p.ShortCommit!)}</code>")}</dd>");
            if (p.CommandLine is not null) html.Append($"<dt>Reproduce</dt><dd><code class=\"command\">{E(p.CommandLine)}</code></dd>");
            html.Append("</dl>");
        }
        html.Append("</header>\n<div class=\"layout\">\n");

        html.Append($"<nav class=\"toc\" id=\"{ContentsId}\" aria-label=\"Contents\"><h2>Contents</h2><ol>\n");
        foreach (var s in sections)
        {
            html.Append($"<li><a href=\"#{s.Id}\">{E(s.Title)}</a>{(s.Error is null ? "" : " <span class=\"bad\">(failed)</span>")}");
            if (s.Headings.Count > 0)
            {
                html.Append("<ol>");
                foreach (var h in s.Headings) html.Append($"<li><a href=\"#{h.Id}\">{E(h.Title)}</a></li>");
                html.Append("</ol>");
            }
            html.Append("</li>\n");
        }
        if (cited.Count > 0) html.Append($"<li><a href=\"#{ReferencesId}\">References</a></li>\n");
        html.Append("</ol></nav>\n<main>\n");

        foreach (var s in sections) s.Render(html, state);
        if (cited.Count > 0) RenderReferences(html, cited);
        html.Append("</main>\n</div></body></html>\n");
        return html.ToString();
    }

    private void RenderReferences(StringBuilder html, IReadOnlyList<Reference> cited)
    {
        html.Append($"<section id=\"{ReferencesId}\"><h2>References <a class=\"anchor\" href=\"#{ReferencesId}\" aria-label=\"link to this section\">#</a></h2><ol class=\"refs\">\n");
        foreach (var r in cited)
        {
            var citing = sections.Where(s => s.Citations.Contains(r.Key)).Select(s => $"<a href=\"#{s.Id}\">{E(s.Title)}</a>");
            html.Append($"<li id=\"ref-{r.Key}\">{E(string.Join(", ", r.Authors))} ({r.Year.ToString(CultureInfo.InvariantCulture)}). ");
            html.Append($"<cite>{E(r.Title)}</cite>. {E(r.Venue)}. <a href=\"{E(r.Url)}\">{E(r.Identifier)}</a>");
            html.Append($" <span class=\"citing\">Cited in: {string.Join(" · ", citing)}.</span></li>\n");
        }
        html.Append("</ol></section>\n");
    }

    /// <summary>Writes <c>index.html</c> into <paramref name="directory"/>, atomically; returns its path.</summary>
    public string Save(string directory)
    {
        var path = Path.Combine(directory, "index.html");
        AtomicFile.WriteAllText(path, ToHtml(directory));
        return path;
    }

    private static string E(string s) => WebUtility.HtmlEncode(s);

    // Layout: the contents sit in a sticky sidebar where the window is at least 1200 px wide, above the sections (in two
    // columns from 800 px) where it is narrower. Single figures show at their natural size up to the column's width; figures in a row take at least
    // 420 px each (more for wide pictures, see RenderFigure), wrapping onto further lines; a click opens the full PNG.
    private const string Css = """
        body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:0;color:#222;background:#fafafa;line-height:1.45}
        header{background:#1f2d3d;color:#fff;padding:18px 32px}header h1{margin:0 0 4px 0;font-size:26px}
        .sub{margin:0 0 8px 0;color:#c8d3df;font-size:14px}
        .provenance{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:2px 12px;margin:8px 0 0 0;font-size:13px;color:#dfe7ef}
        .provenance dt{font-weight:bold;color:#9fb4c8}.provenance dd{margin:0;overflow-wrap:anywhere}
        .provenance code{background:#2c3e52;padding:1px 5px;border-radius:3px;color:#fff}.command{user-select:all}
        .layout{display:grid;grid-template-columns:minmax(0,1fr)}
        .toc{background:#eef2f6;border-bottom:1px solid #dde3ea;padding:10px 20px 14px 20px;font-size:14px}
        .toc h2{font-size:16px;margin:4px 0 6px 0;border:none;padding:0}.toc ol{margin:2px 0;padding-left:22px}
        .toc ol ol{font-size:13px;padding-left:18px;list-style:lower-alpha}.toc li{margin:2px 0}.toc a{color:#1a5a96;text-decoration:none}
        .toc a:hover{text-decoration:underline}
        @media (min-width:800px) and (max-width:1199px){.toc>ol{columns:2;column-gap:32px}.toc>ol>li{break-inside:avoid}}
        @media (min-width:1200px){.layout{grid-template-columns:300px minmax(0,1fr)}
          .toc{position:sticky;top:0;align-self:start;max-height:100vh;overflow-y:auto;border-bottom:none;border-right:1px solid #dde3ea;box-sizing:border-box}}
        main{padding:8px 32px 48px 32px;max-width:1500px;min-width:0}
        section{background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:12px 24px;margin:22px 0}
        h2{border-bottom:2px solid #1f2d3d;padding-bottom:4px}h3{margin:28px 0 8px 0;font-size:18px;color:#1f2d3d}
        .anchor{color:#b8c4d0;text-decoration:none;font-weight:normal;font-size:0.8em}.anchor:hover{color:#1a5a96}
        figure{margin:14px 0}figure img{max-width:100%;height:auto;border:1px solid #ddd;display:block}
        figcaption{font-size:13px;color:#444;max-width:900px;margin-top:4px}.fignum{font-weight:bold;color:#1f2d3d;text-decoration:none}
        .figrow{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}.figrow figure{flex:1 1 420px;max-width:100%;margin:8px 0}
        table{border-collapse:collapse;margin:12px 0;font-size:13px}caption{text-align:left;font-weight:bold;padding:4px 0}
        th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f0f3f6}
        details.table{margin:12px 0}details.table summary{cursor:pointer;font-weight:bold;font-size:14px;color:#1f2d3d}
        .cites{font-size:13px;color:#555;margin:4px 0 10px 0}.cited{font-size:13px;color:#444;border-top:1px solid #eee;margin-top:18px;padding-top:8px}
        .refs li{margin:6px 0;font-size:14px}.refs .citing{color:#666;font-size:12px}
        .error{background:#fde8e8;border:1px solid #e0a0a0;padding:10px;border-radius:4px;color:#7a1010}.bad{color:#c0392b}
        """;
}
