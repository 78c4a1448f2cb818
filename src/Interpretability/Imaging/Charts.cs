using ScottPlot;

namespace Interpretability.Imaging;

/// <summary>One line of a chart.</summary>
/// <param name="Label">Legend text.</param>
/// <param name="X">x values.</param>
/// <param name="Y">y values (same length as <paramref name="X"/>).</param>
/// <param name="Color">Colour as <c>#rrggbb</c>; null picks the palette's next colour.</param>
/// <param name="Dashed">Dashed line (e.g. theory under a solid simulation).</param>
/// <param name="Markers">Draw markers (and no line when <paramref name="LineWidth"/> is 0).</param>
/// <param name="LineWidth">Line width in pixels.</param>
public sealed record Series(string Label, IReadOnlyList<double> X, IReadOnlyList<double> Y, string? Color = null,
    bool Dashed = false, bool Markers = false, float LineWidth = 2f);

/// <summary>Titles, axes and size of a chart.</summary>
/// <param name="Title">Title over the plot.</param>
/// <param name="XLabel">x-axis label.</param>
/// <param name="YLabel">y-axis label.</param>
/// <param name="LogX">Logarithmic x axis (values must be positive).</param>
/// <param name="LogY">Logarithmic y axis (values must be positive).</param>
/// <param name="Width">Width in pixels.</param>
/// <param name="Height">Height in pixels.</param>
/// <param name="Legend">Show a legend when any series has a label.</param>
/// <param name="LegendCorner">Where the legend sits: <c>upper right</c> (default), <c>upper left</c>, <c>lower right</c>,
/// <c>lower left</c>, or <c>outside right</c> (beside the data, for many series).</param>
public sealed record ChartOptions(string Title = "", string XLabel = "", string YLabel = "", bool LogX = false, bool LogY = false,
    int Width = 800, int Height = 500, bool Legend = true, string LegendCorner = "upper right");

/// <summary>A vertical or horizontal reference line on a chart.</summary>
/// <param name="Value">Position on the axis.</param>
/// <param name="Vertical">True for x = value, false for y = value.</param>
/// <param name="Label">Legend text.</param>
/// <param name="Color">Colour as <c>#rrggbb</c>.</param>
public sealed record ReferenceLine(double Value, bool Vertical, string? Label = null, string Color = "#555555");

/// <summary>
/// Charts with axes, rendered headless to PNG by ScottPlot 5 (maintained, pure managed on top of SkiaSharp, so it draws
/// without a display server — the reason we use it instead of drawing axes by hand).
/// </summary>
public static class Charts
{
    /// <summary>A line chart of <paramref name="series"/> as PNG bytes.</summary>
    public static byte[] Line(IReadOnlyList<Series> series, ChartOptions? options = null, IReadOnlyList<ReferenceLine>? references = null)
    {
        ArgumentNullException.ThrowIfNull(series);
        options ??= new ChartOptions();
        var plot = NewPlot(options);
        int uncoloured = 0;
        foreach (var s in series)
        {
            if (s.X.Count != s.Y.Count) throw new ArgumentException($"Series '{s.Label}' has {s.X.Count} x values and {s.Y.Count} y values.", nameof(series));
            var xs = Transform(s.X, options.LogX, s.Label, "x");
            var ys = Transform(s.Y, options.LogY, s.Label, "y");
            var sc = plot.Add.Scatter(xs, ys, s.Color is null ? null : ScottPlot.Color.FromHex(s.Color));
            sc.LineWidth = s.Markers && s.LineWidth == 0 ? 0 : s.LineWidth;
            sc.MarkerSize = s.Markers ? 6 : 0;
            // the palette has ten colours: the 11th to 20th uncoloured series repeat them dashed, so no two look alike
            if (s.Dashed || (s.Color is null && uncoloured++ >= 10)) sc.LinePattern = LinePattern.Dashed;
            if (!string.IsNullOrEmpty(s.Label)) sc.LegendText = s.Label;
        }
        AddReferences(plot, references, options);
        return Finish(plot, options, series.Any(s => !string.IsNullOrEmpty(s.Label)) || (references?.Any(r => r.Label is not null) ?? false));
    }

    /// <summary>A scatter chart (markers only) as PNG bytes.</summary>
    public static byte[] Scatter(IReadOnlyList<Series> series, ChartOptions? options = null, IReadOnlyList<ReferenceLine>? references = null) =>
        Line(series.Select(s => s with { Markers = true, LineWidth = 0 }).ToList(), options, references);

