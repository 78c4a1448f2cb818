using Interpretability.Imaging;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Tests.Imaging;

public class StimuliTests
{
    private static List<(int Row, int Col, float V)> Lit(Tensor img, float threshold = 0.5f)
    {
        var a = img[0].contiguous().data<float>().ToArray();
        var size = (int)img.shape[^1];
        var list = new List<(int, int, float)>();
        for (int i = 0; i < size; i++)
            for (int j = 0; j < size; j++)
                if (a[i * size + j] > threshold) list.Add((i, j, a[i * size + j]));
        return list;
    }

    [Theory]
    [InlineData(0.0, 10.0, 2.0)]
    [InlineData(90.0, 6.0, 1.5)]
    [InlineData(200.0, 15.0, 3.0)]
    [InlineData(315.0, 20.0, 2.0)]
    public void Curve_pixels_lie_on_the_predicted_circle_with_the_midpoint_at_the_centre(double deg, double r, double w)
    {
        var th = deg * Math.PI / 180;
        var canvas = new StimulusCanvas(64, 30, 34);
        using var img = Stimuli.Curves(new[] { new CurveSpec(th, r, w, Math.PI / 2) }, canvas);
        Assert.Equal(new long[] { 1, 3, 64, 64 }, img.shape);
        // Predicted circle centre: the midpoint plus r in the orientation direction (counter-clockwise on screen, y down).
        double cx = 30 + r * Math.Cos(th), cy = 34 - r * Math.Sin(th);
        var lit = Lit(img[0]);
        Assert.NotEmpty(lit);
        foreach (var (i, j, _) in lit)
        {
            var d = Math.Sqrt((j - cx) * (j - cx) + (i - cy) * (i - cy));
            Assert.InRange(d, r - w / 2 - 1, r + w / 2 + 1);
        }
        // The midpoint is fully lit; the point on the far side of the circle is dark (the arc is a quarter).
        Assert.Equal(1f, img[0, 0, 34, 30].item<float>(), 3);
        int fi = (int)Math.Round(cy - r * Math.Sin(th)), fj = (int)Math.Round(cx + r * Math.Cos(th));
        if (fi is >= 0 and < 64 && fj is >= 0 and < 64) Assert.Equal(0f, img[0, 0, fi, fj].item<float>());
        // Symmetric about the orientation axis: the lit mass's centroid lies on the line midpoint → centre.
        double mx = lit.Average(p => p.Col) - 30, my = -(lit.Average(p => p.Row) - 34);
        var cross = mx * Math.Sin(th) - my * Math.Cos(th);
        Assert.InRange(cross, -0.6, 0.6);
        Assert.True(mx * Math.Cos(th) + my * Math.Sin(th) > 0, "The arc bends towards its circle centre.");
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(30.0)]
    [InlineData(90.0)]
    [InlineData(135.0)]
    public void Line_pixels_lie_on_the_predicted_line(double deg)
    {
        var th = deg * Math.PI / 180;
        using var img = Stimuli.Lines(new[] { new LineSpec(th, 30, 2) });
        var lit = Lit(img[0]);
        Assert.True(lit.Count >= 25, $"{lit.Count} pixels lit");
        foreach (var (i, j, _) in lit)
        {
            double px = j - 32, py = -(i - 32);
            var perp = Math.Abs(-px * Math.Sin(th) + py * Math.Cos(th));
            var along = Math.Abs(px * Math.Cos(th) + py * Math.Sin(th));
            Assert.True(perp <= 1 + 1, $"pixel ({i},{j}) off the line by {perp}");
            Assert.True(along <= 15 + 2, $"pixel ({i},{j}) beyond the segment ({along})");
        }
    }

    [Fact]
    public void Circles_are_rings_and_a_full_arc_equals_a_circle_moved_by_its_radius()
    {
        using var ring = Stimuli.Circles(new[] { new CircleSpec(12, 2) });
        foreach (var (i, j, _) in Lit(ring[0]))
            Assert.InRange(Math.Sqrt((i - 32.0) * (i - 32) + (j - 32.0) * (j - 32)), 12 - 2, 12 + 2);
        // A full arc of orientation 0 has its circle centre r pixels right of the midpoint.
        using var arc = Stimuli.Curves(new[] { new CurveSpec(0, 12, 2, 2 * Math.PI) }, new StimulusCanvas(64, 20, 32));
        using var circle = Stimuli.Circles(new[] { new CircleSpec(12, 2) }, new StimulusCanvas(64, 32, 32));
        Assert.True(arc.allclose(circle, 1e-5, 1e-5));
    }

    [Fact]
    public void Angles_have_arms_on_both_sides_of_the_bisector_and_colours_apply()
    {
        var canvas = new StimulusCanvas(64, Foreground: (1, 0, 0), Background: (0, 0, 0.5));
        using var img = Stimuli.Angles(new[] { new AngleSpec(Math.PI / 2, Math.PI / 2, 12, 2) }, canvas);
        // Bisector points up: arms go up-left and up-right at 45°.
        Assert.True(img[0, 0, 32 - 8, 32 + 8].item<float>() > 0.9f);
        Assert.True(img[0, 0, 32 - 8, 32 - 8].item<float>() > 0.9f);
        Assert.Equal(0f, img[0, 0, 32 + 8, 32].item<float>());
        Assert.Equal(0.5f, img[0, 2, 5, 5].item<float>(), 5);
        Assert.Equal(0f, img[0, 2, 32, 32].item<float>(), 5);
    }

