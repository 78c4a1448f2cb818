using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>How <see cref="IntegratedGradients"/> approximates the path integral over α ∈ [0, 1].</summary>
public enum IntegrationRule
{
    /// <summary>Left Riemann sum: α = k/n, k = 0..n−1, weights 1/n.</summary>
    RiemannLeft,
    /// <summary>Right Riemann sum: α = (k+1)/n, weights 1/n.</summary>
    RiemannRight,
    /// <summary>Midpoint Riemann sum: α = (k+½)/n, weights 1/n.</summary>
    RiemannMiddle,
    /// <summary>Trapezoid rule on α = k/(n−1), k = 0..n−1 (end weights halved).</summary>
    RiemannTrapezoid,
    /// <summary>Gauss–Legendre quadrature with n nodes mapped to [0, 1] (Captum's default).</summary>
    GaussLegendre,
}

/// <summary>Options of <see cref="IntegratedGradients"/> and <see cref="LayerIntegratedGradients"/>; defaults as Captum's
/// (<c>n_steps=50</c>, <c>method="gausslegendre"</c>, zero baseline, <c>return_convergence_delta=False</c>).</summary>
/// <param name="Steps">Number of points α on the straight path from the baseline to the input (≥ 1; ≥ 2 for the trapezoid).</param>
/// <param name="Rule">Quadrature rule.</param>
/// <param name="Baseline">Baseline x′: the input's shape <c>[batch, ...]</c>, one row's shape <c>[...]</c> (shared by all
/// rows) or a scalar; null = zeros (Sundararajan et al. 2017 use the black image).</param>
/// <param name="InternalBatchSize">Rows per forward+backward pass: the <c>batch × Steps</c> scaled inputs of all rows are
/// concatenated and cut into chunks of this size; null = all at once (Captum's <c>internal_batch_size=None</c>).</param>
/// <param name="ReturnConvergenceDelta">Also compute the completeness error per example (two more forward passes for
/// <see cref="IntegratedGradients"/>, none for the layer method): <see cref="AttributionResult.ConvergenceDelta"/>
/// <c>[batch]</c> = Σ IG − (S(x) − S(x′)), signed as Captum's; and in the metadata <c>convergence_delta</c> (the largest
/// |delta|), <c>convergence_delta_relative</c> (the same divided by that example's |S(x) − S(x′)|) and
/// <c>score_difference</c>.</param>
public sealed record IntegratedGradientsOptions(int Steps = 50, IntegrationRule Rule = IntegrationRule.GaussLegendre, Tensor? Baseline = null,
    int? InternalBatchSize = null, bool ReturnConvergenceDelta = false);

/// <summary>
/// Integrated gradients (Sundararajan, Taly &amp; Yan 2017, "Axiomatic Attribution for Deep Networks", arXiv:1703.01365,
/// eq. 1): <c>IG_i = (x_i − x′_i) ∫₀¹ ∂S(x′ + α(x − x′))/∂x_i dα</c>, by quadrature. Completeness (their Proposition 1):
/// <c>Σ_i IG_i = S(x) − S(x′)</c>; ask for the error with <see cref="IntegratedGradientsOptions.ReturnConvergenceDelta"/>.
/// </summary>
/// <example><code>
/// using var r = new IntegratedGradients(model).Attribute(image, 3, new IntegratedGradientsOptions(Steps: 64, InternalBatchSize: 32, ReturnConvergenceDelta: true));
/// var delta = r.ConvergenceDelta;   // [batch]
/// </code></example>
public sealed class IntegratedGradients : AttributionMethod<IntegratedGradientsOptions>
{
    /// <summary>Wraps a classifier <c>[batch, ...] → [batch, classes]</c>.</summary>
    public IntegratedGradients(nn.Module<Tensor, Tensor> model) : base(model) { }

    /// <summary>Wraps a forward function <c>[batch, ...] → [batch, classes]</c>.</summary>
    public IntegratedGradients(Func<Tensor, Tensor> forward) : base(forward) { }

    /// <inheritdoc />
    public override string Name => "integrated_gradients";

    /// <inheritdoc />
    public override IntegratedGradientsOptions DefaultOptions { get; } = new();