    /// <summary>
    /// A heatmap with a colour bar as PNG bytes. Row 0 of <paramref name="values"/> is drawn at the top.
    /// </summary>
    /// <param name="values"><c>[rows, columns]</c>.</param>
    /// <param name="options">Titles and size.</param>
    /// <param name="colorbarLabel">Label of the colour bar.</param>
    /// <param name="diverging">Signed data: a blue–white–red map with a symmetric range around zero.</param>
    /// <param name="xRange">Data range of the columns (left edge of the first, right edge of the last); default 0..columns.</param>
    /// <param name="yRange">Data range of the rows (top edge of row 0, bottom edge of the last row); default 0..rows.</param>
    /// <param name="overlay">Lines drawn over the heatmap (e.g. a predicted threshold curve).</param>
    public static byte[] Heatmap(double[,] values, ChartOptions? options = null, string colorbarLabel = "", bool diverging = false,
        (double From, double To)? xRange = null, (double From, double To)? yRange = null, IReadOnlyList<Series>? overlay = null)
    {
        ArgumentNullException.ThrowIfNull(values);
        options ??= new ChartOptions();
        int rows = values.GetLength(0), cols = values.GetLength(1);
        if (rows == 0 || cols == 0) throw new ArgumentException("values must not be empty.", nameof(values));
        foreach (var v in values)
            if (!double.IsFinite(v)) throw new ArgumentException("values hold NaN or infinity.", nameof(values));
        var plot = NewPlot(options);
        var hm = plot.Add.Heatmap(values);
        hm.Colormap = diverging ? new ScottPlot.Colormaps.Custom(Enumerable.Range(0, 256).Select(i => ToColor(Colormap.Diverging, i / 255.0)).ToArray())
                                : new ScottPlot.Colormaps.Viridis();
        if (diverging)
        {
            double m = 0;
            foreach (var v in values) m = Math.Max(m, Math.Abs(v));
            if (m == 0) m = 1;
            hm.ManualRange = new ScottPlot.Range(-m, m);
        }
        var (x0, x1) = xRange ?? (0, cols);
        var (y0, y1) = yRange ?? (rows, 0);
        // Rectangle sets the outer edges of the cells (Extent would place the corner cells' centres there: one cell larger).
        hm.Rectangle = new CoordinateRect(x0, x1, Math.Min(y0, y1), Math.Max(y0, y1));
        if (yRange is null || y0 > y1) hm.FlipVertically = false;
        var bar = plot.Add.ColorBar(hm);
        bar.Label = colorbarLabel;
        if (overlay is not null)
            foreach (var s in overlay)
            {
                var sc = plot.Add.Scatter(s.X.ToArray(), s.Y.ToArray(), ScottPlot.Color.FromHex(s.Color ?? "#ffffff"));
                sc.LineWidth = s.LineWidth;
                sc.MarkerSize = s.Markers ? 6 : 0;
                if (s.Dashed) sc.LinePattern = LinePattern.Dashed;
                if (!string.IsNullOrEmpty(s.Label)) sc.LegendText = s.Label;
            }
        plot.Axes.SetLimits(Math.Min(x0, x1), Math.Max(x0, x1), Math.Min(y0, y1), Math.Max(y0, y1));
        if (yRange is null) plot.Axes.InvertY();
        return Finish(plot, options, overlay?.Any(s => !string.IsNullOrEmpty(s.Label)) ?? false, autoscale: false);
    }

    /// <summary>A bar chart as PNG bytes. With more than 20 bars, every k-th bar is labelled so that labels stay legible.</summary>
    /// <param name="labels">One label per bar.</param>
    /// <param name="values">Bar heights.</param>
    /// <param name="options">Titles and size.</param>
    public static byte[] Bars(IReadOnlyList<string> labels, IReadOnlyList<double> values, ChartOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(values);
        if (labels.Count != values.Count) throw new ArgumentException($"labels ({labels.Count}) and values ({values.Count}) differ in length.", nameof(values));
        options ??= new ChartOptions();
        var plot = NewPlot(options);
        plot.Add.Bars(values.ToArray());
        // at most about 20 tick labels, or they run together: every k-th bar is labelled
        int every = Math.Max(1, (int)Math.Ceiling(labels.Count / 20.0));
        var ticks = Enumerable.Range(0, labels.Count).Where(i => i % every == 0).ToArray();
        plot.Axes.Bottom.SetTicks(ticks.Select(i => (double)i).ToArray(), ticks.Select(i => labels[i]).ToArray());
        return Finish(plot, options, false);
    }