    [Fact]
    public void A_grid_batch_draws_each_spec_like_a_single_call()
    {
        var specs = Stimuli.CurveGrid(Stimuli.Orientations(8), new[] { 5.0, 10, 20 });
        Assert.Equal(24, specs.Count);
        using var batch = Stimuli.Curves(specs);
        Assert.Equal(new long[] { 24, 3, 64, 64 }, batch.shape);
        Assert.InRange(batch.min().item<float>(), 0f, 1f);
        Assert.InRange(batch.max().item<float>(), 0f, 1f);
        using var one = Stimuli.Curves(new[] { specs[7] });
        Assert.True(batch[7].allclose(one[0]));
        Assert.Equal(Math.PI / 4, specs[3].Orientation, 12);
        Assert.Equal(5.0, specs[3].Radius);
    }

    [Fact]
    public void Out_of_range_parameters_name_the_parameter()
    {
        Assert.Equal("Radius", Assert.Throws<ArgumentOutOfRangeException>(() => Stimuli.Curves(new[] { new CurveSpec(0, 0) })).ParamName);
        Assert.Equal("StrokeWidth", Assert.Throws<ArgumentOutOfRangeException>(() => Stimuli.Curves(new[] { new CurveSpec(0, 5, -1) })).ParamName);
        Assert.Equal("ArcLength", Assert.Throws<ArgumentOutOfRangeException>(() => Stimuli.Curves(new[] { new CurveSpec(0, 5, 2, 0) })).ParamName);
        Assert.Equal("ArcLength", Assert.Throws<ArgumentOutOfRangeException>(() => Stimuli.Curves(new[] { new CurveSpec(0, 5, 2, 7) })).ParamName);
        Assert.Equal("Size", Assert.Throws<ArgumentOutOfRangeException>(() => Stimuli.Lines(new[] { new LineSpec(0, 5) }, new StimulusCanvas(7))).ParamName);
        Assert.Equal("Length", Assert.Throws<ArgumentOutOfRangeException>(() => Stimuli.Lines(new[] { new LineSpec(0, 0) })).ParamName);
        Assert.Equal("Opening", Assert.Throws<ArgumentOutOfRangeException>(() => Stimuli.Angles(new[] { new AngleSpec(0, 4, 5) })).ParamName);
        Assert.Equal("Radius", Assert.Throws<ArgumentOutOfRangeException>(() => Stimuli.Circles(new[] { new CircleSpec(-2) })).ParamName);
        Assert.Equal("CenterX", Assert.Throws<ArgumentOutOfRangeException>(() => Stimuli.Circles(new[] { new CircleSpec(2) }, new StimulusCanvas(16, 20))).ParamName);
        Assert.Throws<ArgumentException>(() => Stimuli.Circles(Array.Empty<CircleSpec>()));
    }

    [Fact]
    public void Stimulus_sheet_saves_a_png()
    {
        var dir = Directory.CreateTempSubdirectory("stimuli-").FullName;
        try
        {
            using var batch = Stimuli.Curves(Stimuli.CurveGrid(Stimuli.Orientations(4), new[] { 6.0, 12 }));
            var path = Path.Combine(dir, "sheet.png");
            Stimuli.SaveSheet(path, batch, Enumerable.Range(0, 8).Select(i => (string?)$"#{i}").ToList(), columns: 2, title: "curves");
            Assert.True(new FileInfo(path).Length > 100);
        }
        finally { Directory.Delete(dir, true); }
    }
    [Fact]
    public void Rounded_angles_morph_from_an_angle_to_a_curve()
    {
        const double th = 1.1, open = Math.PI / 2;
        using var sharp = Stimuli.RoundedAngles(new[] { new RoundedAngleSpec(th, open, 12, 0) });
        using var angle = Stimuli.Angles(new[] { new AngleSpec(th, open, 12) });
        Assert.True(sharp.allclose(angle, 1e-5, 1e-5));
        // Arms exactly as long as the tangent distance: only the fillet is left, the arc of the curve with the same orientation.
        const double rho = 8;
        using var fillet = Stimuli.RoundedAngles(new[] { new RoundedAngleSpec(th, open, rho / Math.Tan(open / 2), rho) });
        using var curve = Stimuli.Curves(new[] { new CurveSpec(th, rho, 2, Math.PI - open) });
        Assert.True((fillet - curve).abs().max().item<float>() < 1e-4);
        // The fillet's midpoint is on the centre pixel.
        Assert.Equal(1f, fillet[0, 0, 32, 32].item<float>(), 4);
        Assert.Equal("CornerRadius", Assert.Throws<ArgumentOutOfRangeException>(() => Stimuli.RoundedAngles(new[] { new RoundedAngleSpec(0, 1, 5, -1) })).ParamName);
        Assert.Equal("Opening", Assert.Throws<ArgumentOutOfRangeException>(() => Stimuli.RoundedAngles(new[] { new RoundedAngleSpec(0, Math.PI, 5, 1) })).ParamName);
    }
}
