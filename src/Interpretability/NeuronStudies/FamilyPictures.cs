using Interpretability.Imaging;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.NeuronStudies;

/// <summary>Pictures of a curve family: the arrangement sheet, joint tuning curves and the radial tuning plot.</summary>
public static class FamilyPictures
{
    private static readonly string[] Palette =
    {
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    };

    /// <summary>A colour for unit <paramref name="i"/> of a family, hue = its preferred orientation when given.</summary>
    /// <param name="i">Index in the family.</param>
    /// <param name="orientation">Preferred orientation in radians, or null for the palette colour.</param>
    public static string Colour(int i, double? orientation = null)
    {
        if (orientation is not { } o) return Palette[i % Palette.Length];
        var h = (o / (2 * Math.PI) % 1 + 1) % 1 * 6;
        double R = Math.Clamp(Math.Abs(h - 3) - 1, 0, 1), G = Math.Clamp(2 - Math.Abs(h - 2), 0, 1), B = Math.Clamp(2 - Math.Abs(h - 4), 0, 1);
        // Darken a little so that yellow and cyan read on white.
        return $"#{(int)(R * 210):x2}{(int)(G * 190):x2}{(int)(B * 230):x2}";
    }

    /// <summary>
    /// The family arrangement: one row per unit, ordered by preferred orientation: the unit's preferred synthetic curve,
    /// its top dataset-example crops, its orientation × radius heatmap (rows: orientation 0→360° top to bottom;
    /// columns: radius small → large) and its orientation tuning curve.
    /// </summary>
    /// <param name="family">The family (units in order).</param>
    /// <param name="tuning">The layer's curve tuning.</param>
    /// <param name="crops">Per unit, its top-example crops <c>[k, 3, S, S]</c> (may be null to leave them out).</param>
    /// <param name="title">Title of the sheet.</param>
    /// <param name="tile">Tile side in pixels.</param>
    public static SKBitmap Arrangement(CurveFamily family, CurveTuning tuning, IReadOnlyList<Tensor>? crops, string title, int tile = 96)
    {
        ArgumentNullException.ThrowIfNull(family);
        ArgumentNullException.ThrowIfNull(tuning);
        if (family.Units.Count == 0) throw new ArgumentException("The family has no units.", nameof(family));
        if (crops is not null && crops.Count != family.Units.Count) throw new ArgumentException($"crops needs {family.Units.Count} entries; got {crops.Count}.", nameof(crops));
        int k = crops is null ? 0 : (int)crops.Max(c => c.shape[0]);
        var tiles = new List<SKBitmap>();
        var rowLabels = new List<string>();
        try
        {
            for (int u = 0; u < family.Units.Count; u++)
            {
                var unit = family.Units[u];
                rowLabels.Add($"{unit.Layer}:{unit.Channel}  {unit.PreferredOrientation * 180 / Math.PI:F0}°  r {unit.PreferredRadius:0.#}  sel {unit.Selectivity:F2}");
                using (var best = Stimuli.Curves(new[] { new CurveSpec(unit.PreferredOrientation, unit.PreferredRadius, 2, Math.Min(Math.PI, 20 / unit.PreferredRadius)) },
                           new StimulusCanvas(48)))
                    tiles.Add(Resize(Png.ToBitmap(best[0]), tile));
                for (int j = 0; j < k; j++)
                {
                    if (crops is not null && j < crops[u].shape[0])
                        using (var crop = crops[u][j])
                            tiles.Add(Resize(Png.ToBitmap(crop.clamp(Scalars.IntZero, Scalars.IntOne)), tile));
                    else tiles.Add(Blank(tile));
                }
                tiles.Add(Resize(HeatmapBitmap(tuning.Heatmap(unit.Channel)), tile));
                tiles.Add(Resize(CurveBitmap(tuning.Orientations, tuning.OrientationCurve(unit.Channel), Colour(u, unit.PreferredOrientation)), tile));
            }
            var columns = new List<string> { "preferred" };
            for (int j = 0; j < k; j++) columns.Add($"top {j + 1}");
            columns.Add("orient.×radius");
            columns.Add("tuning 0–360°");
            return ImageGrid.Compose(tiles, null, new GridOptions(Columns: k + 3, Padding: 4, Title: title, RowLabels: rowLabels, ColumnLabels: columns, FontSize: 13));
        }
        finally
        {
            foreach (var t in tiles) t.Dispose();
        }
    }

