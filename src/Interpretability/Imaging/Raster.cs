using SkiaSharp;
using static TorchSharp.torch;

namespace Interpretability.Imaging;

/// <summary>Draws with SkiaSharp (anti-aliased) straight into a tensor — the renderer of procedural images and stimuli.</summary>
public static class Raster
{
    /// <summary>Runs <paramref name="draw"/> on a white <paramref name="width"/>×<paramref name="height"/> canvas.</summary>
    /// <returns><c>[3, height, width]</c> float32 RGB in [0, 1].</returns>
    public static Tensor Draw(int width, int height, Action<SKCanvas> draw)
    {
        if (width < 1) throw new ArgumentOutOfRangeException(nameof(width), width, "width must be at least 1.");
        if (height < 1) throw new ArgumentOutOfRangeException(nameof(height), height, "height must be at least 1.");
        ArgumentNullException.ThrowIfNull(draw);
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(SKColors.White);
            draw(canvas);
        }
        return Png.FromBitmap(bitmap);
    }
}
