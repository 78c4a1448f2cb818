using System.Runtime.InteropServices;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Imaging;

/// <summary>How a tensor becomes pixels.</summary>
/// <param name="Normalization">Maps values to [0, 1]. Default: <see cref="Normalization.Unit"/> for 3-channel images,
/// <see cref="Normalization.MinMax"/> for single-channel maps.</param>
/// <param name="Colormap">Colours a single-channel map. Default <see cref="Colormap.Grey"/>; ignored for 3-channel images.</param>
/// <param name="Scale">Integer nearest-neighbour upscaling (small feature maps stay crisp).</param>
public sealed record PngOptions(Normalization? Normalization = null, Colormap? Colormap = null, int Scale = 1);

/// <summary>Tensors to PNG files and back.</summary>
public static class Png
{
    private static readonly Scalar IntMaxByte = 255.ToScalar(), MaxByte = 255f.ToScalar();   // alive for the process

    /// <summary>
    /// Saves <paramref name="image"/> as a PNG (atomically: an interrupted write leaves no half file).
    /// </summary>
    /// <param name="image"><c>[H, W]</c> or <c>[1, H, W]</c> (a map, coloured by the colormap), <c>[3, H, W]</c> (RGB), or
    /// <c>[B, C, H, W]</c> (a grid of B images).</param>
    /// <param name="path">Destination file; its folder is created.</param>
    /// <param name="options">Normalisation, colormap and scale.</param>
    public static void Save(Tensor image, string path, PngOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        using var bitmap = image.dim() == 4 ? GridOf(image, options) : ToBitmap(image, options);
        Save(bitmap, path);
    }

    /// <summary>Saves a bitmap as a PNG, atomically.</summary>
    public static void Save(SKBitmap bitmap, string path)
    {
        ArgumentNullException.ThrowIfNull(bitmap);
        AtomicFile.WriteAllBytes(path, Encode(bitmap));
    }

