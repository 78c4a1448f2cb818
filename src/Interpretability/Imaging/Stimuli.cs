using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Imaging;

/// <summary>
/// An arc of a circle. Conventions (screen coordinates: x to the right, y down; angles counter-clockwise as seen on
/// the screen, 0 = pointing right, 90° = pointing up): the arc's <b>midpoint</b> sits at the canvas centre pixel, and
/// <see cref="Orientation"/> is the direction from that midpoint to the arc's circle centre (the side the curve is
/// concave towards). So orientation 90° is a "∪"-shaped arc whose circle centre lies <see cref="Radius"/> pixels
/// above the midpoint; orientation 270° is a "∩".
/// </summary>
/// <param name="Orientation">Direction from the arc's midpoint to its circle centre, radians (any value; periodic 2π).</param>
/// <param name="Radius">Radius of the circle in pixels, &gt; 0.</param>
/// <param name="StrokeWidth">Stroke width in pixels, &gt; 0.</param>
/// <param name="ArcLength">Angle subtended by the arc at its circle centre, radians, in (0, 2π].</param>
public sealed record CurveSpec(double Orientation, double Radius, double StrokeWidth = 2, double ArcLength = Math.PI / 2);

/// <summary>
/// A straight segment centred on the canvas centre pixel. <see cref="Orientation"/> is the segment's direction
/// (counter-clockwise on screen, 0 = horizontal; periodic π).
/// </summary>
/// <param name="Orientation">Direction of the segment, radians.</param>
/// <param name="Length">Length in pixels, &gt; 0.</param>
/// <param name="StrokeWidth">Stroke width in pixels, &gt; 0.</param>
public sealed record LineSpec(double Orientation, double Length, double StrokeWidth = 2);

/// <summary>
/// Two segments (arms) meeting at an apex on the canvas centre pixel. <see cref="Orientation"/> is the direction of the
/// angle's bisector from the apex into the opening (counter-clockwise on screen), so an angle of orientation θ matches
/// a curve of orientation θ (<see cref="CurveSpec"/>): the arms point to θ ± <see cref="Opening"/>/2.
/// </summary>
/// <param name="Orientation">Bisector direction from the apex, radians.</param>
/// <param name="Opening">Angle between the arms, radians, in (0, π].</param>
/// <param name="ArmLength">Length of each arm in pixels, &gt; 0.</param>
/// <param name="StrokeWidth">Stroke width in pixels, &gt; 0.</param>
public sealed record AngleSpec(double Orientation, double Opening, double ArmLength, double StrokeWidth = 2);

/// <summary>
/// An angle whose corner is rounded by a circular fillet of radius <see cref="CornerRadius"/> tangent to both arms: the
/// morph from an angle (radius 0, apex on the centre pixel) to a curve. The fillet is the arc of a
/// <see cref="CurveSpec"/> with the same orientation, radius <see cref="CornerRadius"/> and arc angle π − opening, and its
/// midpoint sits on the centre pixel; the arms continue straight from the tangent points, so that each arm, measured
/// from the (virtual) apex, is <see cref="ArmLength"/> long.
/// </summary>
/// <param name="Orientation">Bisector direction from the apex into the opening, radians (as <see cref="AngleSpec"/>).</param>
/// <param name="Opening">Angle between the arms, radians, in (0, π).</param>
/// <param name="ArmLength">Length of each arm from the virtual apex, pixels, &gt; 0.</param>
/// <param name="CornerRadius">Fillet radius in pixels, ≥ 0 (0 = a sharp angle).</param>
/// <param name="StrokeWidth">Stroke width in pixels, &gt; 0.</param>
public sealed record RoundedAngleSpec(double Orientation, double Opening, double ArmLength, double CornerRadius, double StrokeWidth = 2);

