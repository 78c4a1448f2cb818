using FsCheck.Xunit;
using Interpretability.Imaging;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Tests.Imaging;

public class ImagingTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("interp-imaging-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void Png_write_then_read_round_trips_exactly()
    {
        using var gen = new Generator(3);
        // Values on the 1/255 grid survive 8-bit quantisation exactly.
        var image = randint(0, 256, new long[] { 3, 17, 23 }, generator: gen).to(float32) / 255f;
        var path = Path.Combine(dir, "round.png");
        Png.Save(image, path);
        var back = Png.Read(path);
        Assert.Equal(new long[] { 3, 17, 23 }, back.shape);
        Assert.Equal(0f, (back - image).abs().max().item<float>(), 6);
    }

    [Fact]
    public void Png_read_resized_is_the_antialiased_bilinear_resize_of_the_picture()
    {
        using var gen = new Generator(5);
        using var image = randint(0, 256, new long[] { 3, 20, 40 }, generator: gen).to(float32) / 255f;
        var path = Path.Combine(dir, "wide.png");
        Png.Save(image, path);
        using var expectedSquare = nn.functional.interpolate(image.unsqueeze(0), new long[] { 16, 16 }, mode: InterpolationMode.Bilinear, align_corners: false, antialias: true)[0].clamp(0, 1);
        using var square = Png.Read(path, 16, 16);
        Assert.Equal(new long[] { 3, 16, 16 }, square.shape);
        Assert.True(square.allclose(expectedSquare, rtol: 0, atol: 1e-6));
        using var expectedFitted = nn.functional.interpolate(image.unsqueeze(0), new long[] { 8, 16 }, mode: InterpolationMode.Bilinear, align_corners: false, antialias: true)[0].clamp(0, 1);
        using var fitted = Png.ReadWithLongerSide(path, 16);
        Assert.Equal(new long[] { 3, 8, 16 }, fitted.shape);
        Assert.True(fitted.allclose(expectedFitted, rtol: 0, atol: 1e-6));
        using (var small = Png.ReadWithLongerSide(path, 6)) Assert.Equal(new long[] { 3, 3, 6 }, small.shape);
        Assert.Equal("height", Assert.Throws<ArgumentOutOfRangeException>(() => Png.Read(path, 0, 4)).ParamName);
        Assert.Equal("longerSide", Assert.Throws<ArgumentOutOfRangeException>(() => Png.ReadWithLongerSide(path, 0)).ParamName);
        Assert.Throws<FileNotFoundException>(() => Png.Read(Path.Combine(dir, "none.png"), 4, 4));
    }

    [Fact]
    public void Single_channel_maps_are_colour_mapped()
    {
        var ramp = linspace(0, 1, 64).reshape(8, 8);
        var path = Path.Combine(dir, "map.png");
        Png.Save(ramp, path, new PngOptions(Normalization.MinMax, Colormap.Viridis, Scale: 4));
        var back = Png.Read(path);
        Assert.Equal(new long[] { 3, 32, 32 }, back.shape);
        // Top-left pixel is the minimum: viridis(0) is dark purple; bottom-right is the maximum: yellow.
        var (r0, g0, b0) = (back[0, 0, 0].item<float>(), back[1, 0, 0].item<float>(), back[2, 0, 0].item<float>());
        var (r1, g1, b1) = (back[0, 31, 31].item<float>(), back[1, 31, 31].item<float>(), back[2, 31, 31].item<float>());
        Assert.True(b0 > r0 && b0 > g0, "viridis(0) is blue-purple");
        Assert.True(r1 > b1 && g1 > b1, "viridis(1) is yellow");
    }

    [Theory]
    [InlineData(0.0, 68, 1, 84)]       // matplotlib viridis, first entry (0.267004, 0.004874, 0.329415)
    [InlineData(0.5, 33, 145, 140)]    // middle entry (0.128729, 0.563265, 0.551229)
    [InlineData(1.0, 253, 231, 37)]    // last entry (0.993248, 0.906157, 0.143936)
    public void Viridis_matches_the_published_table_within_four_levels(double t, int r, int g, int b)
    {
        var (R, G, B) = Colormap.Viridis.ToBytes(t);
        Assert.InRange(R, r - 4, r + 4);
        Assert.InRange(G, g - 4, g + 4);
        Assert.InRange(B, b - 4, b + 4);
    }

    [Fact]
    public void Diverging_and_grey_endpoints_are_exact()
    {
        Assert.Equal(((byte)0x05, (byte)0x30, (byte)0x61), Colormap.Diverging.ToBytes(0));
        Assert.Equal(((byte)0xf7, (byte)0xf7, (byte)0xf7), Colormap.Diverging.ToBytes(0.5));
        Assert.Equal(((byte)0x67, (byte)0x00, (byte)0x1f), Colormap.Diverging.ToBytes(1));
        Assert.Equal(((byte)0, (byte)0, (byte)0), Colormap.Grey.ToBytes(0));
        Assert.Equal(((byte)255, (byte)255, (byte)255), Colormap.Grey.ToBytes(1));
    }

    [Fact]
    public void Symmetric_normalisation_puts_zero_in_the_middle()
    {
        var v = tensor(new float[] { -2, 0, 1 });
        var n = Normalization.Symmetric.Apply(v).data<float>().ToArray();
        Assert.Equal(new float[] { 0, 0.5f, 0.75f }, n);
        var f = Normalization.Fixed(-1, 3).Apply(v).data<float>().ToArray();
        Assert.Equal(new float[] { 0, 0.25f, 0.5f }, f);
    }

    [Fact]
    public void NaN_is_refused_not_drawn()
    {
        var v = tensor(new float[] { 1, float.NaN });
        Assert.Throws<ArgumentException>(() => Normalization.MinMax.Apply(v));
        Assert.Throws<ArgumentException>(() => Png.Save(v.reshape(1, 2), Path.Combine(dir, "nan.png")));
        Assert.False(File.Exists(Path.Combine(dir, "nan.png")));
    }

    [Property(MaxTest = 50)]
    public bool Normalisations_map_finite_values_into_the_unit_interval(float[] values)
    {
        if (values is null || values.Length == 0 || values.Any(v => !float.IsFinite(v) || Math.Abs(v) > 1e30f)) return true;
        var t = tensor(values);
        return new[] { Normalization.MinMax, Normalization.Symmetric, Normalization.Unit }
            .All(n => { var r = n.Apply(t); return r.min().item<float>() >= 0 && r.max().item<float>() <= 1; });
    }

    [Property(MaxTest = 20)]
    public bool Symmetric_normalisation_is_odd_around_one_half(float[] values)
    {
        if (values is null || values.Length == 0 || values.Any(v => !float.IsFinite(v) || Math.Abs(v) > 1e30f)) return true;
        var t = tensor(values);
        var a = Normalization.Symmetric.Apply(t);
        var b = Normalization.Symmetric.Apply(-t);
        return (a + b - 1).abs().max().item<float>() < 1e-5f;
    }

    [Fact]
    public void Reading_a_corrupt_or_missing_png_names_the_file()
    {
        var bad = Path.Combine(dir, "bad.png");
        File.WriteAllText(bad, "this is not a png");
        var e = Assert.Throws<ArgumentException>(() => Png.Read(bad));
        Assert.Contains("bad.png", e.Message);
        var missing = Assert.Throws<FileNotFoundException>(() => Png.Read(Path.Combine(dir, "none.png")));
        Assert.Contains("none.png", missing.Message);
    }

    [Fact]
    public void Wrong_image_shapes_are_refused_with_the_shape()
    {
        var e = Assert.Throws<ArgumentException>(() => Png.ToBitmap(zeros(2, 4, 4)));
        Assert.Contains("[2, 4, 4]", e.Message);
    }

    [Fact]
    public void Fonts_are_installed_so_text_renders()
    {
        Assert.True(Fonts.Available, $"DejaVu Sans not found (got '{Fonts.Sans.FamilyName}'); run ./build.sh setup.");
        // A title actually puts dark pixels on the white grid.
        using var tile = Png.ToBitmap(ones(3, 8, 8));
        using var titled = ImageGrid.Compose(new[] { tile }, new[] { "Hello" }, new GridOptions(TileSize: 40));
        using var plain = ImageGrid.Compose(new[] { tile }, null, new GridOptions(TileSize: 40));
        Assert.True(titled.Height > plain.Height);
        var dark = 0;
        for (int y = plain.Height; y < titled.Height; y++)
            for (int x = 0; x < titled.Width; x++)
                if (titled.GetPixel(x, y).Red < 128) dark++;
        Assert.True(dark > 10, "caption text drew no dark pixels");
    }

    [Fact]
    public void Grid_lays_out_tiles_in_rows_and_columns()
    {
        var tiles = Enumerable.Range(0, 5).Select(_ => Png.ToBitmap(zeros(3, 10, 10))).ToList();
        using var grid = ImageGrid.Compose(tiles, null, new GridOptions(Columns: 3, Padding: 2));
        Assert.Equal(2 + 3 * 12, grid.Width);
        Assert.Equal(2 + 2 * 12, grid.Height);
        foreach (var t in tiles) t.Dispose();
    }

    [Fact]
    public void Overlay_of_a_zero_map_shows_only_the_greyed_image()
    {
        var image = ones(3, 6, 6) * 0.5f;
        var o = Overlay.Heatmap(image, zeros(6, 6));
        Assert.True(o.allclose(ones(3, 6, 6) * 0.5f, atol: 1e-6));
        var hot = Overlay.Heatmap(image, ones(3, 3));   // resized to 6×6
        Assert.Equal(new long[] { 3, 6, 6 }, hot.shape);
    }

    [Fact]
    public void Charts_render_pngs_of_the_asked_size()
    {
        var png = Charts.Line(new[] { new Series("a", new double[] { 1, 2, 3 }, new double[] { 1, 4, 9 }) }, new ChartOptions("t", "x", "y", Width: 320, Height: 200));
        using var bmp = SKBitmap.Decode(png);
        Assert.Equal(320, bmp.Width);
        Assert.Equal(200, bmp.Height);
        var heat = Charts.Heatmap(new double[,] { { 1, -2 }, { 3, 0 } }, new ChartOptions(Width: 300, Height: 300), "v", diverging: true);
        Assert.NotEmpty(heat);
        Assert.Throws<ArgumentException>(() => Charts.Line(new[] { new Series("bad", new double[] { 1 }, new double[] { double.NaN }) }));
        Assert.Throws<ArgumentException>(() => Charts.Line(new[] { new Series("log", new double[] { 0, 1 }, new double[] { 1, 1 }) }, new ChartOptions(LogX: true)));
    }

    [Fact]
    public void An_interrupted_atomic_write_leaves_no_file()
    {
        var path = Path.Combine(dir, "partial.bin");
        Assert.Throws<IOException>(() => AtomicFile.Write(path, s => { s.WriteByte(1); throw new IOException("interrupted"); }));
        Assert.False(File.Exists(path));
        Assert.Empty(Directory.GetFiles(dir, "*.tmp", SearchOption.AllDirectories).Concat(Directory.GetFiles(dir, ".*")));
        AtomicFile.WriteAllText(path, "ok");
        Assert.Equal("ok", File.ReadAllText(path));
    }
}
