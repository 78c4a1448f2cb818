using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Imaging;

/// <summary>Layout of an <see cref="ImageGrid"/>.</summary>
/// <param name="Columns">Tiles per row; 0 chooses ⌈√n⌉.</param>
/// <param name="TileSize">Each tile is scaled (nearest neighbour, aspect kept) to fit this many pixels on its longer
/// side; 0 keeps tiles at their own size.</param>
/// <param name="Padding">Pixels between tiles.</param>
/// <param name="Title">A title over the whole grid.</param>
/// <param name="RowLabels">A label left of each row.</param>
/// <param name="ColumnLabels">A label over each column.</param>
/// <param name="FontSize">Size of tile titles and labels, in pixels.</param>
public sealed record GridOptions(int Columns = 0, int TileSize = 0, int Padding = 4, string? Title = null,
    IReadOnlyList<string>? RowLabels = null, IReadOnlyList<string>? ColumnLabels = null, float FontSize = 12f);

/// <summary>Composes tiles (with optional titles, row and column labels) into one picture.</summary>
public static class ImageGrid
{
    /// <summary>Composes <paramref name="tiles"/> into a grid. The tiles stay owned by the caller.</summary>
    /// <param name="tiles">The pictures, row by row.</param>
    /// <param name="titles">A caption under each tile (or null entries / a null list for none).</param>
    /// <param name="options">Layout.</param>
    public static SKBitmap Compose(IReadOnlyList<SKBitmap> tiles, IReadOnlyList<string?>? titles, GridOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(tiles);
        options ??= new GridOptions();
        if (tiles.Count == 0) throw new ArgumentException("At least one tile is required.", nameof(tiles));
        if (titles is not null && titles.Count != tiles.Count)
            throw new ArgumentException($"titles must have one entry per tile ({tiles.Count}); got {titles.Count}.", nameof(titles));
        if (options.Columns < 0 || options.TileSize < 0 || options.Padding < 0)
            throw new ArgumentOutOfRangeException(nameof(options), "Columns, TileSize and Padding must not be negative.");

        int n = tiles.Count;
        int cols = options.Columns > 0 ? Math.Min(options.Columns, n) : (int)Math.Ceiling(Math.Sqrt(n));
        int rows = (n + cols - 1) / cols;
        var sizes = tiles.Select(t => TileSize(t, options.TileSize)).ToArray();
        int cellW = sizes.Max(s => s.W), cellH = sizes.Max(s => s.H);

        using var font = new SKFont(Fonts.Sans, options.FontSize);
        using var titleFont = new SKFont(Fonts.Sans, options.FontSize * 1.35f);
        bool hasTitles = titles is not null && titles.Any(t => !string.IsNullOrEmpty(t));
        float lineH = options.FontSize * 1.3f;
        int captionH = hasTitles ? (int)Math.Ceiling(lineH * MaxLines(titles!, font, cellW)) + 2 : 0;
        int rowLabelW = options.RowLabels is { Count: > 0 } ? (int)Math.Ceiling(options.RowLabels.Max(l => font.MeasureText(l))) + 8 : 0;
        int colLabelH = options.ColumnLabels is { Count: > 0 } ? (int)Math.Ceiling(lineH) + 4 : 0;
        int titleH = string.IsNullOrEmpty(options.Title) ? 0 : (int)Math.Ceiling(options.FontSize * 1.35f * 1.6f);
        int pad = options.Padding;

        int width = rowLabelW + pad + cols * (cellW + pad);
        int height = titleH + colLabelH + pad + rows * (cellH + captionH + pad);
        width = Math.Max(width, titleH > 0 ? (int)titleFont.MeasureText(options.Title!) + 2 * pad : 1);

        var result = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        using var canvas = new SKCanvas(result);
        canvas.Clear(SKColors.White);
        using var textPaint = new SKPaint { Color = new SKColor(30, 30, 30), IsAntialias = true };
        var nearest = new SKSamplingOptions(SKFilterMode.Nearest);

        if (titleH > 0) canvas.DrawText(options.Title!, width / 2f, titleH * 0.72f, SKTextAlign.Center, titleFont, textPaint);
        if (options.ColumnLabels is not null)
            for (int c = 0; c < Math.Min(cols, options.ColumnLabels.Count); c++)
                canvas.DrawText(options.ColumnLabels[c], rowLabelW + pad + c * (cellW + pad) + cellW / 2f, titleH + lineH * 0.85f, SKTextAlign.Center, font, textPaint);

        for (int i = 0; i < n; i++)
        {
            int r = i / cols, c = i % cols;
            float x0 = rowLabelW + pad + c * (cellW + pad);
            float y0 = titleH + colLabelH + pad + r * (cellH + captionH + pad);
            var (w, h) = sizes[i];
            using var img = SKImage.FromBitmap(tiles[i]);
            var dest = SKRect.Create(x0 + (cellW - w) / 2f, y0 + (cellH - h) / 2f, w, h);
            canvas.DrawImage(img, dest, nearest, null);
            if (hasTitles && !string.IsNullOrEmpty(titles![i]))
            {
                var lines = Wrap(titles[i]!, font, cellW);
                for (int l = 0; l < lines.Count; l++)
                    canvas.DrawText(lines[l], x0 + cellW / 2f, y0 + cellH + lineH * (l + 0.85f), SKTextAlign.Center, font, textPaint);
            }
        }
        if (options.RowLabels is not null)
            for (int r = 0; r < Math.Min(rows, options.RowLabels.Count); r++)
                canvas.DrawText(options.RowLabels[r], rowLabelW - 4, titleH + colLabelH + pad + r * (cellH + captionH + pad) + cellH / 2f + options.FontSize / 3f,
                    SKTextAlign.Right, font, textPaint);
        return result;
    }