/// <summary>A whole circle whose centre sits on the canvas centre pixel.</summary>
/// <param name="Radius">Radius in pixels, &gt; 0.</param>
/// <param name="StrokeWidth">Stroke width in pixels, &gt; 0.</param>
public sealed record CircleSpec(double Radius, double StrokeWidth = 2);

/// <summary>The canvas of a stimulus batch: size, centre pixel and colours.</summary>
/// <param name="Size">Side of the square images in pixels, ≥ 8.</param>
/// <param name="CenterX">Column of the centre pixel; null = <c>Size / 2</c>.</param>
/// <param name="CenterY">Row of the centre pixel; null = <c>Size / 2</c>.</param>
/// <param name="Foreground">Stroke colour (R, G, B) in [0, 1]; null = white.</param>
/// <param name="Background">Background colour (R, G, B) in [0, 1]; null = black.</param>
public sealed record StimulusCanvas(int Size = 64, int? CenterX = null, int? CenterY = null,
    (double R, double G, double B)? Foreground = null, (double R, double G, double B)? Background = null)
{
    /// <summary>Column of the centre pixel.</summary>
    public int X => CenterX ?? Size / 2;

    /// <summary>Row of the centre pixel.</summary>
    public int Y => CenterY ?? Size / 2;
}

/// <summary>
/// Synthetic stimuli for tuning studies (curves, lines, angles, circles), drawn analytically and anti-aliased with
/// tensor operations over the pixel grid: the stroke intensity of a pixel at distance d from the ideal curve is
/// <c>clamp(w/2 + 0.5 − d, 0, 1)</c> for stroke width w, and the image is <c>background + intensity · (foreground −
/// background)</c>. Pixel (row i, column j) has its centre at (x = j, y = i).
/// </summary>
public static class Stimuli
{
    /// <summary>Curves (circle arcs), one image per spec.</summary>
    /// <param name="specs">The arcs (at least one).</param>
    /// <param name="canvas">Size, centre and colours; null = 64×64 white on black.</param>
    /// <returns><c>[N, 3, Size, Size]</c> float32 in [0, 1].</returns>
    public static Tensor Curves(IReadOnlyList<CurveSpec> specs, StimulusCanvas? canvas = null)
    {
        ArgumentNullException.ThrowIfNull(specs);
        canvas = Check(canvas, specs.Count, nameof(specs));
        foreach (var s in specs)
        {
            Positive(s.Radius, nameof(CurveSpec.Radius));
            Positive(s.StrokeWidth, nameof(CurveSpec.StrokeWidth));
            if (!(s.ArcLength > 0 && s.ArcLength <= 2 * Math.PI + 1e-12))
                throw new ArgumentOutOfRangeException(nameof(CurveSpec.ArcLength), s.ArcLength, "ArcLength must be in (0, 2π] radians.");
        }
        using var scope = NewDisposeScope();
        var (x, y) = Grid(canvas);
        var th = Column(specs.Select(s => s.Orientation));
        var r = Column(specs.Select(s => s.Radius));
        var half = Column(specs.Select(s => Math.Min(s.ArcLength, 2 * Math.PI) / 2));
        var d = ArcDistance(x, y, canvas.X, canvas.Y, th, r, half);
        return Paint(d, Column(specs.Select(s => s.StrokeWidth)), canvas).MoveToOuterDisposeScope();
    }

    /// <summary>Straight segments, one image per spec.</summary>
    /// <param name="specs">The segments (at least one).</param>
    /// <param name="canvas">Size, centre and colours; null = 64×64 white on black.</param>
    /// <returns><c>[N, 3, Size, Size]</c> float32 in [0, 1].</returns>
    public static Tensor Lines(IReadOnlyList<LineSpec> specs, StimulusCanvas? canvas = null)
    {
        ArgumentNullException.ThrowIfNull(specs);
        canvas = Check(canvas, specs.Count, nameof(specs));
        foreach (var s in specs)
        {
            Positive(s.Length, nameof(LineSpec.Length));
            Positive(s.StrokeWidth, nameof(LineSpec.StrokeWidth));
        }
        using var scope = NewDisposeScope();
        var (x, y) = Grid(canvas);
        var th = Column(specs.Select(s => s.Orientation));
        var half = Column(specs.Select(s => s.Length / 2));
        var d = SegmentDistance(x, y, canvas.X, canvas.Y, th, half, centred: true);
        return Paint(d, Column(specs.Select(s => s.StrokeWidth)), canvas).MoveToOuterDisposeScope();
    }

