using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>An attribution method as a function: input <c>[1, ...]</c> and target class → attributions of the input's shape.</summary>
public delegate Tensor AttributionFunction(Tensor input, long target);

/// <summary>Options of <see cref="Infidelity"/>.</summary>
/// <param name="Samples">Monte-Carlo perturbations.</param>
/// <param name="NoiseStd">Standard deviation σ of the Gaussian perturbations I ~ N(0, σ²).</param>
/// <param name="Normalize">Rescale the attributions by the β that minimises the infidelity first (Captum's <c>normalize=True</c>),
/// so methods of different scale compare; the result is then at most Var(Δf)-like and scale-free in φ.</param>
/// <param name="Seed">Seed of the perturbations.</param>
/// <param name="BatchSize">Perturbed inputs per forward pass.</param>
public sealed record InfidelityOptions(int Samples = 64, double NoiseStd = 0.1, bool Normalize = true, int Seed = 0, int BatchSize = 64);

/// <summary>
/// Infidelity (Yeh, Hsieh, Suggala, Inouye &amp; Ravikumar 2019, "On the (In)fidelity and Sensitivity of Explanations",
/// Eq. 3): INFD(φ, f, x) = E_I[(Iᵀφ − (f(x) − f(x − I)))²] with Gaussian perturbations I. It is zero when the attribution
/// predicts every perturbation's effect: for a linear model, φ = w (the gradient).
/// </summary>
public static class Infidelity
{
    /// <summary>Computes the infidelity of attributions <paramref name="attributions"/> of <paramref name="input"/>.</summary>
    /// <param name="model">Classifier <c>[batch, ...] → [batch, classes]</c>.</param>
    /// <param name="input">One input <c>[1, ...]</c>.</param>
    /// <param name="target">Explained class.</param>
    /// <param name="attributions">Attributions of the input's shape, <c>[1, ...]</c>.</param>
    /// <param name="options">Options; null = defaults.</param>
    public static double Compute(Func<Tensor, Tensor> model, Tensor input, long target, Tensor attributions, InfidelityOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var o = options ?? new InfidelityOptions();
        if (input.dim() < 1 || input.shape[0] != 1) throw new ArgumentException($"input must be one row [1, ...]; got {GradientCore.Shape(input)}.", nameof(input));
        AttributionChecks.SameShape(input, attributions, nameof(attributions));
        if (o.Samples < 1) throw new ArgumentOutOfRangeException(nameof(options), o.Samples, "Samples must be at least 1.");
        if (!(o.NoiseStd > 0)) throw new ArgumentOutOfRangeException(nameof(options), o.NoiseStd, "NoiseStd must be positive.");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var gen = new Generator((ulong)o.Seed, input.device);
        var t = tensor(new[] { target }, device: input.device);
        var fx = GradientCore.Scores(model(input), t, nameof(target)).to(float64);
        var phi = attributions.reshape(1, -1).to(float64);
        var dots = new List<Tensor>();
        var deltas = new List<Tensor>();
        for (int start = 0; start < o.Samples; start += o.BatchSize)
        {
            var n = Math.Min(o.BatchSize, o.Samples - start);
            var noise = randn(new[] { (long)n }.Concat(input.shape.Skip(1)).ToArray(), dtype: input.dtype, device: input.device, generator: gen) * o.NoiseStd;
            var f = GradientCore.Scores(model(input - noise), t.expand(n), nameof(target)).to(float64);
            dots.Add((noise.reshape(n, -1).to(float64) * phi).sum(new long[] { 1 }));
            deltas.Add(fx - f);
        }
        var dot = cat(dots, 0);
        var delta = cat(deltas, 0);
        var beta = 1.0;
        if (o.Normalize)
        {
            var denominator = (dot * dot).mean().item<double>();
            beta = denominator > 0 ? (dot * delta).mean().item<double>() / denominator : 0;
        }
        return (beta * dot - delta).pow(Scalars.IntTwo).mean().item<double>();
    }
}
