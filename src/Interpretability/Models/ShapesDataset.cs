using static TorchSharp.torch;

namespace Interpretability.Models;

/// <summary>
/// The ground truth of one drawn image: what was drawn, where, how big, at which rotation and with which stroke.
/// </summary>
/// <param name="Class">Class index into <see cref="ShapesDataset.ClassNames"/>.</param>
/// <param name="ClassName">Class name.</param>
/// <param name="CenterX">Centre of the shape, pixels from the left edge.</param>
/// <param name="CenterY">Centre of the shape, pixels from the top edge.</param>
/// <param name="Scale">Size of the shape in pixels (radius of a circle, half length of a line, outer radius of a polygon).</param>
/// <param name="Rotation">Rotation in radians (counter-clockwise on the screen, 0 = the shape's canonical pose).</param>
/// <param name="StrokeWidth">Width of the stroke in pixels.</param>
/// <param name="Filled">Whether a closed shape was filled rather than outlined.</param>
public sealed record ShapeGeometry(int Class, string ClassName, float CenterX, float CenterY, float Scale, float Rotation, float StrokeWidth, bool Filled);

/// <summary>A drawn split of <see cref="ShapesDataset"/>: images, labels and the geometry of every image.</summary>
/// <param name="Images">Images <c>[N, 3, size, size]</c>, float32 in [0, 1].</param>
/// <param name="Labels">Class indices <c>[N]</c>, int64.</param>
/// <param name="Geometry">What each image shows (its ground truth), N entries.</param>
public sealed record ShapesSplit(Tensor Images, Tensor Labels, IReadOnlyList<ShapeGeometry> Geometry) : IDisposable
{
    /// <summary>Number of images.</summary>
    public int Count => Geometry.Count;

    /// <summary>Disposes the image and label tensors.</summary>
    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}

/// <summary>
/// A procedural image dataset whose classes differ by edges, curves and corners — the stimuli a curve detector has to
/// tell apart. Every image is one anti-aliased shape (stroked, closed shapes sometimes filled) at a random position,
/// scale, rotation, stroke width and colour on a textured, noisy background. Deterministic: the same seed draws the
/// same images, bit for bit, on any machine (the drawing is plain C# arithmetic, no font or raster library).
/// </summary>
public static class ShapesDataset
{
    /// <summary>The classes, in label order.</summary>
    public static IReadOnlyList<string> ClassNames { get; } = new[]
    {
        "circle", "ellipse", "arc", "s_curve", "spiral", "line", "angle", "triangle", "square", "star", "wave",
    };

    /// <summary>Classes whose outline is curved everywhere (used to score curve detectors against ground truth).</summary>
    public static IReadOnlyList<string> CurveClasses { get; } = new[] { "circle", "ellipse", "arc", "s_curve", "spiral", "wave" };

    /// <summary>The side of ShapesNet's images in pixels.</summary>
    public const int ImageSize = 64;

    /// <summary>Seed of the fixed training split.</summary>
    public const int TrainSeed = 0;

    /// <summary>Seed of the fixed test split (disjoint draws from the training split's).</summary>
    public const int TestSeed = 1;

    /// <summary>The fixed test split: <paramref name="count"/> images drawn with <see cref="TestSeed"/>.</summary>
    public static ShapesSplit Test(int count = 1000) => Generate(count, TestSeed);