    /// <summary>Angles (two arms from an apex on the centre pixel), one image per spec.</summary>
    /// <param name="specs">The angles (at least one).</param>
    /// <param name="canvas">Size, centre and colours; null = 64×64 white on black.</param>
    /// <returns><c>[N, 3, Size, Size]</c> float32 in [0, 1].</returns>
    public static Tensor Angles(IReadOnlyList<AngleSpec> specs, StimulusCanvas? canvas = null)
    {
        ArgumentNullException.ThrowIfNull(specs);
        canvas = Check(canvas, specs.Count, nameof(specs));
        foreach (var s in specs)
        {
            Positive(s.ArmLength, nameof(AngleSpec.ArmLength));
            Positive(s.StrokeWidth, nameof(AngleSpec.StrokeWidth));
            if (!(s.Opening > 0 && s.Opening <= Math.PI + 1e-12))
                throw new ArgumentOutOfRangeException(nameof(AngleSpec.Opening), s.Opening, "Opening must be in (0, π] radians.");
        }
        using var scope = NewDisposeScope();
        var (x, y) = Grid(canvas);
        var th = Column(specs.Select(s => s.Orientation));
        var open = Column(specs.Select(s => s.Opening / 2));
        var len = Column(specs.Select(s => s.ArmLength));
        var d = minimum(SegmentDistance(x, y, canvas.X, canvas.Y, th + open, len, centred: false),
                        SegmentDistance(x, y, canvas.X, canvas.Y, th - open, len, centred: false));
        return Paint(d, Column(specs.Select(s => s.StrokeWidth)), canvas).MoveToOuterDisposeScope();
    }

    /// <summary>Rounded angles (the angle → curve morph), one image per spec; see <see cref="RoundedAngleSpec"/>.</summary>
    /// <param name="specs">The rounded angles (at least one).</param>
    /// <param name="canvas">Size, centre and colours; null = 64×64 white on black.</param>
    /// <returns><c>[N, 3, Size, Size]</c> float32 in [0, 1].</returns>
    public static Tensor RoundedAngles(IReadOnlyList<RoundedAngleSpec> specs, StimulusCanvas? canvas = null)
    {
        ArgumentNullException.ThrowIfNull(specs);
        canvas = Check(canvas, specs.Count, nameof(specs));
        foreach (var s in specs)
        {
            Positive(s.ArmLength, nameof(RoundedAngleSpec.ArmLength));
            Positive(s.StrokeWidth, nameof(RoundedAngleSpec.StrokeWidth));
            if (!(s.Opening > 0 && s.Opening < Math.PI))
                throw new ArgumentOutOfRangeException(nameof(RoundedAngleSpec.Opening), s.Opening, "Opening must be in (0, π) radians.");
            if (!(s.CornerRadius >= 0) || !double.IsFinite(s.CornerRadius))
                throw new ArgumentOutOfRangeException(nameof(RoundedAngleSpec.CornerRadius), s.CornerRadius, "CornerRadius must be non-negative and finite.");
        }
        using var scope = NewDisposeScope();
        var (x, y) = Grid(canvas);
        var th = Column(specs.Select(s => s.Orientation));
        // Apex behind the fillet's midpoint: distance ρ/sin(α/2) − ρ along −θ; tangent points ρ/tan(α/2) along each arm.
        var back = specs.Select(s => s.CornerRadius / Math.Sin(s.Opening / 2) - s.CornerRadius).ToArray();
        var ax = Column(specs.Select((s, i) => canvas.X - back[i] * Math.Cos(s.Orientation)));
        var ay = Column(specs.Select((s, i) => canvas.Y + back[i] * Math.Sin(s.Orientation)));
        var tangent = Column(specs.Select(s => Math.Min(s.ArmLength, s.CornerRadius / Math.Tan(s.Opening / 2))));
        var len = Column(specs.Select(s => s.ArmLength));
        var open = Column(specs.Select(s => s.Opening / 2));
        var d = minimum(SegmentDistance(x, y, ax, ay, th + open, tangent, len), SegmentDistance(x, y, ax, ay, th - open, tangent, len));
        var rounded = specs.Select((s, i) => s.CornerRadius > 0 ? i : -1).Where(i => i >= 0).ToArray();
        if (rounded.Length > 0)
        {
            var r = Column(specs.Select(s => Math.Max(s.CornerRadius, 1e-9)));
            var half = Column(specs.Select(s => (Math.PI - s.Opening) / 2));
            var arc = ArcDistance(x, y, canvas.X, canvas.Y, th, r, half);
            var has = Column(specs.Select(s => s.CornerRadius > 0 ? 1.0 : 0.0)) > Scalars.Half;
            d = where(has, minimum(d, arc), d);
        }
        return Paint(d, Column(specs.Select(s => s.StrokeWidth)), canvas).MoveToOuterDisposeScope();
    }