    /// <summary>The points α (ascending) and weights of a quadrature rule on [0, 1] (weights sum to 1).</summary>
    /// <param name="rule">The rule.</param>
    /// <param name="steps">Number of points.</param>
    public static (double[] Alphas, double[] Weights) Quadrature(IntegrationRule rule, int steps)
    {
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "steps must be at least 1.");
        if (rule == IntegrationRule.RiemannTrapezoid && steps < 2) throw new ArgumentOutOfRangeException(nameof(steps), steps, "The trapezoid rule needs at least 2 steps.");
        var a = new double[steps];
        var w = new double[steps];
        switch (rule)
        {
            case IntegrationRule.RiemannLeft:
            case IntegrationRule.RiemannRight:
            case IntegrationRule.RiemannMiddle:
                var shift = rule switch { IntegrationRule.RiemannLeft => 0.0, IntegrationRule.RiemannRight => 1.0, _ => 0.5 };
                for (int k = 0; k < steps; k++) { a[k] = (k + shift) / steps; w[k] = 1.0 / steps; }
                break;
            case IntegrationRule.RiemannTrapezoid:
                for (int k = 0; k < steps; k++) { a[k] = (double)k / (steps - 1); w[k] = 1.0 / (steps - 1); }
                w[0] /= 2; w[^1] /= 2;
                break;
            case IntegrationRule.GaussLegendre:
                var gl = new MathNet.Numerics.Integration.GaussLegendreRule(0, 1, steps);
                var order = Enumerable.Range(0, steps).OrderBy(k => gl.Abscissas[k]).ToArray();
                for (int k = 0; k < steps; k++) { a[k] = gl.Abscissas[order[k]]; w[k] = gl.Weights[order[k]]; }
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(rule), rule, "Unknown integration rule.");
        }
        return (a, w);
    }

    /// <inheritdoc />
    protected override AttributionResult Compute(AttributionCall call, IntegratedGradientsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var input = call.Input;
        var baseline = GradientCore.Baseline(input, options.Baseline, "Baseline").contiguous();
        var integral = Integrate(call, baseline, input, options,
            (scaled, which) => Scores(GradientCore.Run(Forward, scaled, call), call.Targets.index_select(0, which), call.TargetParameter));
        var attributions = (input - baseline) * integral;
        if (!options.ReturnConvergenceDelta) return new AttributionResult(attributions, Name, new Dictionary<string, double> { ["steps"] = options.Steps });
        Tensor sx, sb;
        using (no_grad())
        {
            sx = Scores(GradientCore.Run(Forward, input, call), call.Targets, call.TargetParameter);
            sb = Scores(GradientCore.Run(Forward, baseline, call), call.Targets, call.TargetParameter);
        }
        return WithConvergenceDelta(attributions, Name, sx, sb, options.Steps);
    }

    /// <summary>
    /// Σ_k w_k ∂S(start + α_k (end − start))/∂(scaled) for every row: all <c>batch × steps</c> scaled points are
    /// concatenated and run in chunks of <see cref="IntegratedGradientsOptions.InternalBatchSize"/> rows. The points may
    /// be model inputs (integrated gradients) or a layer's output injected by a hook (layer integrated gradients):
    /// <paramref name="scores"/> maps (scaled points <c>[n, ...]</c>, the row each belongs to <c>[n]</c>) to their target
    /// scores <c>[n]</c>. Returns <c>[batch, ...]</c>, the shape of <paramref name="end"/>.
    /// </summary>
    internal static Tensor Integrate(AttributionCall call, Tensor start, Tensor end, IntegratedGradientsOptions options, Func<Tensor, Tensor, Tensor> scores)
    {
        if (options.InternalBatchSize is < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.InternalBatchSize, $"InternalBatchSize must be at least 1; got {options.InternalBatchSize}.");
        var (alphas, weights) = Quadrature(options.Rule, options.Steps);
        long batch = end.shape[0], steps = alphas.Length, rows = batch * steps;
        long size = options.InternalBatchSize ?? rows;
        var device = end.device;
        var alphaT = tensor(alphas, dtype: float64, device: device).to(end.dtype);
        var weightT = tensor(weights, dtype: float64, device: device).to(end.dtype);
        var sum = zeros_like(end);
        var bcast = new[] { -1L }.Concat(end.shape.Skip(1).Select(_ => 1L)).ToArray();
        var delta = end - start;
        call.Begin((rows + size - 1) / size);
        using var stepsScalar = steps.ToScalar();
        for (long first = 0; first < rows; first += size)
        {
            using (var scope = NewDisposeScope())
            {
                var n = Math.Min(size, rows - first);
                using Scalar from = first.ToScalar(), to = (first + n).ToScalar();
                var r = arange(from, to, Scalars.IntOne, dtype: int64, device: device);
                var which = r.div(stepsScalar, rounding_mode: RoundingMode.floor);   // the row of each scaled point
                var k = r.remainder(stepsScalar);                                     // its step
                var a = alphaT.index_select(0, k).reshape(bcast);
                using var grad = enable_grad();
                var scaled = (start.index_select(0, which) + a * delta.index_select(0, which)).detach().requires_grad_(true);
                var s = scores(scaled, which);
                var g = autograd.grad(new[] { s.sum() }, new[] { scaled }, allow_unused: true)[0];
                if (g is null || g.IsInvalid) g = zeros_like(scaled);
                sum.index_add_(0, which, g.detach() * weightT.index_select(0, k).reshape(bcast), Scalars.IntOne);
            }
            call.Advance();
        }
        return sum;
    }

    /// <summary>A result with the per-example completeness error Σ attributions − (S(x) − S(x′)) (signed) and its metadata.</summary>
    internal static AttributionResult WithConvergenceDelta(Tensor attributions, string method, Tensor scoreAtInput, Tensor scoreAtBaseline, int steps)
    {
        var difference = (scoreAtInput - scoreAtBaseline).to(float64);
        var delta = GradientCore.SumPerRow(attributions).to(float64) - difference;
        var worst = delta.abs().argmax().ToInt64();
        var d = Math.Abs(delta[worst].ToDouble());
        var sd = difference[worst].ToDouble();
        return new AttributionResult(attributions, method, new Dictionary<string, double>
        {
            ["convergence_delta"] = d,
            ["convergence_delta_relative"] = Math.Abs(sd) > 0 ? d / Math.Abs(sd) : d,
            ["score_difference"] = sd,
            ["steps"] = steps,
        }, delta);
    }
}
