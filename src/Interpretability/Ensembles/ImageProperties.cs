using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Ensembles;

/// <summary>
/// A scalar property of a network's picture, differentiable in the outputs. Our choice of properties: mean colour,
/// colour balance, and the area, centroid, tilt (from second moments) and width of a soft colour mask — measurable
/// versions of the "green balance", tilt and width of the bird that the Habr article on synapse ensembles (2015,
/// https://habr.com/ru/articles/249031/) changes by moving synapses.
/// </summary>
public abstract class ImageProperty
{
    /// <summary>Short name (for tables and metrics).</summary>
    public abstract string Name { get; }

    /// <summary>Unit of the value, for a person (e.g. "degrees").</summary>
    public virtual string Unit => "";

    /// <summary>Evaluates the property.</summary>
    /// <param name="outputs"><c>[P, O]</c> network outputs in (−1, 1) (r, g, b), e.g. from
    /// <see cref="Nn.CoordinateNetwork.forward"/>.</param>
    /// <param name="coords"><c>[P, 2]</c> pixel coordinates (x, y) in (−1, 1), y downwards, e.g. from
    /// <see cref="Nn.PixelGrid.Coordinates"/>.</param>
    /// <returns>A scalar tensor (0-dimensional) in the dtype and on the device of <paramref name="outputs"/>,
    /// differentiable with respect to <paramref name="outputs"/>.</returns>
    public abstract Tensor Evaluate(Tensor outputs, Tensor coords);

    /// <summary>Checks that the outputs have a channel <paramref name="channel"/>.</summary>
    protected static void CheckChannel(Tensor outputs, int channel)
    {
        if (outputs.dim() != 2 || outputs.shape[1] <= channel)
            throw new ArgumentException($"outputs must be [P, O] with at least {channel + 1} channels; got [{string.Join(", ", outputs.shape)}].", nameof(outputs));
    }
}

