using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Imaging;

/// <summary>Heatmaps drawn over images (attribution overlays, activation maps over inputs).</summary>
public static class Overlay
{
    /// <summary>
    /// Blends a colour-mapped <paramref name="heat"/> over a greyed copy of <paramref name="image"/>. The heatmap's
    /// opacity grows with its magnitude, so where the map is zero the image shows through.
    /// </summary>
    /// <param name="image"><c>[3, H, W]</c> or <c>[1, H, W]</c>, values in [0, 1].</param>
    /// <param name="heat"><c>[h, w]</c>; resized bilinearly to <c>[H, W]</c> when smaller (e.g. a Grad-CAM map).</param>
    /// <param name="colormap">Default: <see cref="Colormap.Diverging"/> (signed maps).</param>
    /// <param name="normalization">Default: <see cref="Normalization.Symmetric"/>.</param>
    /// <param name="alpha">Opacity of the strongest heat, in [0, 1].</param>
    /// <returns><c>[3, H, W]</c> float32 in [0, 1], on the device of <paramref name="image"/>.</returns>
    public static Tensor Heatmap(Tensor image, Tensor heat, Colormap? colormap = null, Normalization? normalization = null, double alpha = 0.7)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(heat);
        if (image.dim() != 3 || (image.shape[0] != 3 && image.shape[0] != 1))
            throw new ArgumentException($"image must be [3, H, W] or [1, H, W]; got [{string.Join(", ", image.shape)}].", nameof(image));
        if (heat.dim() != 2)
            throw new ArgumentException($"heat must be [h, w]; got [{string.Join(", ", heat.shape)}].", nameof(heat));
        if (alpha is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "alpha must be in [0, 1].");
        colormap ??= Colormap.Diverging;
        normalization ??= Normalization.Symmetric;
        using var scope = NewDisposeScope();
        long H = image.shape[1], W = image.shape[2];
        var img = image.detach().to(float32).clamp(Scalars.IntZero, Scalars.IntOne);
        if (img.shape[0] == 1) img = img.expand(3, H, W);
        var h = heat.detach().to(float32, image.device);
        if (h.shape[0] != H || h.shape[1] != W)
            h = nn.functional.interpolate(h.unsqueeze(0).unsqueeze(0), new long[] { H, W }, mode: InterpolationMode.Bilinear, align_corners: false)[0, 0];
        var t = normalization.Apply(h);                                    // [H, W] in [0, 1]
        var rgb = colormap.Apply(t);                                       // [3, H, W]
        // Opacity: distance from the map's neutral point (0.5 for symmetric maps, 0 otherwise).
        var neutral = (float)normalization.NeutralPoint;
        var strength = neutral > 0 ? (t - neutral).abs() / Math.Max(neutral, 1 - neutral) : t;
        var a = (strength * (float)alpha).unsqueeze(0);
        var grey = img.mean(new long[] { 0 }, keepdim: true).expand(3, H, W) * 0.8f + 0.1f;
        return (grey * (1 - a) + rgb * a).clamp(Scalars.IntZero, Scalars.IntOne).MoveToOuterDisposeScope();
    }
}