    /// <summary>Saves PNG bytes from one of the chart methods, atomically.</summary>
    public static void Save(string path, byte[] png) => AtomicFile.WriteAllBytes(path, png);

    private static Plot NewPlot(ChartOptions options)
    {
        if (options.Width < 50 || options.Height < 50) throw new ArgumentOutOfRangeException(nameof(options), "Chart width and height must be at least 50 pixels.");
        var plot = new Plot();
        if (!string.IsNullOrEmpty(options.Title)) plot.Title(options.Title);
        if (!string.IsNullOrEmpty(options.XLabel)) plot.XLabel(options.XLabel);
        if (!string.IsNullOrEmpty(options.YLabel)) plot.YLabel(options.YLabel);
        if (options.LogX) plot.Axes.Bottom.TickGenerator = LogTicks();
        if (options.LogY) plot.Axes.Left.TickGenerator = LogTicks();
        return plot;
    }

    private static ScottPlot.TickGenerators.NumericAutomatic LogTicks() => new()
    {
        MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
        IntegerTicksOnly = true,
        LabelFormatter = v => Math.Pow(10, v).ToString("G3", System.Globalization.CultureInfo.InvariantCulture),
    };

    private static ScottPlot.ITickGenerator LogTicksFor(double low, double high)
    {
        if (!(high > low) || high - low >= 2) return LogTicks();
        var manual = new ScottPlot.TickGenerators.NumericManual();
        for (int k = (int)Math.Floor(low) - 1; k <= (int)Math.Ceiling(high); k++)
            foreach (var m in new[] { 1.0, 2, 5 })
            {
                double v = k + Math.Log10(m);
                if (v >= low && v <= high)
                    manual.AddMajor(v, (m * Math.Pow(10, k)).ToString("G3", System.Globalization.CultureInfo.InvariantCulture));
            }
        return manual;
    }

    private static double[] Transform(IReadOnlyList<double> values, bool log, string label, string axis)
    {
        var result = new double[values.Count];
        for (int i = 0; i < values.Count; i++)
        {
            var v = values[i];
            if (!double.IsFinite(v)) throw new ArgumentException($"Series '{label}' has a non-finite {axis} value at index {i}.");
            if (log && v <= 0) throw new ArgumentException($"Series '{label}' has {axis} = {v} at index {i}; a log axis needs positive values.");
            result[i] = log ? Math.Log10(v) : v;
        }
        return result;
    }

    private static void AddReferences(Plot plot, IReadOnlyList<ReferenceLine>? references, ChartOptions options)
    {
        if (references is null) return;
        foreach (var r in references)
        {
            var color = ScottPlot.Color.FromHex(r.Color);
            if (r.Vertical)
            {
                var line = plot.Add.VerticalLine(options.LogX ? Math.Log10(r.Value) : r.Value, 1.5f, color, LinePattern.Dotted);
                if (r.Label is not null) line.LegendText = r.Label;
            }
            else
            {
                var line = plot.Add.HorizontalLine(options.LogY ? Math.Log10(r.Value) : r.Value, 1.5f, color, LinePattern.Dotted);
                if (r.Label is not null) line.LegendText = r.Label;
            }
        }
    }

    private static byte[] Finish(Plot plot, ChartOptions options, bool anyLabel, bool autoscale = true)
    {
        if (options.Legend && anyLabel)
        {
            if (options.LegendCorner == "outside right") plot.ShowLegend(Edge.Right);
            else
                plot.ShowLegend(options.LegendCorner switch
                {
                    "upper left" => Alignment.UpperLeft,
                    "lower right" => Alignment.LowerRight,
                    "lower left" => Alignment.LowerLeft,
                    _ => Alignment.UpperRight,
                });
        }
        if (autoscale) plot.Axes.AutoScale();
        // Decade ticks alone leave a log axis that spans less than two decades with one label or none: label 1, 2 and 5
        // times each power of ten there.
        var limits = plot.Axes.GetLimits();
        if (options.LogX) plot.Axes.Bottom.TickGenerator = LogTicksFor(limits.Left, limits.Right);
        if (options.LogY) plot.Axes.Left.TickGenerator = LogTicksFor(limits.Bottom, limits.Top);
        Fonts.Apply(plot);
        return plot.GetImageBytes(options.Width, options.Height, ImageFormat.Png);
    }

    private static ScottPlot.Color ToColor(Colormap map, double t)
    {
        var (r, g, b) = map.ToBytes(t);
        return new ScottPlot.Color(r, g, b);
    }
}
