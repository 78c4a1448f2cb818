using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>Options of <see cref="MaxSensitivity"/>.</summary>
/// <param name="Samples">Perturbations tried.</param>
/// <param name="Radius">Perturbations δ are uniform in the L∞ ball of this radius (Captum's default 0.02).</param>
/// <param name="Seed">Seed of the perturbations.</param>
public sealed record MaxSensitivityOptions(int Samples = 10, double Radius = 0.02, int Seed = 0);

/// <summary>
/// Max-sensitivity (Yeh et al. 2019, Eq. 5): SENS_max(φ, x) = max_{‖δ‖∞ ≤ r} ‖φ(x + δ) − φ(x)‖₂, estimated over random
/// δ, here divided by ‖φ(x)‖₂ so that methods of different scale compare (Captum's <c>sensitivity_max</c> without the
/// division is <see cref="Result.Absolute"/>). A saliency map of a linear model has sensitivity 0.
/// </summary>
public static class MaxSensitivity
{
    /// <summary>Absolute and relative max-sensitivity.</summary>
    /// <param name="Absolute">max ‖φ(x + δ) − φ(x)‖₂.</param>
    /// <param name="Relative">The same divided by ‖φ(x)‖₂ (0 when φ(x) = 0).</param>
    public sealed record Result(double Absolute, double Relative);

    /// <summary>Computes the max-sensitivity of <paramref name="attribute"/> at <paramref name="input"/>.</summary>
    /// <param name="attribute">The method: input <c>[1, ...]</c>, target → attributions of the input's shape.</param>
    /// <param name="input">One input <c>[1, ...]</c>.</param>
    /// <param name="target">Explained class.</param>
    /// <param name="options">Options; null = defaults.</param>
    public static Result Compute(AttributionFunction attribute, Tensor input, long target, MaxSensitivityOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(attribute);
        var o = options ?? new MaxSensitivityOptions();
        if (input.dim() < 1 || input.shape[0] != 1) throw new ArgumentException($"input must be one row [1, ...]; got {GradientCore.Shape(input)}.", nameof(input));
        if (o.Samples < 1) throw new ArgumentOutOfRangeException(nameof(options), o.Samples, "Samples must be at least 1.");
        if (!(o.Radius > 0)) throw new ArgumentOutOfRangeException(nameof(options), o.Radius, "Radius must be positive.");
        using var scope = NewDisposeScope();
        using var gen = new Generator((ulong)o.Seed, input.device);
        var original = attribute(input, target).to(float64);
        AttributionChecks.SameShape(input, original, "attribute's result");
        var norm = original.norm().item<double>();
        double worst = 0;
        for (int i = 0; i < o.Samples; i++)
        {
            using var inner = NewDisposeScope();
            var delta = (rand(input.shape, dtype: input.dtype, device: input.device, generator: gen) * 2 - 1) * o.Radius;
            var moved = attribute(input + delta, target).to(float64);
            worst = Math.Max(worst, (moved - original).norm().item<double>());
        }
        return new Result(worst, norm > 0 ? worst / norm : 0);
    }
}
