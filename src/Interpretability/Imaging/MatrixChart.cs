using ScottPlot;

namespace Interpretability.Imaging;

/// <summary>
/// A matrix drawn as coloured cells with a label on every row and column and a colour bar — the picture of a data
/// matrix, a similarity (RSA) matrix or a confusion matrix, where <see cref="Charts.Heatmap"/> has numeric axes.
/// Row 0 is drawn at the top, column 0 at the left.
/// </summary>
public static class MatrixChart
{
    /// <summary>Renders the matrix as PNG bytes.</summary>
    /// <param name="values"><c>[rows, columns]</c>, finite.</param>
    /// <param name="rowLabels">One label per row (null: none).</param>
    /// <param name="columnLabels">One label per column (null: none); drawn at 45° when any is longer than 3 characters.</param>
    /// <param name="options">Title, axis labels and size.</param>
    /// <param name="colorbarLabel">Label of the colour bar.</param>
    /// <param name="diverging">Signed data: blue–white–red around zero.</param>
    /// <param name="range">Fixed colour range (e.g. −1…1 for correlations, so that several matrices compare); null fits the data.</param>
    public static byte[] Render(double[,] values, IReadOnlyList<string>? rowLabels = null, IReadOnlyList<string>? columnLabels = null,
        ChartOptions? options = null, string colorbarLabel = "", bool diverging = false, (double Min, double Max)? range = null)
    {
        ArgumentNullException.ThrowIfNull(values);
        options ??= new ChartOptions();
        int rows = values.GetLength(0), cols = values.GetLength(1);
        if (rows == 0 || cols == 0) throw new ArgumentException("values must not be empty.", nameof(values));
        foreach (var v in values)
            if (!double.IsFinite(v)) throw new ArgumentException("values hold NaN or infinity.", nameof(values));
        if (rowLabels is not null && rowLabels.Count != rows) throw new ArgumentException($"rowLabels needs {rows} entries; got {rowLabels.Count}.", nameof(rowLabels));
        if (columnLabels is not null && columnLabels.Count != cols) throw new ArgumentException($"columnLabels needs {cols} entries; got {columnLabels.Count}.", nameof(columnLabels));
        if (range is { } r && !(r.Max > r.Min)) throw new ArgumentException($"range must have Max > Min; got {r.Min}…{r.Max}.", nameof(range));
        var plot = new Plot();
        if (!string.IsNullOrEmpty(options.Title)) plot.Title(options.Title);
        if (!string.IsNullOrEmpty(options.XLabel)) plot.XLabel(options.XLabel);
        if (!string.IsNullOrEmpty(options.YLabel)) plot.YLabel(options.YLabel);
        var hm = plot.Add.Heatmap(values);
        hm.Colormap = diverging
            ? new ScottPlot.Colormaps.Custom(Enumerable.Range(0, 256).Select(i => ToColor(Colormap.Diverging, i / 255.0)).ToArray())
            : new ScottPlot.Colormaps.Viridis();
        if (range is { } fixedRange) hm.ManualRange = new ScottPlot.Range(fixedRange.Min, fixedRange.Max);
        else if (diverging)
        {
            double m = 0;
            foreach (var v in values) m = Math.Max(m, Math.Abs(v));
            hm.ManualRange = new ScottPlot.Range(-(m == 0 ? 1 : m), m == 0 ? 1 : m);
        }
        hm.Rectangle = new CoordinateRect(-0.5, cols - 0.5, -0.5, rows - 0.5);   // outer edges of the cells
        var bar = plot.Add.ColorBar(hm);
        bar.Label = colorbarLabel;
        // Row i sits at y = rows − 1 − i (row 0 at the top).
        if (rowLabels is not null)
            plot.Axes.Left.SetTicks(Enumerable.Range(0, rows).Select(i => (double)(rows - 1 - i)).ToArray(), rowLabels.ToArray());
        else plot.Axes.Left.TickLabelStyle.IsVisible = false;
        if (columnLabels is not null)
        {
            plot.Axes.Bottom.SetTicks(Enumerable.Range(0, cols).Select(i => (double)i).ToArray(), columnLabels.ToArray());
            if (columnLabels.Any(l => l.Length > 3))
            {
                plot.Axes.Bottom.TickLabelStyle.Rotation = -45;
                plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleRight;
                plot.Axes.Bottom.MinimumSize = 8 * columnLabels.Max(l => l.Length) + 20;
            }
        }
        else plot.Axes.Bottom.TickLabelStyle.IsVisible = false;
        plot.Axes.SetLimits(-0.5, cols - 0.5, -0.5, rows - 0.5);
        Fonts.Apply(plot);
        return plot.GetImageBytes(options.Width, options.Height, ImageFormat.Png);
    }

    private static ScottPlot.Color ToColor(Colormap map, double t)
    {
        var (r, g, b) = map.ToBytes(t);
        return new ScottPlot.Color(r, g, b);
    }
}