    /// <summary>
    /// Draws <paramref name="count"/> images, classes balanced: each block of 11 consecutive images holds every class once,
    /// in a seeded order. Image i depends only on the seed and i, so a split's prefixes agree.
    /// </summary>
    /// <param name="count">Number of images (1 to 1,000,000).</param>
    /// <param name="seed">Seed of every random choice.</param>
    /// <param name="size">Side of the square images in pixels (16 to 1024); geometry scales with it.</param>
    /// <returns>Images <c>[count, 3, size, size]</c> in [0, 1], labels <c>[count]</c> and their geometry.</returns>
    public static ShapesSplit Generate(int count, int seed, int size = ImageSize)
    {
        if (count < 1 || count > 1_000_000) throw new ArgumentOutOfRangeException(nameof(count), count, "count must be between 1 and 1,000,000 images.");
        if (size < 16 || size > 1024) throw new ArgumentOutOfRangeException(nameof(size), size, "size must be between 16 and 1024 pixels.");
        // Classes in blocks of 11: each block is a seeded permutation of all classes, so every prefix of a split is the
        // same images whatever the count (Test(110) is the first 110 images of Test(1000)) and classes stay balanced.
        var classes = new int[count];
        var k = ClassNames.Count;
        for (int block = 0; block * k < count; block++)
        {
            var permutation = Enumerable.Range(0, k).ToArray();
            new Random(ImageSeed(seed, -1 - block)).Shuffle(permutation);
            for (int j = 0; j < k && block * k + j < count; j++) classes[block * k + j] = permutation[j];
        }
        var pixels = new float[(long)count * 3 * size * size];
        var geometry = new ShapeGeometry[count];
        var plane = size * size;
        var coverage = new float[plane];
        for (int n = 0; n < count; n++)
        {
            // One generator per image, seeded from the split's: image n does not depend on how many were drawn before it.
            var r = new Random(ImageSeed(seed, n));
            geometry[n] = DrawOne(classes[n], size, r, coverage);
            Compose(r, coverage, size, pixels.AsSpan((int)((long)n * 3 * plane), 3 * plane));
        }
        var images = tensor(pixels, new long[] { count, 3, size, size });
        var labels = tensor(classes.Select(c => (long)c).ToArray(), new long[] { count });
        return new ShapesSplit(images, labels, geometry);
    }

    /// <summary>
    /// The outline of a class's shape as polylines in a canonical frame (unit scale, centred at the origin, rotation 0),
    /// before rotation, scaling and translation. Exposed for tests and for drawing the ground truth.
    /// </summary>
    /// <param name="className">One of <see cref="ClassNames"/>.</param>
    /// <param name="variant">Shape-specific parameters in [0, 1) (e.g. an ellipse's aspect, an arc's length), usually random.</param>
    /// <returns>Polylines of (x, y) points and whether each is closed.</returns>
    public static IReadOnlyList<(IReadOnlyList<(double X, double Y)> Points, bool Closed)> CanonicalOutline(string className, double variant = 0.5)
    {
        var v = Math.Clamp(variant, 0, 1);
        List<(double, double)> Arc(double cx, double cy, double rx, double ry, double from, double to, int steps)
        {
            var pts = new List<(double, double)>(steps + 1);
            for (int i = 0; i <= steps; i++)
            {
                var t = from + (to - from) * i / steps;
                pts.Add((cx + rx * Math.Cos(t), cy + ry * Math.Sin(t)));
            }
            return pts;
        }
        List<(double, double)> Polygon(int corners, double innerRatio)
        {
            var pts = new List<(double, double)>();
            var n = innerRatio > 0 ? 2 * corners : corners;
            for (int i = 0; i < n; i++)
            {
                var t = -Math.PI / 2 + 2 * Math.PI * i / n;
                var rad = innerRatio > 0 && i % 2 == 1 ? innerRatio : 1.0;
                pts.Add((rad * Math.Cos(t), rad * Math.Sin(t)));
            }
            return pts;
        }
        return className switch
        {
            "circle" => new[] { ((IReadOnlyList<(double, double)>)Arc(0, 0, 1, 1, 0, 2 * Math.PI, 64), true) },
            "ellipse" => new[] { ((IReadOnlyList<(double, double)>)Arc(0, 0, 1, 0.4 + 0.3 * v, 0, 2 * Math.PI, 64), true) },
            // An open arc of 110°–230°, centred on the circle's centre so its stroke lies at the scale's distance.
            "arc" => new[] { ((IReadOnlyList<(double, double)>)Arc(0, 0, 1, 1, -(0.3 + 0.35 * v) * Math.PI, (0.3 + 0.35 * v) * Math.PI, 48), false) },
            // Two opposite half circles of radius 1/2 joined at the origin.
            // Two half circles of radius 1/2 bulging to opposite sides, joined at the origin: (0,−1) → (0,0) → (0,1).
            "s_curve" => new[] { ((IReadOnlyList<(double, double)>)Arc(0, -0.5, 0.5, 0.5, 3 * Math.PI / 2, Math.PI / 2, 32)
                .Concat(Arc(0, 0.5, 0.5, 0.5, -Math.PI / 2, Math.PI / 2, 32).Skip(1)).ToList(), false) },
            "spiral" => new[] { ((IReadOnlyList<(double, double)>)Enumerable.Range(0, 97).Select(i =>
            {
                var t = i / 96.0;
                var angle = t * (2.5 + v) * Math.PI;
                var rad = 0.15 + 0.85 * t;
                return (rad * Math.Cos(angle), rad * Math.Sin(angle));
            }).ToList(), false) },
            "line" => new[] { ((IReadOnlyList<(double, double)>)new List<(double, double)> { (-1, 0), (1, 0) }, false) },
            "angle" => AngleOutline(v),
            "triangle" => new[] { ((IReadOnlyList<(double, double)>)Polygon(3, 0), true) },
            "square" => new[] { ((IReadOnlyList<(double, double)>)Polygon(4, 0), true) },
            "star" => new[] { ((IReadOnlyList<(double, double)>)Polygon(5, 0.42), true) },
            "wave" => new[] { ((IReadOnlyList<(double, double)>)Enumerable.Range(0, 65).Select(i =>
            {
                var x = -1 + 2.0 * i / 64;
                return (x, (0.22 + 0.1 * v) * Math.Sin((2 + v) * Math.PI * x));
            }).ToList(), false) },
            _ => throw new ArgumentException($"className must be one of {string.Join(", ", ClassNames)}; got '{className}'.", nameof(className)),
        };
    }

