using Interpretability.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Ensembles;

/// <summary>The labelled parts of the <see cref="ProceduralBird"/>.</summary>
public enum BirdPart
{
    /// <summary>The sky behind the bird.</summary>
    Sky = 0,
    /// <summary>The ground (a low hill) under the bird.</summary>
    Ground = 1,
    /// <summary>The tail (a fan of dark green feathers, left).</summary>
    Tail = 2,
    /// <summary>The body (a tilted green ellipse).</summary>
    Body = 3,
    /// <summary>
    /// The cream patch on the body under the wing (the Habr article's "region under the wing where short feathers are").
    /// </summary>
    UnderWingPatch = 4,
    /// <summary>The raised wing (blue).</summary>
    Wing = 5,
    /// <summary>The head.</summary>
    Head = 6,
    /// <summary>The beak (orange).</summary>
    Beak = 7,
    /// <summary>The eye.</summary>
    Eye = 8,
}

/// <summary>A drawn picture with a part label at every pixel.</summary>
public sealed class LabelledImage : IDisposable
{
    internal LabelledImage(Tensor image, Tensor labels, IReadOnlyList<string> partNames)
    {
        Image = image;
        Labels = labels;
        PartNames = partNames;
    }

    /// <summary><c>[3, H, W]</c> float32 RGB in [0, 1].</summary>
    public Tensor Image { get; }

    /// <summary><c>[H, W]</c> int64: the part at each pixel (the topmost part covering at least half the pixel).</summary>
    public Tensor Labels { get; }

    /// <summary>Name of each label value.</summary>
    public IReadOnlyList<string> PartNames { get; }

    /// <summary>The pixel grid of the picture.</summary>
    public PixelGrid Grid => new((int)Image.shape[2], (int)Image.shape[1]);

    /// <summary>The mask of one part: <c>[H, W]</c> boolean.</summary>
    public Tensor Mask(BirdPart part)
    {
        using var label = ((long)part).ToScalar();
        return Labels.eq(label);
    }

    /// <summary>Number of pixels of one part.</summary>
    public long PixelCount(BirdPart part)
    {
        using var m = Mask(part);
        return m.sum().item<long>();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Image.Dispose();
        Labels.Dispose();
    }
}

/// <summary>
/// The built-in target picture: a flying bird in flat colours and smooth shapes (tilted ellipses, triangles with
/// softened edges) over sky and ground, with a label for every part (<see cref="BirdPart"/>). Shapes are defined in the
/// coordinates of <see cref="PixelGrid"/> ((−1, 1) on both axes), so the picture is the same at any size and
/// deterministic; edges are linear ramps about 0.04 wide (one pixel at 50×50), which a tanh network can draw. The bird
/// is green (body, head, tail) so that a green-ness mask σ(κ(G − max(R, B))) picks it out from the blue sky, blue wing
/// and sandy ground, as the "green balance" property of the Habr article on synapse ensembles needs.
/// </summary>
public static class ProceduralBird
{
    /// <summary>Half-width of the soft edge, in coordinate units.</summary>
    public const double EdgeWidth = 0.04;

