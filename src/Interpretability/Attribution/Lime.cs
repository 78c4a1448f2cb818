using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>Options of <see cref="Lime"/>.</summary>
/// <param name="FeatureMask">Segments: group ids broadcastable to one input row (e.g. <see cref="FeatureMasks.Grid"/>); null = every scalar feature.</param>
/// <param name="Baseline">Values of switched-off segments: null (zeros), a scalar, one row's shape or the input's shape.</param>
/// <param name="Samples">Sampled perturbations (Captum's default 50; more gives a steadier surrogate).</param>
/// <param name="KernelWidth">Width σ of the exponential kernel exp(−d²/σ²) on the cosine distance d to the original (Captum's default 1.0).</param>
/// <param name="Ridge">Ridge penalty λ of the surrogate (the intercept is not penalised).</param>
/// <param name="Seed">Seed of the sampling.</param>
/// <param name="PerturbationsPerEval">Perturbed inputs per forward pass.</param>
public sealed record LimeOptions(Tensor? FeatureMask = null, Tensor? Baseline = null, int Samples = 200, double KernelWidth = 1.0, double Ridge = 1e-3,
    int Seed = 0, int PerturbationsPerEval = 128) : PerturbationOptions(PerturbationsPerEval);

/// <summary>
/// LIME (Ribeiro, Singh &amp; Guestrin 2016, "Why Should I Trust You?"): switch random subsets of segments off (each on
/// with probability ½), weight each sample by the exponential kernel of its cosine distance to the original (all on), and
/// fit a ridge-regularised linear surrogate; the coefficients are the segments' attributions (spread evenly over each
/// segment's features). For a linear model the surrogate recovers its per-segment contributions.
/// </summary>
public sealed class Lime : PerturbationAttributionMethod<LimeOptions>
{
    /// <summary>Wraps a classifier <c>[batch, ...] → [batch, classes]</c>.</summary>
    public Lime(nn.Module<Tensor, Tensor> model) : base(model) { }

    /// <summary>Wraps a forward function.</summary>
    public Lime(Func<Tensor, Tensor> forward) : base(forward) { }

    /// <inheritdoc />
    public override string Name => "lime";

    /// <inheritdoc />
    public override LimeOptions DefaultOptions { get; } = new();

    /// <inheritdoc />
    protected override AttributionResult Perturb(AttributionCall call, LimeOptions o)
    {
        var (input, targets) = (call.Input, call.Targets);
        if (o.Samples < 2) throw new ArgumentOutOfRangeException("options", o.Samples, "Samples must be at least 2.");
        if (!(o.KernelWidth > 0)) throw new ArgumentOutOfRangeException("options", o.KernelWidth, "KernelWidth must be positive.");
        if (!(o.Ridge >= 0)) throw new ArgumentOutOfRangeException("options", o.Ridge, "Ridge must be non-negative.");
        var (groupOf, groups) = FeatureMasks.Resolve(input, o.FeatureMask, "FeatureMask");
        var baseline = GradientCore.Baseline(input, o.Baseline, "Baseline");
        var rng = new Random(o.Seed);
        int k = o.Samples + 1;
        var z = new double[k, groups];
        var w = new double[k];
        for (int j = 0; j < groups; j++) z[0, j] = 1;   // the original itself
        for (int i = 1; i < k; i++)
            for (int j = 0; j < groups; j++)
                z[i, j] = rng.NextDouble() < 0.5 ? 1 : 0;
        for (int i = 0; i < k; i++)
        {
            // Cosine distance between z_i and the all-ones vector: 1 − |z| / (√|z| √G).
            double on = 0;
            for (int j = 0; j < groups; j++) on += z[i, j];
            var d = on == 0 ? 1 : 1 - on / (Math.Sqrt(on) * Math.Sqrt(groups));
            w[i] = Math.Exp(-d * d / (o.KernelWidth * o.KernelWidth));
        }
        var rows = new List<Tensor>();
        call.Begin(input.shape[0] * k);
        for (long b = 0; b < input.shape[0]; b++)
        {
            var y = CoalitionRegression.Scores(Forward, call, input[b].unsqueeze(0), baseline[b].unsqueeze(0), groupOf, z, targets[b].unsqueeze(0), o.PerturbationsPerEval);
            var (_, phi) = CoalitionRegression.Fit(z, y, w, o.Ridge);
            rows.Add(CoalitionRegression.ToMap(phi, groupOf, groups, input));
        }
        return new AttributionResult(stack(rows, 0), Name, new Dictionary<string, double> { ["groups"] = groups, ["samples"] = o.Samples });
    }
}