    /// <summary>Encodes a bitmap as PNG bytes.</summary>
    public static byte[] Encode(SKBitmap bitmap)
    {
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>Converts <paramref name="image"/> (<c>[H, W]</c>, <c>[1, H, W]</c> or <c>[3, H, W]</c>) to a bitmap.</summary>
    public static SKBitmap ToBitmap(Tensor image, PngOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        options ??= new PngOptions();
        if (options.Scale < 1) throw new ArgumentOutOfRangeException(nameof(options), options.Scale, "PngOptions.Scale must be at least 1.");
        using var scope = NewDisposeScope();
        var rgb = ToRgb(image, options);                           // [3, H, W] in [0, 1]
        var h = (int)rgb.shape[1];
        var w = (int)rgb.shape[2];
        var rgba = cat(new[] { rgb, ones(1, h, w, dtype: float32, device: rgb.device) }, 0);
        var bytes = (rgba.permute(1, 2, 0) * 255f).round().clamp(Scalars.IntZero, IntMaxByte).to(ScalarType.Byte).cpu().contiguous().data<byte>().ToArray();
        var bitmap = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Premul));
        Marshal.Copy(bytes, 0, bitmap.GetPixels(), bytes.Length);
        if (options.Scale == 1) return bitmap;
        using (bitmap) return Upscale(bitmap, options.Scale);
    }

    /// <summary>
    /// Reads a PNG (or any format SkiaSharp decodes) into <c>[3, H, W]</c> float32 RGB in [0, 1] (alpha is dropped).
    /// </summary>
    /// <param name="path">The picture file.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="ArgumentException">The file cannot be decoded as an image.</exception>
    public static Tensor Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Image file '{path}' does not exist.", path);
        using var decoded = SKBitmap.Decode(path)
            ?? throw new ArgumentException($"'{path}' cannot be read as an image (not a PNG/JPEG/WebP, or corrupt).", nameof(path));
        return FromBitmap(decoded);
    }

    /// <summary>
    /// Reads a picture (as <see cref="Read(string)"/>) resized to exactly <paramref name="height"/> ×
    /// <paramref name="width"/> (bilinear, antialiased, then clamped to [0, 1]): e.g. a model's square input.
    /// </summary>
    /// <param name="path">The picture file.</param>
    /// <param name="height">Rows of the result (≥ 1).</param>
    /// <param name="width">Columns of the result (≥ 1).</param>
    /// <returns><c>[3, height, width]</c> float32 RGB in [0, 1], on the CPU.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="ArgumentException">The file cannot be decoded as an image.</exception>
    public static Tensor Read(string path, int height, int width)
    {
        if (height < 1) throw new ArgumentOutOfRangeException(nameof(height), height, "height must be at least 1.");
        if (width < 1) throw new ArgumentOutOfRangeException(nameof(width), width, "width must be at least 1.");
        using var image = Read(path);
        return Resize(image, height, width);
    }

    /// <summary>
    /// Reads a picture (as <see cref="Read(string)"/>) resized so that its longer side is <paramref name="longerSide"/>
    /// pixels, keeping its aspect ratio (each side rounded, at least 1; bilinear, antialiased, then clamped to [0, 1]).
    /// </summary>
    /// <param name="path">The picture file.</param>
    /// <param name="longerSide">Pixels of the longer side of the result (≥ 1).</param>
    /// <returns><c>[3, H, W]</c> float32 RGB in [0, 1], on the CPU, with <c>max(H, W) = longerSide</c>.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="ArgumentException">The file cannot be decoded as an image.</exception>
    public static Tensor ReadWithLongerSide(string path, int longerSide)
    {
        if (longerSide < 1) throw new ArgumentOutOfRangeException(nameof(longerSide), longerSide, "longerSide must be at least 1.");
        using var image = Read(path);
        long h = image.shape[1], w = image.shape[2];
        var scale = (double)longerSide / Math.Max(h, w);
        return Resize(image, Math.Max(1, (long)Math.Round(h * scale)), Math.Max(1, (long)Math.Round(w * scale)));
    }

    /// <summary><c>[3, H, W]</c> → <c>[3, height, width]</c>: bilinear with antialiasing, clamped to [0, 1], contiguous.</summary>
    private static Tensor Resize(Tensor image, long height, long width)
    {
        using var scope = NewDisposeScope();
        var resized = nn.functional.interpolate(image.unsqueeze(0), new[] { height, width }, mode: InterpolationMode.Bilinear, align_corners: false, antialias: true)[0];
        return resized.clamp(Scalars.IntZero, Scalars.IntOne).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Converts a bitmap to <c>[3, H, W]</c> float32 RGB in [0, 1].</summary>
    public static Tensor FromBitmap(SKBitmap bitmap)
    {
        ArgumentNullException.ThrowIfNull(bitmap);
        using var rgba = new SKBitmap(new SKImageInfo(bitmap.Width, bitmap.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        if (!bitmap.CopyTo(rgba, SKColorType.Rgba8888))
        {
            using var canvas = new SKCanvas(rgba);
            canvas.DrawBitmap(bitmap, 0, 0);
        }
        var bytes = new byte[rgba.Width * rgba.Height * 4];
        Marshal.Copy(rgba.GetPixels(), bytes, 0, bytes.Length);
        using var scope = NewDisposeScope();
        var t = tensor(bytes, dtype: ScalarType.Byte).reshape(rgba.Height, rgba.Width, 4);
        return t.narrow(2, 0, 3).permute(2, 0, 1).to(float32).div(MaxByte).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Nearest-neighbour upscaling by an integer factor.</summary>
    public static SKBitmap Upscale(SKBitmap bitmap, int factor)
    {
        ArgumentNullException.ThrowIfNull(bitmap);
        if (factor < 1) throw new ArgumentOutOfRangeException(nameof(factor), factor, "factor must be at least 1.");
        var scaled = new SKBitmap(new SKImageInfo(bitmap.Width * factor, bitmap.Height * factor, SKColorType.Rgba8888, SKAlphaType.Premul));
        using var canvas = new SKCanvas(scaled);
        using var image = SKImage.FromBitmap(bitmap);
        canvas.DrawImage(image, new SKRect(0, 0, scaled.Width, scaled.Height), new SKSamplingOptions(SKFilterMode.Nearest), null);
        return scaled;
    }

    /// <summary><c>[H, W]</c>/<c>[1, H, W]</c>/<c>[3, H, W]</c> → <c>[3, H, W]</c> RGB in [0, 1].</summary>
    internal static Tensor ToRgb(Tensor image, PngOptions options)
    {
        var shape = image.shape;
        var valid = (image.dim() == 2) || (image.dim() == 3 && (shape[0] == 1 || shape[0] == 3));
        if (!valid || image.numel() == 0)
            throw new ArgumentException($"image must be [H, W], [1, H, W] or [3, H, W] (non-empty); got [{string.Join(", ", shape)}].", nameof(image));
        var map = image.dim() == 2 ? image : image.shape[0] == 1 ? image[0] : null;
        if (map is not null)
        {
            var norm = (options.Normalization ?? Normalization.MinMax).Apply(map);
            return (options.Colormap ?? Colormap.Grey).Apply(norm);
        }
        return (options.Normalization ?? Normalization.Unit).Apply(image);
    }

    private static SKBitmap GridOf(Tensor batch, PngOptions? options)
    {
        var tiles = new List<SKBitmap>();
        try
        {
            for (long i = 0; i < batch.shape[0]; i++) tiles.Add(ToBitmap(batch[i], options));
            return ImageGrid.Compose(tiles, null, new GridOptions());
        }
        finally
        {
            foreach (var t in tiles) t.Dispose();
        }
    }
}
