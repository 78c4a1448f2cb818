using Interpretability.Imaging;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>
/// Pictures of attributions: signed overlays on the input (blue lowers the score, red raises it, white/grey = 0) and a
/// side-by-side grid of several methods for one input, with a colour-bar tile.
/// </summary>
public static class AttributionPictures
{
    /// <summary>
    /// Reduces an attribution of one input to a map: <c>[C, H, W]</c> summed over channels, <c>[1, H, W]</c> or
    /// <c>[H, W]</c> as is. Returns <c>[H, W]</c>.
    /// </summary>
    public static Tensor ToMap(Tensor attribution)
    {
        ArgumentNullException.ThrowIfNull(attribution);
        return attribution.dim() switch
        {
            2 => attribution.detach().clone(),
            3 => attribution.detach().sum(dim: 0),
            _ => throw new ArgumentException($"attribution must be [C, H, W] or [H, W] (one input); got {Attributions.Shape(attribution)}.", nameof(attribution)),
        };
    }

    /// <summary>
    /// The signed overlay of one input's attribution on the image: channels summed, scaled symmetrically to its largest
    /// |value|, diverging colour map over a greyed image.
    /// </summary>
    /// <param name="image"><c>[3, H, W]</c> in [0, 1].</param>
    /// <param name="attribution"><c>[C, H, W]</c>, <c>[1, h, w]</c> or <c>[h, w]</c> (smaller maps are resized).</param>
    /// <param name="alpha">Opacity of the strongest attribution.</param>
    /// <returns><c>[3, H, W]</c> in [0, 1].</returns>
    public static Tensor Overlay(Tensor image, Tensor attribution, double alpha = 0.8)
    {
        using var scope = NewDisposeScope();
        var map = ToMap(attribution).cpu();
        return Imaging.Overlay.Heatmap(image.detach().cpu(), map, Colormap.Diverging, Normalization.Symmetric, alpha).MoveToOuterDisposeScope();
    }

    /// <summary>A horizontal colour-bar tile of the diverging map: <c>[3, 16, 128]</c>.</summary>
    public static Tensor ColourBar()
    {
        using var scope = NewDisposeScope();
        var ramp = linspace(-1, 1, 128).unsqueeze(0).expand(16, 128);
        return Colormap.Diverging.Apply(Normalization.Symmetric.Apply(ramp)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Saves one method's overlay: the input, the overlay and the colour bar, titled with the method and its largest |value|.
    /// </summary>
    /// <param name="path">PNG path.</param>
    /// <param name="image"><c>[3, H, W]</c> in [0, 1].</param>
    /// <param name="attribution">One input's attribution (<c>[C, H, W]</c> or a map).</param>
    /// <param name="title">Method name for the title.</param>
    /// <param name="tileSize">Pixels per tile.</param>
    public static void SaveOverlay(string path, Tensor image, Tensor attribution, string title, int tileSize = 192)
    {
        using var scope = NewDisposeScope();
        var map = ToMap(attribution);
        var max = map.abs().max().ToDouble();
        ImageGrid.Save(path, new[] { image.detach().cpu(), Overlay(image, attribution), ColourBar() },
            new[] { "input", $"{title} (Σ channels)", $"−{max:G3}  ·  0  ·  +{max:G3}" },
            new GridOptions(Columns: 3, TileSize: tileSize, Title: $"{title}: red raises the target score, blue lowers it"));
    }

    /// <summary>
    /// Saves a side-by-side grid: the input, then one overlay per method (each scaled to its own largest |value|, quoted
    /// under it), then the colour bar.
    /// </summary>
    /// <param name="path">PNG path.</param>
    /// <param name="image"><c>[3, H, W]</c> in [0, 1].</param>
    /// <param name="results">(title, one input's attribution) per method.</param>
    /// <param name="title">Title over the grid.</param>
    /// <param name="tileSize">Pixels per tile.</param>
    public static void SaveComparisonGrid(string path, Tensor image, IReadOnlyList<(string Title, Tensor Attribution)> results, string title, int tileSize = 160)
    {
        ArgumentNullException.ThrowIfNull(results);
        using var scope = NewDisposeScope();
        var tiles = new List<Tensor> { image.detach().cpu() };
        var titles = new List<string?> { "input" };
        foreach (var (name, attribution) in results)
        {
            tiles.Add(Overlay(image, attribution));
            titles.Add($"{name} (±{ToMap(attribution).abs().max().ToDouble():G2})");
        }
        tiles.Add(ColourBar());
        titles.Add("blue − · 0 · red + (per-map scale)");
        ImageGrid.Save(path, tiles, titles, new GridOptions(Columns: Math.Min(4, tiles.Count), TileSize: tileSize, Title: title));
    }
}
