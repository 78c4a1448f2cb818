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

/// <summary>Options of <see cref="IntegratedGradients"/>; defaults as Captum's (<c>n_steps=50</c>, <c>method="gausslegendre"</c>,
/// zero baseline).</summary>
/// <param name="Steps">Number of points α on the straight path from the baseline to the input (≥ 1; ≥ 2 for the trapezoid).</param>
/// <param name="Rule">Quadrature rule.</param>
/// <param name="Baseline">Baseline x′: the input's shape <c>[batch, ...]</c>, one row's shape <c>[...]</c> (shared by all
/// rows) or a scalar; null = zeros (Sundararajan et al. 2017 use the black image).</param>
/// <param name="InternalBatchSize">Rows per forward+backward pass: the <c>batch × Steps</c> scaled inputs of all rows are
/// concatenated and cut into chunks of this size; null = all at once (Captum's <c>internal_batch_size=None</c>).</param>
public sealed record IntegratedGradientsOptions(int Steps = 50, IntegrationRule Rule = IntegrationRule.GaussLegendre, Tensor? Baseline = null, int? InternalBatchSize = null);

/// <summary>
/// Integrated gradients (Sundararajan, Taly &amp; Yan 2017, "Axiomatic Attribution for Deep Networks"):
/// <c>IG_i = (x_i − x′_i) ∫₀¹ ∂S(x′ + α(x − x′))/∂x_i dα</c>, by quadrature. Completeness: <c>Σ_i IG_i = S(x) − S(x′)</c>;
/// the result's metadata holds <c>convergence_delta</c> = max over rows of |Σ IG − (S(x) − S(x′))|,
/// <c>convergence_delta_relative</c> (the same divided by |S(x) − S(x′)|) and <c>score_difference</c> (of the row with the
/// largest delta).
/// </summary>
/// <example><code>
/// using var r = new IntegratedGradients(model).Attribute(image, 3, new IntegratedGradientsOptions(Steps: 64, InternalBatchSize: 32));
/// var delta = r.Metadata["convergence_delta"];
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

    /// <summary>The points α and weights of a quadrature rule on [0, 1] (weights sum to 1).</summary>
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
                var (x, wx) = GaussLegendreNodes(steps);
                for (int k = 0; k < steps; k++) { a[k] = (x[k] + 1) / 2; w[k] = wx[k] / 2; }
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(rule), rule, "Unknown integration rule.");
        }
        return (a, w);
    }

    /// <summary>Gauss–Legendre nodes and weights on [−1, 1] (Newton iteration on Pₙ, double precision), ascending.</summary>
    internal static (double[] Nodes, double[] Weights) GaussLegendreNodes(int n)
    {
        var x = new double[n];
        var w = new double[n];
        for (int i = 0; i < (n + 1) / 2; i++)
        {
            double z = Math.Cos(Math.PI * (i + 0.75) / (n + 0.5)), pp = 0;
            for (int iter = 0; iter < 100; iter++)
            {
                double p1 = 1, p2 = 0;
                for (int j = 1; j <= n; j++) { var p3 = p2; p2 = p1; p1 = ((2 * j - 1) * z * p2 - (j - 1) * p3) / j; }
                pp = n * (z * p1 - p2) / (z * z - 1);
                var dz = p1 / pp;
                z -= dz;
                if (Math.Abs(dz) < 1e-15) break;
            }
            x[i] = -z; x[n - 1 - i] = z;
            w[i] = w[n - 1 - i] = 2 / ((1 - z * z) * pp * pp);
        }
        if (n % 2 == 1) x[n / 2] = 0;
        return (x, w);
    }

    /// <inheritdoc />
    protected override AttributionResult Compute(Tensor input, Tensor targets, IntegratedGradientsOptions options, string targetParameter)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.InternalBatchSize is < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.InternalBatchSize, "InternalBatchSize must be at least 1.");
        var (alphas, weights) = Quadrature(options.Rule, options.Steps);
        var baseline = GradientCore.Baseline(input, options.Baseline, "Baseline");
        var integral = IntegrateGradients(Forward, input, baseline, targets, alphas, weights, options.InternalBatchSize, targetParameter);
        var attributions = (input - baseline) * integral;

        // Completeness check: one forward pass on the inputs and the baselines.
        Tensor sx, sb;
        using (no_grad())
        {
            sx = Scores(Forward(input), targets, targetParameter);
            sb = Scores(Forward(baseline.contiguous()), targets, targetParameter);
        }
        var dims = Enumerable.Range(1, (int)input.dim() - 1).Select(d => (long)d).ToArray();
        var total = dims.Length == 0 ? attributions : attributions.sum(dims);
        var diff = sx - sb;
        var delta = (total - diff).abs();
        var worst = delta.argmax().ToInt64();
        var d = delta[worst].ToDouble();
        var sd = diff[worst].ToDouble();
        var meta = new Dictionary<string, double>
        {
            ["convergence_delta"] = d,
            ["convergence_delta_relative"] = Math.Abs(sd) > 0 ? d / Math.Abs(sd) : d,
            ["score_difference"] = sd,
            ["steps"] = options.Steps,
        };
        return new AttributionResult(attributions, Name, meta);
    }

    /// <summary>
    /// Σ_k w_k ∂S(x′ + α_k (x − x′))/∂x for every row, with all <c>batch × steps</c> scaled inputs concatenated and run in
    /// chunks of <paramref name="chunk"/> rows (null = one chunk). Returns <c>[batch, ...]</c>.
    /// </summary>
    internal static Tensor IntegrateGradients(Func<Tensor, Tensor> forward, Tensor input, Tensor baseline, Tensor targets,
        double[] alphas, double[] weights, int? chunk, string targetParameter)
    {
        long batch = input.shape[0], steps = alphas.Length, rows = batch * steps;
        long size = chunk ?? rows;
        var device = input.device;
        var alphaT = tensor(alphas, dtype: float64, device: device).to(input.dtype);
        var weightT = tensor(weights, dtype: float64, device: device).to(input.dtype);
        var sum = zeros_like(input);
        var rowShape = input.shape.Skip(1).ToArray();
        var bcast = new[] { -1L }.Concat(rowShape.Select(_ => 1L)).ToArray();
        var delta = input - baseline;
        for (long start = 0; start < rows; start += size)
        {
            using var scope = NewDisposeScope();
            var n = Math.Min(size, rows - start);
            var r = arange(start, start + n, dtype: int64, device: device);
            var which = r.div(steps, rounding_mode: RoundingMode.floor);   // input row of each scaled input
            var k = r.remainder(steps);                                     // step of each scaled input
            var a = alphaT.index_select(0, k).reshape(bcast);
            var scaled = baseline.index_select(0, which) + a * delta.index_select(0, which);
            var (g, _) = GradientCore.InputGradient(forward, scaled, targets.index_select(0, which), targetParameter);
            sum.index_add_(0, which, g * weightT.index_select(0, k).reshape(bcast), 1);
        }
        return sum;
    }
}