    /// <summary>Whole circles centred on the centre pixel, one image per spec.</summary>
    /// <param name="specs">The circles (at least one).</param>
    /// <param name="canvas">Size, centre and colours; null = 64×64 white on black.</param>
    /// <returns><c>[N, 3, Size, Size]</c> float32 in [0, 1].</returns>
    public static Tensor Circles(IReadOnlyList<CircleSpec> specs, StimulusCanvas? canvas = null)
    {
        ArgumentNullException.ThrowIfNull(specs);
        canvas = Check(canvas, specs.Count, nameof(specs));
        foreach (var s in specs)
        {
            Positive(s.Radius, nameof(CircleSpec.Radius));
            Positive(s.StrokeWidth, nameof(CircleSpec.StrokeWidth));
        }
        using var scope = NewDisposeScope();
        var (x, y) = Grid(canvas);
        var r = Column(specs.Select(s => s.Radius));
        var d = (((x - canvas.X).square() + (y - canvas.Y).square()).sqrt() - r).abs();
        return Paint(d, Column(specs.Select(s => s.StrokeWidth)), canvas).MoveToOuterDisposeScope();
    }

    /// <summary>The orientation × radius grid of curve specs in row-major order (orientation outer, radius inner).</summary>
    /// <param name="orientations">Orientations in radians.</param>
    /// <param name="radii">Radii in pixels.</param>
    /// <param name="strokeWidth">Stroke width in pixels.</param>
    /// <param name="arcLength">Arc angle in radians; null = <paramref name="arcPixels"/> / r (an arc of fixed length in pixels), capped at <paramref name="maxArc"/>.</param>
    /// <param name="arcPixels">Arc length in pixels when <paramref name="arcLength"/> is null.</param>
    /// <param name="maxArc">Largest arc angle when <paramref name="arcLength"/> is null (default π: small radii give half circles, not rings).</param>
    /// <returns><c>orientations.Count · radii.Count</c> specs; spec (i, j) at index <c>i · radii.Count + j</c>.</returns>
    public static IReadOnlyList<CurveSpec> CurveGrid(IReadOnlyList<double> orientations, IReadOnlyList<double> radii, double strokeWidth = 2,
        double? arcLength = null, double arcPixels = 20, double maxArc = Math.PI)
    {
        ArgumentNullException.ThrowIfNull(orientations);
        ArgumentNullException.ThrowIfNull(radii);
        var specs = new List<CurveSpec>(orientations.Count * radii.Count);
        foreach (var o in orientations)
            foreach (var r in radii)
                specs.Add(new CurveSpec(o, r, strokeWidth, arcLength ?? Math.Min(Math.Min(maxArc, 2 * Math.PI), arcPixels / r)));
        return specs;
    }