    private static (IReadOnlyList<(double, double)>, bool)[] AngleOutline(double v)
    {
        // Two unit-length arms from a vertex at the origin, opening 40°–120°, symmetric about the +x axis.
        var half = (40 + 80 * v) * Math.PI / 360;
        var pts = new List<(double, double)> { (Math.Cos(half), Math.Sin(half)), (0, 0), (Math.Cos(half), -Math.Sin(half)) };
        // Shift so the shape's extent is centred (the vertex sits left of centre).
        var shift = Math.Cos(half) / 2;
        return new[] { ((IReadOnlyList<(double, double)>)pts.Select(p => (p.Item1 - shift, p.Item2)).ToList(), false) };
    }

    /// <summary>Draws one shape's coverage (0…1 per pixel, row-major [size, size]) and returns its geometry.</summary>
    internal static ShapeGeometry DrawOne(int cls, int size, Random r, float[] coverage)
    {
        var name = ClassNames[cls];
        var unit = size / 64.0;
        var scale = (10 + 12 * r.NextDouble()) * unit;
        var stroke = (1.5 + 2.5 * r.NextDouble()) * unit;
        var margin = scale + stroke;
        var cx = margin + r.NextDouble() * Math.Max(0, size - 2 * margin);
        var cy = margin + r.NextDouble() * Math.Max(0, size - 2 * margin);
        var rotation = r.NextDouble() * 2 * Math.PI;
        var variant = r.NextDouble();
        var closedFillable = name is "circle" or "ellipse" or "triangle" or "square" or "star";
        var filled = closedFillable && r.NextDouble() < 0.3;
        Array.Clear(coverage);
        var (cos, sin) = (Math.Cos(rotation), Math.Sin(rotation));
        foreach (var (points, closed) in CanonicalOutline(name, variant))
        {
            // Screen coordinates: y grows downwards, so a counter-clockwise rotation on screen negates the sine's sign on y.
            var pts = points.Select(p => (X: cx + scale * (p.X * cos - p.Y * sin), Y: cy - scale * (p.X * sin + p.Y * cos))).ToArray();
            StrokePolyline(pts, closed, stroke, size, coverage);
            if (filled && closed) FillPolygon(pts, size, coverage);
        }
        return new ShapeGeometry(cls, name, (float)cx, (float)cy, (float)scale, (float)rotation, (float)stroke, filled);
    }

