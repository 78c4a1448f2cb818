using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Imaging;

/// <summary>How values are mapped to [0, 1] before they become pixels.</summary>
public abstract record Normalization
{
    /// <summary>Smallest value → 0, largest → 1 (a constant map becomes 0.5).</summary>
    public static Normalization MinMax { get; } = new MinMaxNormalization();

    /// <summary>Symmetric around zero: −m → 0, 0 → 0.5, +m → 1 with m = max |x| (for signed maps with a diverging colormap).</summary>
    public static Normalization Symmetric { get; } = new SymmetricNormalization(null);

    /// <summary>Symmetric around zero with a fixed scale: −<paramref name="limit"/> → 0, +<paramref name="limit"/> → 1.</summary>
    public static Normalization SymmetricWithLimit(double limit) =>
        limit > 0 && double.IsFinite(limit) ? new SymmetricNormalization(limit) : throw new ArgumentOutOfRangeException(nameof(limit), limit, "limit must be positive and finite.");

    /// <summary>A fixed range: <paramref name="low"/> → 0, <paramref name="high"/> → 1, values outside clamped.</summary>
    public static Normalization Fixed(double low, double high) =>
        high > low && double.IsFinite(low) && double.IsFinite(high)
            ? new FixedNormalization(low, high)
            : throw new ArgumentOutOfRangeException(nameof(high), $"Fixed range needs finite low < high; got [{low}, {high}].");

    /// <summary>Images already in [0, 1]: clamped, not rescaled.</summary>
    public static Normalization Unit { get; } = new FixedNormalization(0, 1);

    /// <summary>Maps <paramref name="values"/> to [0, 1].</summary>
    /// <param name="values">Any shape, any real dtype.</param>
    /// <returns>The shape of <paramref name="values"/>, float32 in [0, 1], on its device (detached).</returns>
    /// <exception cref="ArgumentException">The tensor holds NaN or infinity.</exception>
    public Tensor Apply(Tensor values)
    {
        ArgumentNullException.ThrowIfNull(values);
        using var scope = NewDisposeScope();
        var v = values.detach().to(float32);
        if (v.numel() > 0 && !isfinite(v).all().item<bool>())
            throw new ArgumentException("The values hold NaN or infinity; refusing to draw them as if they were numbers.", nameof(values));
        return Map(v).clamp(Scalars.IntZero, Scalars.IntOne).MoveToOuterDisposeScope();
    }

    /// <summary>Where the value zero-of-interest lands: 0.5 for symmetric maps (zero), 0 otherwise (the minimum).
    /// Overlays make the heatmap transparent there.</summary>
    public virtual double NeutralPoint => 0;

    /// <summary>The mapping, on finite float32 values.</summary>
    protected abstract Tensor Map(Tensor v);

    private sealed record MinMaxNormalization : Normalization
    {
        protected override Tensor Map(Tensor v)
        {
            if (v.numel() == 0) return v;
            var lo = v.min().item<float>();
            var hi = v.max().item<float>();
            return hi > lo ? (v - lo) / (hi - lo) : full_like(v, Scalars.HalfFloat);
        }
    }

    private sealed record SymmetricNormalization(double? Limit) : Normalization
    {
        public override double NeutralPoint => 0.5;

        protected override Tensor Map(Tensor v)
        {
            if (v.numel() == 0) return v;
            var m = Limit ?? v.abs().max().item<float>();
            return m > 0 ? v / (float)(2 * m) + 0.5f : full_like(v, Scalars.HalfFloat);
        }
    }

    private sealed record FixedNormalization(double Low, double High) : Normalization
    {
        protected override Tensor Map(Tensor v) => (v - (float)Low) / (float)(High - Low);
    }
}
