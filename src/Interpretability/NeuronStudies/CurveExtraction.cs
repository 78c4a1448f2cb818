using Interpretability.Probing;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.NeuronStudies;

/// <summary>
/// Curve extraction with a curve family: the family's responses over an image, each divided by the unit's response to
/// its best synthetic curve (<see cref="CurveUnit.MaxCurveResponse"/>, so that units of small scale are not drowned by
/// units of large scale), are combined into a strength map (the largest normalised response at each position; 1 = as
/// strong as the unit's preferred curve) and an orientation map (circular mean of the units' preferred orientations
/// weighted by their normalised responses), drawn over the image with hue = orientation and opacity = strength.
/// </summary>
public static class CurveExtraction
{
    private static readonly Scalar TwoPi = (2 * Math.PI).ToScalar(), IntSix = 6.ToScalar();   // alive for the process

    /// <summary>Strength and orientation maps of a family over images.</summary>
    /// <param name="model">Image model.</param>
    /// <param name="family">The curve family (its layer and units).</param>
    /// <param name="images"><c>[N, 3, H, W]</c>.</param>
    /// <returns>Strength <c>[N, s, s]</c> (≥ 0, in units of each unit's best synthetic curve response) and orientation <c>[N, s, s]</c> (radians in [0, 2π)), float32 CPU.</returns>
    public static (Tensor Strength, Tensor Orientation) Maps(nn.Module<Tensor, Tensor> model, CurveFamily family, Tensor images)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(family);
        ArgumentNullException.ThrowIfNull(images);
        if (family.Units.Count == 0) throw new ArgumentException("The family has no units.", nameof(family));
        using var scope = NewDisposeScope();
        using var cap = ActivationRecorder.Capture(model, images, new[] { family.Layer });
        var idx = tensor(family.Units.Select(u => (long)u.Channel).ToArray());
        var scale = tensor(family.Units.Select(u => (float)(u.MaxCurveResponse > 0 ? u.MaxCurveResponse : 1)).ToArray()).view(1, -1, 1, 1);
        var a = cap[family.Layer].index_select(1, idx).to(ScalarType.Float32).cpu().clamp_min(Scalars.IntZero) / scale;   // [N, F, s, s]
        var th = tensor(family.Units.Select(u => (float)u.PreferredOrientation).ToArray()).view(1, -1, 1, 1);
        var sx = (a * th.cos()).sum(new long[] { 1 });
        var sy = (a * th.sin()).sum(new long[] { 1 });
        var orient = atan2(sy, sx).remainder(TwoPi);
        var strength = a.amax(new long[] { 1 });
        return (strength.MoveToOuterDisposeScope(), orient.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Draws the maps over an image: a greyed copy of the image, blended with a colour whose hue is the orientation and
    /// whose opacity is the strength divided by <paramref name="maxStrength"/>, clamped to [0, 1] (upsampled bilinearly
    /// to the image).
    /// </summary>
    /// <param name="image"><c>[3, H, W]</c> in [0, 1].</param>
    /// <param name="strength"><c>[s, s]</c> (e.g. one image of <see cref="Maps"/>), on the device of
    /// <paramref name="image"/>.</param>
    /// <param name="orientation"><c>[s, s]</c>, radians.</param>
    /// <param name="maxStrength">Strength drawn fully opaque (e.g. the largest over a set of images).</param>
    /// <returns><c>[3, H, W]</c> float32 in [0, 1], on the device of <paramref name="image"/>.</returns>
    public static Tensor Draw(Tensor image, Tensor strength, Tensor orientation, double maxStrength)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(strength);
        ArgumentNullException.ThrowIfNull(orientation);
        if (image.dim() != 3 || image.shape[0] != 3) throw new ArgumentException($"image must be [3, H, W]; got [{string.Join(", ", image.shape)}].", nameof(image));
        if (strength.dim() != 2 || !strength.shape.SequenceEqual(orientation.shape))
            throw new ArgumentException("strength and orientation must be equal-shaped [s, s] maps.", nameof(strength));
        using var scope = NewDisposeScope();
        long h = image.shape[1], w = image.shape[2];
        Tensor Up(Tensor t) => nn.functional.interpolate(t.unsqueeze(0).unsqueeze(0).to(ScalarType.Float32), new[] { h, w }, mode: InterpolationMode.Bilinear, align_corners: false)[0, 0];
        var alpha = (Up(strength) / Math.Max(maxStrength, 1e-12)).clamp(Scalars.IntZero, Scalars.IntOne);
        // Interpolate the orientation through its unit vector (no jump at 2π).
        var ori = atan2(Up(orientation.sin()), Up(orientation.cos())).remainder(TwoPi);
        var hue = HueToRgb(ori / (2 * Math.PI));                                    // [3, H, W]
        var grey = image.to(ScalarType.Float32).mean(new long[] { 0 }, keepdim: true).expand(3, h, w) * 0.6 + 0.2;
        return (grey * (1 - alpha) + hue * alpha).clamp(Scalars.IntZero, Scalars.IntOne).MoveToOuterDisposeScope();
    }

    /// <summary>Fully saturated colours of hues in [0, 1) (0 red, 1/3 green, 2/3 blue).</summary>
    /// <param name="hue">Hues, any shape <c>[...]</c>.</param>
    /// <returns><c>[3, ...]</c> RGB in [0, 1], in the dtype and on the device of <paramref name="hue"/>.</returns>
    public static Tensor HueToRgb(Tensor hue)
    {
        ArgumentNullException.ThrowIfNull(hue);
        using var scope = NewDisposeScope();
        var h6 = hue.remainder(Scalars.One) * 6;
        Tensor Channel(double offset) => ((h6 + offset).remainder(IntSix) - 3).abs().sub(Scalars.IntOne).clamp(Scalars.IntZero, Scalars.IntOne);
        // Standard HSV (s = v = 1): R = clamp(|h6 − 3| − 1), G = clamp(2 − |h6 − 2|), B = clamp(2 − |h6 − 4|).
        var r = Channel(0);
        var g = (2 - (h6 - 2).abs()).clamp(Scalars.IntZero, Scalars.IntOne);
        var b = (2 - (h6 - 4).abs()).clamp(Scalars.IntZero, Scalars.IntOne);
        return stack(new[] { r, g, b }, 0).MoveToOuterDisposeScope();
    }
}