    /// <summary>
    /// Composes tensor images (each <c>[H, W]</c>, <c>[1, H, W]</c> or <c>[3, H, W]</c>, any device; sizes may differ)
    /// and saves the grid as a PNG.
    /// </summary>
    public static void Save(string path, IReadOnlyList<Tensor> images, IReadOnlyList<string?>? titles = null,
        GridOptions? options = null, PngOptions? pngOptions = null) =>
        AtomicFile.WriteAllBytes(path, Encode(images, titles, options, pngOptions));

    /// <summary>Composes tensor images (each <c>[H, W]</c>, <c>[1, H, W]</c> or <c>[3, H, W]</c>) into a grid, as PNG bytes.</summary>
    public static byte[] Encode(IReadOnlyList<Tensor> images, IReadOnlyList<string?>? titles = null, GridOptions? options = null, PngOptions? pngOptions = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        var tiles = new List<SKBitmap>();
        try
        {
            foreach (var image in images) tiles.Add(Png.ToBitmap(image, pngOptions));
            using var grid = Compose(tiles, titles, options);
            return Png.Encode(grid);
        }
        finally
        {
            foreach (var t in tiles) t.Dispose();
        }
    }

    /// <summary>Saves bitmaps as a grid PNG.</summary>
    public static void Save(string path, IReadOnlyList<SKBitmap> tiles, IReadOnlyList<string?>? titles = null, GridOptions? options = null)
    {
        using var grid = Compose(tiles, titles, options);
        Png.Save(grid, path);
    }

    private static (int W, int H) TileSize(SKBitmap tile, int target)
    {
        if (target == 0) return (tile.Width, tile.Height);
        var longer = Math.Max(tile.Width, tile.Height);
        var s = (double)target / longer;
        return (Math.Max(1, (int)Math.Round(tile.Width * s)), Math.Max(1, (int)Math.Round(tile.Height * s)));
    }

    private static int MaxLines(IReadOnlyList<string?> titles, SKFont font, int width) =>
        titles.Max(t => string.IsNullOrEmpty(t) ? 0 : Wrap(t, font, width).Count);

    /// <summary>Greedy word wrap to <paramref name="width"/> pixels (at most 3 lines).</summary>
    internal static List<string> Wrap(string text, SKFont font, float width)
    {
        var lines = new List<string>();
        foreach (var paragraph in text.Split('\n'))
        {
            var current = "";
            foreach (var word in paragraph.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                var candidate = current.Length == 0 ? word : current + " " + word;
                if (font.MeasureText(candidate) <= width || current.Length == 0) current = candidate;
                else { lines.Add(current); current = word; }
            }
            lines.Add(current);
        }
        return lines.Take(3).ToList();
    }
}
