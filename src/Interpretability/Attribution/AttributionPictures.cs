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
            _ => throw new ArgumentException($"attribution must be [C, H, W] or [H, W] (one input); got {GradientCore.Shape(attribution)}.", nameof(attribution)),
        };
    }

    /// <summary>
    /// The value a picture's colour scale ends at: the <paramref name="percentile"/>-th percentile of |map| (Captum's
    /// <c>visualize_image_attr</c> clips the top 2 % as outliers), or the maximum when that is 0.
    /// </summary>
    /// <param name="map">Any tensor.</param>
    /// <param name="percentile">In (0, 100].</param>
    public static double ScaleOf(Tensor map, double percentile = 98)
    {
        ArgumentNullException.ThrowIfNull(map);
        if (percentile is <= 0 or > 100) throw new ArgumentOutOfRangeException(nameof(percentile), percentile, "percentile must be in (0, 100].");
        using var scope = NewDisposeScope();
        var a = map.detach().abs().flatten().to(float64);
        var q = a.quantile(percentile / 100.0).ToDouble();
        return q > 0 ? q : Math.Max(a.max().ToDouble(), 1e-30);
    }

    /// <summary>
    /// The signed overlay of one input's attribution on the image: channels summed, scaled symmetrically to the 98th
    /// percentile of |value| (larger values saturate), diverging colour map over a greyed image.
    /// </summary>
    /// <param name="image"><c>[3, H, W]</c> in [0, 1].</param>
    /// <param name="attribution"><c>[C, H, W]</c>, <c>[1, h, w]</c> or <c>[h, w]</c> (smaller maps are resized).</param>
    /// <param name="alpha">Opacity of the strongest attribution.</param>
    /// <returns><c>[3, H, W]</c> in [0, 1].</returns>
    /// <remarks>An unsigned map (no negative value, e.g. saliency's |∂S/∂x| or Grad-CAM) uses only the map's positive half
    /// (white 0 → red at the scale): the same colours mean the same in every picture, and no blue claims a sign the method
    /// does not give.</remarks>
    public static Tensor Overlay(Tensor image, Tensor attribution, double alpha = 0.8)
    {
        using var scope = NewDisposeScope();
        var map = ToMap(attribution).cpu();
        return Imaging.Overlay.Heatmap(image.detach().cpu(), map, Colormap.Diverging, Normalization.SymmetricWithLimit(ScaleOf(map)), alpha).MoveToOuterDisposeScope();
    }

    /// <summary>Whether an attribution has no negative value (a magnitude, such as saliency's |∂S/∂x| or Grad-CAM).</summary>
    /// <param name="attribution">Any tensor.</param>
    public static bool IsUnsigned(Tensor attribution)
    {
        ArgumentNullException.ThrowIfNull(attribution);
        using var scope = NewDisposeScope();
        return attribution.detach().min().ToDouble() >= 0;
    }

    /// <summary>A horizontal colour-bar tile of the diverging map: <c>[3, 16, 128]</c>; <paramref name="unsigned"/>: its
    /// positive half only (white 0 → red).</summary>
    public static Tensor ColourBar(bool unsigned = false)
    {
        using var scope = NewDisposeScope();
        var ramp = linspace(unsigned ? 0 : -1, 1, 128).unsqueeze(0).expand(16, 128);
        return Colormap.Diverging.Apply(Normalization.SymmetricWithLimit(1).Apply(ramp)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// One method's overlay as a PNG: the input, the overlay and the colour bar, titled with the method and its colour
    /// scale (98th percentile of |value|).
    /// </summary>
    /// <param name="image"><c>[3, H, W]</c> in [0, 1].</param>
    /// <param name="attribution">One input's attribution (<c>[C, H, W]</c> or a map).</param>
    /// <param name="title">Method name for the title.</param>
    /// <param name="tileSize">Pixels per tile.</param>
    /// <returns>PNG bytes (save them with <see cref="AtomicFile.WriteAllBytes"/> or show them).</returns>
    public static byte[] OverlayPicture(Tensor image, Tensor attribution, string title, int tileSize = 192)
    {
        using var scope = NewDisposeScope();
        var map = ToMap(attribution);
        var max = ScaleOf(map);
        bool unsigned = IsUnsigned(attribution);
        return ImageGrid.Encode(new[] { image.detach().cpu(), Overlay(image, attribution), ColourBar(unsigned) },
            new[] { "input", $"{title} (Σ channels)", unsigned ? $"0  ·  {max:G3}" : $"−{max:G3}  ·  0  ·  +{max:G3}" },
            new GridOptions(Columns: 3, TileSize: tileSize, Title: unsigned ? $"{title}: magnitude only (no sign), white 0 → red large" : $"{title}: red raises the target score, blue lowers it"));
    }

    /// <summary>
    /// A side-by-side grid as a PNG: the input, then one overlay per method (each scaled to the 98th percentile of its own
    /// |values|, quoted under it), then the colour bar.
    /// </summary>
    /// <param name="image"><c>[3, H, W]</c> in [0, 1].</param>
    /// <param name="results">(title, one input's attribution) per method.</param>
    /// <param name="title">Title over the grid.</param>
    /// <param name="tileSize">Pixels per tile.</param>
    /// <returns>PNG bytes.</returns>
    public static byte[] ComparisonGrid(Tensor image, IReadOnlyList<(string Title, Tensor Attribution)> results, string title, int tileSize = 160)
    {
        ArgumentNullException.ThrowIfNull(results);
        using var scope = NewDisposeScope();
        var tiles = new List<Tensor> { image.detach().cpu() };
        var titles = new List<string?> { "input" };
        foreach (var (name, attribution) in results)
        {
            tiles.Add(Overlay(image, attribution));
            titles.Add(IsUnsigned(attribution) ? $"{name} (|·| 0…{ScaleOf(ToMap(attribution)):G2})" : $"{name} (±{ScaleOf(ToMap(attribution)):G2})");
        }
        tiles.Add(ColourBar());
        titles.Add("blue − · 0 · red + (|·|: white 0 · red large); each to its 98th pct");
        return ImageGrid.Encode(tiles, titles, new GridOptions(Columns: Math.Min(4, tiles.Count), TileSize: tileSize, Title: title));
    }
}