    /// <summary>Joint tuning curves of the family on one chart (PNG bytes): response against orientation, one line per unit.</summary>
    /// <param name="family">The family.</param>
    /// <param name="orientationsDeg">x values in degrees.</param>
    /// <param name="curves">Per unit, its curve over <paramref name="orientationsDeg"/>.</param>
    /// <param name="title">Chart title.</param>
    /// <param name="normalise">Divide each curve by its maximum.</param>
    public static byte[] JointTuning(CurveFamily family, IReadOnlyList<double> orientationsDeg, IReadOnlyList<double[]> curves, string title, bool normalise = true)
    {
        ArgumentNullException.ThrowIfNull(family);
        ArgumentNullException.ThrowIfNull(curves);
        var series = new List<Series>();
        for (int u = 0; u < curves.Count; u++)
        {
            var c = curves[u];
            var m = c.Max();
            var ys = normalise && m > 0 ? c.Select(v => v / m).ToArray() : c;
            // palette colours, not hue by orientation: two units with close preferences would get the same colour; the legend
            // gives each unit's preference
            series.Add(new Series($"{family.Units[u].Channel} ({family.Units[u].PreferredOrientation * 180 / Math.PI:F0}°)", orientationsDeg.ToArray(), ys, Colour(u)));
        }
        return Charts.Line(series, new ChartOptions(title, "curve orientation (degrees; direction from the arc's midpoint to its centre)",
            normalise ? "response / unit's max" : "response", Width: 1100, Height: 500, LegendCorner: "outside right"));
    }

    /// <summary>
    /// Radial tuning plot (PNG bytes): each unit's orientation tuning curve (normalised to its max) drawn as a closed curve
    /// around the origin, radius = response, angle = orientation.
    /// </summary>
    /// <param name="family">The family.</param>
    /// <param name="tuning">The layer's curve tuning.</param>
    /// <param name="title">Chart title.</param>
    public static byte[] Radial(CurveFamily family, CurveTuning tuning, string title)
    {
        ArgumentNullException.ThrowIfNull(family);
        ArgumentNullException.ThrowIfNull(tuning);
        var series = new List<Series>();
        var th = tuning.Orientations.Append(tuning.Orientations[0]).ToArray();
        for (int u = 0; u < family.Units.Count; u++)
        {
            var c = tuning.OrientationCurve(family.Units[u].Channel);
            var m = Math.Max(c.Max(), 1e-12);
            var r = c.Append(c[0]).Select(v => Math.Max(0, v) / m).ToArray();
            series.Add(new Series($"{family.Units[u].Channel} ({family.Units[u].PreferredOrientation * 180 / Math.PI:F0}°)", th.Select((t, i) => r[i] * Math.Cos(t)).ToArray(),
                th.Select((t, i) => r[i] * Math.Sin(t)).ToArray(), Colour(u)));
        }
        var circle = Enumerable.Range(0, 73).Select(i => 2 * Math.PI * i / 72).ToArray();
        series.Add(new Series("", circle.Select(Math.Cos).ToArray(), circle.Select(Math.Sin).ToArray(), "#bbbbbb", Dashed: true, LineWidth: 1));
        return Charts.Line(series, new ChartOptions(title, "x (orientation 0° →)", "y (90° ↑)", Width: 820, Height: 700, LegendCorner: "outside right"));
    }

    private static SKBitmap HeatmapBitmap(double[,] values)
    {
        int rows = values.GetLength(0), cols = values.GetLength(1);
        double max = 0;
        foreach (var v in values) max = Math.Max(max, v);
        // Columns stretched so that the picture is square (few radii, many orientations).
        int stretch = Math.Max(1, (int)Math.Round((double)rows / cols));
        var bmp = new SKBitmap(cols * stretch, rows);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols * stretch; j++)
            {
                var (r, g, b) = Colormap.Viridis.ToBytes(max > 0 ? Math.Max(0, values[i, j / stretch]) / max : 0);
                bmp.SetPixel(j, i, new SKColor(r, g, b));
            }
        return bmp;
    }

    private static SKBitmap CurveBitmap(double[] x, double[] y, string colour)
    {
        const int w = 120, h = 96;
        var bmp = new SKBitmap(w, h);
        using var canvas = new SKCanvas(bmp);
        canvas.Clear(SKColors.White);
        var max = Math.Max(y.Max(), 1e-12);
        using var axis = new SKPaint { Color = new SKColor(180, 180, 180), StrokeWidth = 1 };
        canvas.DrawLine(0, h - 4, w, h - 4, axis);
        foreach (var q in new[] { 0.25, 0.5, 0.75 }) canvas.DrawLine((float)(q * w), h - 4, (float)(q * w), h - 10, axis);
        using var paint = new SKPaint { Color = SKColor.Parse(colour), StrokeWidth = 2.5f, IsAntialias = true, Style = SKPaintStyle.Stroke };
        using var path = new SKPath();
        for (int i = 0; i < y.Length; i++)
        {
            float px = (float)(x[i] / (2 * Math.PI) * w), py = (float)(h - 4 - Math.Max(0, y[i]) / max * (h - 10));
            if (i == 0) path.MoveTo(px, py); else path.LineTo(px, py);
        }
        canvas.DrawPath(path, paint);
        return bmp;
    }

    private static SKBitmap Blank(int size)
    {
        var bmp = new SKBitmap(size, size);
        bmp.Erase(SKColors.White);
        return bmp;
    }

    private static SKBitmap Resize(SKBitmap source, int size)
    {
        using (source)
        {
            var scale = (float)size / Math.Max(source.Width, source.Height);
            int w = Math.Max(1, (int)Math.Round(source.Width * scale)), h = Math.Max(1, (int)Math.Round(source.Height * scale));
            return source.Resize(new SKImageInfo(w, h), new SKSamplingOptions(SKFilterMode.Nearest));
        }
    }
}