    /// <summary>Anti-aliased stroke: coverage = clamp(w/2 + 1/2 − distance to the polyline), the box-filter approximation.</summary>
    private static void StrokePolyline((double X, double Y)[] pts, bool closed, double width, int size, float[] coverage)
    {
        var segments = closed ? pts.Length : pts.Length - 1;
        var reach = width / 2 + 1;
        for (int s = 0; s < segments; s++)
        {
            var a = pts[s];
            var b = pts[(s + 1) % pts.Length];
            int x0 = Math.Max(0, (int)Math.Floor(Math.Min(a.X, b.X) - reach)), x1 = Math.Min(size - 1, (int)Math.Ceiling(Math.Max(a.X, b.X) + reach));
            int y0 = Math.Max(0, (int)Math.Floor(Math.Min(a.Y, b.Y) - reach)), y1 = Math.Min(size - 1, (int)Math.Ceiling(Math.Max(a.Y, b.Y) + reach));
            double dx = b.X - a.X, dy = b.Y - a.Y, len2 = Math.Max(dx * dx + dy * dy, 1e-12);
            for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++)
            {
                // Pixel centres at (x + 0.5, y + 0.5).
                double px = x + 0.5 - a.X, py = y + 0.5 - a.Y;
                var t = Math.Clamp((px * dx + py * dy) / len2, 0, 1);
                double ex = px - t * dx, ey = py - t * dy;
                var c = (float)Math.Clamp(width / 2 + 0.5 - Math.Sqrt(ex * ex + ey * ey), 0, 1);
                ref var cell = ref coverage[y * size + x];
                if (c > cell) cell = c;
            }
        }
    }

    /// <summary>Fills a closed polygon (even–odd rule at pixel centres); the stroke already anti-aliases its edge.</summary>
    private static void FillPolygon((double X, double Y)[] pts, int size, float[] coverage)
    {
        for (int y = 0; y < size; y++)
        {
            var py = y + 0.5;
            for (int x = 0; x < size; x++)
            {
                var px = x + 0.5;
                var inside = false;
                for (int i = 0, j = pts.Length - 1; i < pts.Length; j = i++)
                    if ((pts[i].Y > py) != (pts[j].Y > py) && px < (pts[j].X - pts[i].X) * (py - pts[i].Y) / (pts[j].Y - pts[i].Y) + pts[i].X)
                        inside = !inside;
                if (inside) coverage[y * size + x] = 1;
            }
        }
    }

    /// <summary>Background (a colour gradient with a soft texture and pixel noise) blended with a contrasting foreground.</summary>
    private static void Compose(Random r, float[] coverage, int size, Span<float> rgb)
    {
        var plane = size * size;
        var bg = new double[3];
        var fg = new double[3];
        var grad = new double[3];
        do
        {
            for (int c = 0; c < 3; c++)
            {
                bg[c] = r.NextDouble();
                fg[c] = r.NextDouble();
            }
        }
        while (Math.Abs(Luma(bg) - Luma(fg)) < 0.3);
        for (int c = 0; c < 3; c++) grad[c] = (r.NextDouble() - 0.5) * 0.3;
        var gradAngle = r.NextDouble() * 2 * Math.PI;
        var (gx, gy) = (Math.Cos(gradAngle) / size, Math.Sin(gradAngle) / size);
        // A soft texture: two random plane waves of low amplitude.
        var waves = Enumerable.Range(0, 2).Select(_ => (K: (2 + 6 * r.NextDouble()) * 2 * Math.PI / size, A: r.NextDouble() * 2 * Math.PI, P: r.NextDouble() * 2 * Math.PI)).ToArray();
        var noise = 0.02 + 0.04 * r.NextDouble();
        for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++)
        {
            var i = y * size + x;
            var ramp = (x - size / 2.0) * gx + (y - size / 2.0) * gy;
            var texture = 0.0;
            foreach (var w in waves) texture += 0.04 * Math.Sin(w.K * (x * Math.Cos(w.A) + y * Math.Sin(w.A)) + w.P);
            var a = coverage[i];
            for (int c = 0; c < 3; c++)
            {
                var back = bg[c] + grad[c] * ramp + texture;
                var v = a * fg[c] + (1 - a) * back + noise * Gaussian(r);
                rgb[c * plane + i] = (float)Math.Clamp(v, 0, 1);
            }
        }
    }

    /// <summary>A deterministic per-image seed (SplitMix64 of the split's seed and the index; HashCode is randomised per process).</summary>
    private static int ImageSeed(int seed, int index)
    {
        var z = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)index + 0x5EEDUL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (int)((z ^ (z >> 31)) & 0x7FFFFFFF);
    }

    private static double Luma(double[] c) => 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];

    private static double Gaussian(Random r)
    {
        var u1 = 1.0 - r.NextDouble();
        var u2 = r.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