    /// <summary>Draws the bird.</summary>
    /// <param name="width">Columns (at least 8).</param>
    /// <param name="height">Rows (at least 8).</param>
    /// <returns>Picture and labels (float32 on the CPU); the caller disposes them.</returns>
    public static LabelledImage Draw(int width, int height)
    {
        if (width < 8) throw new ArgumentOutOfRangeException(nameof(width), width, "The bird needs at least 8 columns.");
        if (height < 8) throw new ArgumentOutOfRangeException(nameof(height), height, "The bird needs at least 8 rows.");
        using var scope = NewDisposeScope();
        var grid = new PixelGrid(width, height);
        var xy = grid.Coordinates(ScalarType.Float64);
        var x = xy[TensorIndex.Colon, 0].reshape(height, width);
        var y = xy[TensorIndex.Colon, 1].reshape(height, width);

        // Parts in painting order (later parts cover earlier ones), each with its signed distance (negative inside).
        var parts = new (BirdPart Part, Tensor Distance, double R, double G, double B)[]
        {
            (BirdPart.Sky, full_like(x, Scalars.MinusOne), 0.55, 0.70, 0.95),
            (BirdPart.Ground, -(y - 0.62 + 0.08 * (2 * x).cos()), 0.85, 0.66, 0.40),
            (BirdPart.Tail, Triangle(x, y, (-0.40, 0.00), (-0.88, -0.15), (-0.82, 0.28)), 0.10, 0.42, 0.18),
            (BirdPart.Body, Ellipse(x, y, -0.05, 0.05, 0.48, 0.24, -12), 0.22, 0.62, 0.28),
            (BirdPart.UnderWingPatch, Ellipse(x, y, -0.08, 0.13, 0.20, 0.08, -12), 0.98, 0.78, 0.45),
            (BirdPart.Wing, Ellipse(x, y, -0.12, -0.27, 0.36, 0.13, -35), 0.16, 0.26, 0.58),
            (BirdPart.Beak, Triangle(x, y, (0.52, -0.22), (0.78, -0.12), (0.53, -0.06)), 0.95, 0.60, 0.10),
            (BirdPart.Head, Ellipse(x, y, 0.42, -0.14, 0.16, 0.16, 0), 0.30, 0.72, 0.32),
            (BirdPart.Eye, Ellipse(x, y, 0.47, -0.18, 0.05, 0.05, 0), 0.05, 0.05, 0.05),
        };
        var image = zeros(3, height, width, dtype: ScalarType.Float64);
        var labels = zeros(height, width, dtype: ScalarType.Int64);
        foreach (var (part, distance, r, g, b) in parts)
        {
            var cover = (-distance / EdgeWidth).clamp(Scalars.IntMinusOne, Scalars.IntOne) * 0.5 + 0.5;   // linear ramp across the edge
            var colour = tensor(new[] { r, g, b }, dtype: ScalarType.Float64).reshape(3, 1, 1);
            image = image * (1 - cover) + colour * cover;
            using var label = ((long)part).ToScalar();
            labels = where(cover >= Scalars.Half, full_like(labels, label), labels);
        }
        var names = Enum.GetValues<BirdPart>().Select(p => p.ToString()).ToArray();
        return new LabelledImage(image.to(ScalarType.Float32).MoveToOuterDisposeScope(), labels.MoveToOuterDisposeScope(), names);
    }

    /// <summary>Signed distance-like function of a rotated ellipse (scaled by its smaller semi-axis): negative inside.</summary>
    private static Tensor Ellipse(Tensor x, Tensor y, double cx, double cy, double a, double b, double degrees)
    {
        var t = degrees * Math.PI / 180;
        var dx = x - cx;
        var dy = y - cy;
        var u = dx * Math.Cos(t) + dy * Math.Sin(t);
        var v = -dx * Math.Sin(t) + dy * Math.Cos(t);
        using var scale = Math.Min(a, b).ToScalar();
        return ((u / a).pow(Scalars.IntTwo) + (v / b).pow(Scalars.IntTwo)).sqrt().sub(Scalars.IntOne).mul(scale);
    }

    /// <summary>Signed distance to a triangle's edges (max over the three half-planes): negative inside.</summary>
    private static Tensor Triangle(Tensor x, Tensor y, (double X, double Y) p0, (double X, double Y) p1, (double X, double Y) p2)
    {
        var pts = new[] { p0, p1, p2 };
        double gx = (p0.X + p1.X + p2.X) / 3, gy = (p0.Y + p1.Y + p2.Y) / 3;
        Tensor? d = null;
        for (int k = 0; k < 3; k++)
        {
            var (a, b) = (pts[k], pts[(k + 1) % 3]);
            double nx = b.Y - a.Y, ny = -(b.X - a.X), len = Math.Sqrt(nx * nx + ny * ny);
            nx /= len;
            ny /= len;
            if ((gx - a.X) * nx + (gy - a.Y) * ny > 0) { nx = -nx; ny = -ny; }   // outward normal
            var dk = (x - a.X) * nx + (y - a.Y) * ny;
            d = d is null ? dk : maximum(d, dk);
        }
        return d!;
    }
}
