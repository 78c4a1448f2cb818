using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Imaging;

/// <summary>
/// A colormap: maps a value in [0, 1] to an RGB colour. Use <see cref="Viridis"/> (perceptually uniform sequential) for
/// magnitudes and <see cref="Diverging"/> (blue–white–red) for signed maps shown with a symmetric scale.
/// </summary>
public abstract class Colormap
{
    private float[]? lut;

    /// <summary>Name of the colormap.</summary>
    public abstract string Name { get; }

    /// <summary>The colour at <paramref name="t"/> ∈ [0, 1] (clamped), each channel in [0, 1].</summary>
    public abstract (double R, double G, double B) Evaluate(double t);

    /// <summary>The colour at <paramref name="t"/> as bytes.</summary>
    public (byte R, byte G, byte B) ToBytes(double t)
    {
        var (r, g, b) = Evaluate(t);
        return (ToByte(r), ToByte(g), ToByte(b));
    }

    /// <summary>
    /// Applies the colormap to values already normalised to [0, 1].
    /// </summary>
    /// <param name="values">Any shape <c>[...]</c>, values in [0, 1] (clamped).</param>
    /// <returns><c>[3, ...]</c> float32 RGB in [0, 1], on the device of <paramref name="values"/>.</returns>
    public Tensor Apply(Tensor values)
    {
        ArgumentNullException.ThrowIfNull(values);
        using var scope = NewDisposeScope();
        var table = tensor(Lut(), dtype: float32, device: values.device).reshape(256, 3);
        var idx = (values.to(float32).clamp(Scalars.IntZero, Scalars.IntOne) * 255f).round().to(int64);
        var rgb = table.index_select(0, idx.flatten()).reshape(values.shape.Append(3L).ToArray());
        var perm = new long[rgb.dim()];
        perm[0] = rgb.dim() - 1;
        for (int i = 1; i < perm.Length; i++) perm[i] = i - 1;
        return rgb.permute(perm).contiguous().MoveToOuterDisposeScope();
    }

    private float[] Lut()
    {
        if (lut is not null) return lut;
        var table = new float[256 * 3];
        for (int i = 0; i < 256; i++)
        {
            var (r, g, b) = Evaluate(i / 255.0);
            table[3 * i] = (float)Math.Clamp(r, 0, 1);
            table[3 * i + 1] = (float)Math.Clamp(g, 0, 1);
            table[3 * i + 2] = (float)Math.Clamp(b, 0, 1);
        }
        return lut = table;
    }

    private static byte ToByte(double v) => (byte)Math.Round(Math.Clamp(v, 0, 1) * 255);

    /// <summary>Matplotlib's viridis (van der Walt &amp; Smith), as a degree-6 polynomial fit per channel
    /// (maximum deviation from the published table about 1%).</summary>
    public static Colormap Viridis { get; } = new PolynomialColormap("viridis",
        new[] { 0.2777273272234177, 0.1050930431085774, -0.3308618287255563, -4.634230498983486, 6.228269936347081, 4.776384997670288, -5.435455855934631 },
        new[] { 0.005407344544966578, 1.404613529898575, 0.214847559468213, -5.799100973351585, 14.17993336680509, -13.74514537774601, 4.645852612178535 },
        new[] { 0.3340998053353061, 1.384590162594685, 0.09509516302823659, -19.33244095627987, 56.69055260068105, -65.35303263337234, 26.3124352495832 });

    /// <summary>Diverging blue–white–red (ColorBrewer RdBu, reversed so that negative is blue and positive is red);
    /// 0.5 is white, which a symmetric normalisation maps to zero.</summary>
    public static Colormap Diverging { get; } = new PiecewiseColormap("diverging-rdbu", new[]
    {
        "#053061", "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7", "#f4a582", "#d6604d", "#b2182b", "#67001f",
    });

    /// <summary>Black to white.</summary>
    public static Colormap Grey { get; } = new PiecewiseColormap("grey", new[] { "#000000", "#ffffff" });

    private sealed class PolynomialColormap(string name, double[] r, double[] g, double[] b) : Colormap
    {
        public override string Name => name;

        public override (double R, double G, double B) Evaluate(double t)
        {
            t = Math.Clamp(t, 0, 1);
            return (Horner(r, t), Horner(g, t), Horner(b, t));
        }

        private static double Horner(double[] c, double t)
        {
            double v = 0;
            for (int i = c.Length - 1; i >= 0; i--) v = v * t + c[i];
            return Math.Clamp(v, 0, 1);
        }
    }

    private sealed class PiecewiseColormap : Colormap
    {
        private readonly (double R, double G, double B)[] stops;

        public PiecewiseColormap(string name, string[] hex)
        {
            Name = name;
            stops = hex.Select(h => (Convert.ToInt32(h.Substring(1, 2), 16) / 255.0,
                                     Convert.ToInt32(h.Substring(3, 2), 16) / 255.0,
                                     Convert.ToInt32(h.Substring(5, 2), 16) / 255.0)).ToArray();
        }

        public override string Name { get; }

        public override (double R, double G, double B) Evaluate(double t)
        {
            t = Math.Clamp(t, 0, 1) * (stops.Length - 1);
            var i = Math.Min((int)Math.Floor(t), stops.Length - 2);
            var f = t - i;
            var (a, b) = (stops[i], stops[i + 1]);
            return (a.R + f * (b.R - a.R), a.G + f * (b.G - a.G), a.B + f * (b.B - a.B));
        }
    }
}