    /// <summary>Evenly spaced angles <c>2π · k / count</c> (or <c>π · k / count</c> when <paramref name="halfTurn"/>), radians.</summary>
    /// <param name="count">Number of angles, ≥ 1.</param>
    /// <param name="halfTurn">Span π instead of 2π (line orientations).</param>
    public static double[] Orientations(int count, bool halfTurn = false)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "count must be at least 1.");
        return Enumerable.Range(0, count).Select(k => (halfTurn ? Math.PI : 2 * Math.PI) * k / count).ToArray();
    }

    /// <summary>
    /// Saves a stimulus sheet: the images as a labelled grid (e.g. orientation × radius, one row per orientation).
    /// </summary>
    /// <param name="path">PNG path.</param>
    /// <param name="images"><c>[N, 3, H, W]</c> in [0, 1].</param>
    /// <param name="titles">One title per image, or null.</param>
    /// <param name="columns">Images per row (0 = square-ish).</param>
    /// <param name="title">Title of the sheet.</param>
    public static void SaveSheet(string path, Tensor images, IReadOnlyList<string?>? titles = null, int columns = 0, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.dim() != 4 || images.shape[1] != 3)
            throw new ArgumentException($"images must be [N, 3, H, W]; got [{string.Join(", ", images.shape)}].", nameof(images));
        var tiles = new List<Tensor>();
        for (long i = 0; i < images.shape[0]; i++) tiles.Add(images[i]);
        try
        {
            ImageGrid.Save(path, tiles, titles, new GridOptions(Columns: columns, Title: title, TileSize: images.shape[2] < 64 ? 64 : 0));
        }
        finally
        {
            foreach (var t in tiles) t.Dispose();
        }
    }

    private static StimulusCanvas Check(StimulusCanvas? canvas, int count, string name)
    {
        if (count < 1) throw new ArgumentException("At least one stimulus spec is needed.", name);
        canvas ??= new StimulusCanvas();
        if (canvas.Size < 8 || canvas.Size > 4096)
            throw new ArgumentOutOfRangeException(nameof(StimulusCanvas.Size), canvas.Size, "Size must be between 8 and 4096 pixels.");
        if (canvas.X < 0 || canvas.X >= canvas.Size)
            throw new ArgumentOutOfRangeException(nameof(StimulusCanvas.CenterX), canvas.X, $"CenterX must be in [0, {canvas.Size}).");
        if (canvas.Y < 0 || canvas.Y >= canvas.Size)
            throw new ArgumentOutOfRangeException(nameof(StimulusCanvas.CenterY), canvas.Y, $"CenterY must be in [0, {canvas.Size}).");
        Colour(canvas.Foreground, nameof(StimulusCanvas.Foreground));
        Colour(canvas.Background, nameof(StimulusCanvas.Background));
        return canvas;
    }

    private static void Colour((double R, double G, double B)? c, string name)
    {
        if (c is { } v && new[] { v.R, v.G, v.B }.Any(t => !(t >= 0 && t <= 1)))
            throw new ArgumentOutOfRangeException(name, v, $"{name} components must be in [0, 1].");
    }

    private static void Positive(double v, string name)
    {
        if (!(v > 0) || !double.IsFinite(v)) throw new ArgumentOutOfRangeException(name, v, $"{name} must be positive and finite.");
    }

    /// <summary>Pixel centre coordinates x = column, y = row, as float64 <c>[1, H, W]</c>.</summary>
    private static (Tensor X, Tensor Y) Grid(StimulusCanvas canvas)
    {
        using var size = canvas.Size.ToScalar();
        var ax = arange(Scalars.IntZero, size, Scalars.IntOne, dtype: ScalarType.Float64);
        var y = ax.view(1, canvas.Size, 1).expand(1, canvas.Size, canvas.Size);
        var x = ax.view(1, 1, canvas.Size).expand(1, canvas.Size, canvas.Size);
        return (x, y);
    }

    private static Tensor Column(IEnumerable<double> values)
    {
        var a = values.ToArray();
        return tensor(a, ScalarType.Float64).view(a.Length, 1, 1);
    }

    /// <summary>Distance of every pixel to arcs whose midpoint is (mx, my), orientation θ, radius r and half arc angle.</summary>
    private static Tensor ArcDistance(Tensor x, Tensor y, double mx, double my, Tensor th, Tensor r, Tensor half)
    {
        // Circle centre: midpoint + r · (cos θ, −sin θ) in (x, y-down) coordinates.
        var cx = mx + r * th.cos();
        var cy = my - r * th.sin();
        var dx = x - cx;
        var dy = -(y - cy);                                  // y up, so angles are counter-clockwise on screen
        var rho = (dx.square() + dy.square()).sqrt();
        // Angle of the pixel around the circle centre relative to the midpoint's angle (θ + π), wrapped to (−π, π].
        var rel = Wrap(atan2(dy, dx) - (th + Math.PI));
        var onArc = (rho - r).abs();
        // Endpoints at angles θ + π ± half.
        var e1x = cx + r * (th + Math.PI + half).cos();
        var e1y = cy - r * (th + Math.PI + half).sin();
        var e2x = cx + r * (th + Math.PI - half).cos();
        var e2y = cy - r * (th + Math.PI - half).sin();
        var dEnd = minimum(((x - e1x).square() + (y - e1y).square()).sqrt(), ((x - e2x).square() + (y - e2y).square()).sqrt());
        return where(rel.abs() <= half, onArc, dEnd);
    }

    /// <summary>Distance of every pixel to segments from (x0, y0) + a·u to (x0, y0) + b·u, u = (cos θ, −sin θ) on screen.</summary>
    private static Tensor SegmentDistance(Tensor x, Tensor y, Tensor x0, Tensor y0, Tensor th, Tensor a, Tensor b)
    {
        var ux = th.cos();
        var uy = -th.sin();
        var px = x - x0;
        var py = y - y0;
        var t = minimum(maximum(px * ux + py * uy, a), b);
        return ((px - t * ux).square() + (py - t * uy).square()).sqrt();
    }

    private static Tensor Wrap(Tensor a) => a - 2 * Math.PI * ((a + Math.PI) / (2 * Math.PI)).floor();

    /// <summary>Distance of every pixel to a segment through/from (x0, y0) in direction θ (CCW on screen).</summary>
    private static Tensor SegmentDistance(Tensor x, Tensor y, double x0, double y0, Tensor th, Tensor len, bool centred)
    {
        var ux = th.cos();
        var uy = -th.sin();
        var px = x - x0;
        var py = y - y0;
        var t = px * ux + py * uy;
        var tc = minimum(maximum(t, centred ? -len : zeros_like(len)), len);
        return ((px - tc * ux).square() + (py - tc * uy).square()).sqrt();
    }

    private static Tensor Paint(Tensor distance, Tensor width, StimulusCanvas canvas)
    {
        var intensity = (width / 2 + 0.5 - distance).clamp(Scalars.IntZero, Scalars.IntOne).to_type(ScalarType.Float32).unsqueeze(1);   // [N,1,H,W]
        var fg = canvas.Foreground ?? (1, 1, 1);
        var bg = canvas.Background ?? (0, 0, 0);
        var f = tensor(new float[] { (float)fg.R, (float)fg.G, (float)fg.B }).view(1, 3, 1, 1);
        var b = tensor(new float[] { (float)bg.R, (float)bg.G, (float)bg.B }).view(1, 3, 1, 1);
        return (b + intensity * (f - b)).contiguous();
    }
}