/// <summary>
/// A soft colour mask: <c>m(p) = σ(κ (O_c(p) − max_{c'≠c} O_{c'}(p)))</c> with colours in (−1, 1) — for the green
/// channel <c>σ(κ(G − max(R, B)))</c>, with κ = 10 by default (our choice).
/// </summary>
/// <param name="Channel">The channel that must dominate (1 = green).</param>
/// <param name="Kappa">Sharpness κ.</param>
public sealed record SoftColourMask(int Channel = 1, double Kappa = 10)
{
    /// <summary>The mask, <c>[P]</c> in (0, 1), in the dtype and on the device of <paramref name="outputs"/>.</summary>
    /// <param name="outputs"><c>[P, O]</c> network outputs in (−1, 1).</param>
    public Tensor Apply(Tensor outputs)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        if (outputs.dim() != 2 || outputs.shape[1] < 2 || Channel < 0 || Channel >= outputs.shape[1])
            throw new ArgumentException($"outputs must be [P, O] with O ≥ 2 and channel {Channel} in range; got [{string.Join(", ", outputs.shape)}].", nameof(outputs));
        using var scope = NewDisposeScope();
        var others = Enumerable.Range(0, (int)outputs.shape[1]).Where(c => c != Channel).Select(c => (long)c).ToArray();
        var rest = outputs.index_select(1, tensor(others, device: outputs.device)).amax(new long[] { 1 });
        return torch.sigmoid((outputs.select(1, Channel) - rest) * Kappa).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Mean of one channel over the picture or a weighted region (e.g. mean green: the "green balance" of the Habr article
/// on synapse ensembles).
/// </summary>
/// <param name="channel">Channel index (0 r, 1 g, 2 b).</param>
/// <param name="region">Optional <c>[P]</c> (or <c>[H, W]</c>) non-negative pixel weights, any dtype and device;
/// default every pixel equally.</param>
/// <param name="name">Name (default <c>mean_r</c>/<c>mean_g</c>/<c>mean_b</c>).</param>
public sealed class MeanChannel(int channel, Tensor? region = null, string? name = null) : ImageProperty
{
    /// <inheritdoc />
    public override string Name => name ?? $"mean_{"rgb"[Math.Clamp(channel, 0, 2)]}";

    /// <inheritdoc />
    public override string Unit => "colour units (−1…1)";

    /// <inheritdoc />
    public override Tensor Evaluate(Tensor outputs, Tensor coords)
    {
        CheckChannel(outputs, channel);
        var v = outputs.select(1, channel);
        if (region is null) return v.mean();
        using var scope = NewDisposeScope();
        var w = region.reshape(-1).to(v.dtype, v.device);
        return ((v * w).sum() / w.sum()).MoveToOuterDisposeScope();
    }
}

/// <summary>Colour balance: mean over pixels of one channel minus the mean of the others (how green the picture is overall).</summary>
/// <param name="channel">The channel (1 = green).</param>
public sealed class ColourBalance(int channel = 1) : ImageProperty
{
    /// <inheritdoc />
    public override string Name => $"balance_{"rgb"[Math.Clamp(channel, 0, 2)]}";

    /// <inheritdoc />
    public override string Unit => "colour units (−1…1)";

    /// <inheritdoc />
    public override Tensor Evaluate(Tensor outputs, Tensor coords)
    {
        CheckChannel(outputs, channel);
        using var scope = NewDisposeScope();
        var others = outputs.sum(1) - outputs.select(1, channel);
        return (outputs.select(1, channel) - others / (outputs.shape[1] - 1)).mean().MoveToOuterDisposeScope();
    }
}

/// <summary>Moments of a soft mask: area, centroid, orientation, width.</summary>
public enum MaskMoment
{
    /// <summary>Area as a fraction of the picture: <c>Σ m / P</c>.</summary>
    Area,
    /// <summary>Centroid x: <c>Σ x m / Σ m</c>.</summary>
    CentroidX,
    /// <summary>Centroid y (downwards): <c>Σ y m / Σ m</c>.</summary>
    CentroidY,
    /// <summary>
    /// Tilt of the principal axis in degrees, counter-clockwise on screen:
    /// <c>θ = ½ atan2(2μ₁₁', μ₂₀ − μ₀₂)</c> with μ the central second moments and y' = −y (up).
    /// </summary>
    Orientation,
    /// <summary>Width across the principal axis: <c>4 √λ_min</c> of the covariance (the full width of a uniform ellipse).</summary>
    Width,
}

/// <summary>A moment of a <see cref="SoftColourMask"/>: area, centroid, orientation (second moments), width.</summary>
/// <param name="moment">Which moment.</param>
/// <param name="mask">The soft mask (default green, κ = 10).</param>
public sealed class MaskProperty(MaskMoment moment, SoftColourMask? mask = null) : ImageProperty
{
    private readonly SoftColourMask soft = mask ?? new SoftColourMask();

    /// <summary>The moment.</summary>
    public MaskMoment Moment => moment;

    /// <inheritdoc />
    public override string Name => moment switch
    {
        MaskMoment.Area => "mask_area",
        MaskMoment.CentroidX => "mask_centroid_x",
        MaskMoment.CentroidY => "mask_centroid_y",
        MaskMoment.Orientation => "mask_orientation",
        _ => "mask_width",
    };

    /// <inheritdoc />
    public override string Unit => moment switch
    {
        MaskMoment.Area => "fraction of the picture",
        MaskMoment.Orientation => "degrees",
        _ => "coordinate units",
    };

    /// <inheritdoc />
    public override Tensor Evaluate(Tensor outputs, Tensor coords)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        ArgumentNullException.ThrowIfNull(coords);
        if (coords.dim() != 2 || coords.shape[1] != 2 || coords.shape[0] != outputs.shape[0])
            throw new ArgumentException($"coords must be [{outputs.shape[0]}, 2]; got [{string.Join(", ", coords.shape)}].", nameof(coords));
        using var scope = NewDisposeScope();
        var m = soft.Apply(outputs);
        if (moment == MaskMoment.Area) return (m.sum() / m.shape[0]).MoveToOuterDisposeScope();
        var c = coords.to(m.dtype, m.device);
        var x = c.select(1, 0);
        var y = -c.select(1, 1);                                                    // y up, so angles are counter-clockwise
        var total = m.sum();
        var cx = (m * x).sum() / total;
        var cy = (m * y).sum() / total;
        if (moment == MaskMoment.CentroidX) return cx.MoveToOuterDisposeScope();
        if (moment == MaskMoment.CentroidY) return (-cy).MoveToOuterDisposeScope();
        var dx = x - cx;
        var dy = y - cy;
        var mu20 = (m * dx * dx).sum() / total;
        var mu02 = (m * dy * dy).sum() / total;
        var mu11 = (m * dx * dy).sum() / total;
        if (moment == MaskMoment.Orientation)
            return (atan2(2 * mu11, mu20 - mu02) * (0.5 * 180 / Math.PI)).MoveToOuterDisposeScope();
        var half = (mu20 + mu02) / 2;
        var lambdaMin = half - ((mu20 - mu02).pow(Scalars.IntTwo) / 4 + mu11.pow(Scalars.IntTwo)).sqrt();
        return (lambdaMin.clamp_min(Scalars.IntZero).sqrt() * 4).MoveToOuterDisposeScope();
    }
}
