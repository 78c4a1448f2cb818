using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>Options of <see cref="KernelShap"/>.</summary>
/// <param name="FeatureMask">Group ids broadcastable to one input row (the players); null = every scalar feature.</param>
/// <param name="Baseline">Values of absent features: null (zeros), a scalar, one row's shape or the input's shape.</param>
/// <param name="Samples">Sampled coalitions (besides the empty and the full one).</param>
/// <param name="Seed">Seed of the sampling.</param>
/// <param name="PerturbationsPerEval">Perturbed inputs per forward pass.</param>
public sealed record KernelShapOptions(Tensor? FeatureMask = null, Tensor? Baseline = null, int Samples = 200, int Seed = 0, int PerturbationsPerEval = 128)
    : PerturbationOptions(PerturbationsPerEval);

/// <summary>
/// KernelSHAP (Lundberg &amp; Lee 2017, "A Unified Approach to Interpreting Model Predictions", Theorem 2): Shapley values
/// as the weighted least-squares fit of the scores of sampled coalitions, with the Shapley kernel
/// π(z) = (G − 1) / (C(G, |z|) |z| (G − |z|)). Coalition sizes are sampled in proportion to the kernel's mass per size
/// (so every sample then has weight 1, as in the SHAP package); the empty and the full coalition enter with a large
/// weight, which enforces φ₀ = S(baseline) and Σ φ = S(x) − S(baseline). A linear model's coefficients are recovered exactly.
/// </summary>
public sealed class KernelShap : PerturbationAttributionMethod<KernelShapOptions>
{
    /// <summary>Wraps a classifier <c>[batch, ...] → [batch, classes]</c>.</summary>
    public KernelShap(nn.Module<Tensor, Tensor> model) : base(model) { }

    /// <summary>Wraps a forward function.</summary>
    public KernelShap(Func<Tensor, Tensor> forward) : base(forward) { }

    /// <inheritdoc />
    public override string Name => "kernel_shap";

    /// <inheritdoc />
    public override KernelShapOptions DefaultOptions { get; } = new();

    /// <inheritdoc />
    protected override AttributionResult Perturb(AttributionCall call, KernelShapOptions o)
    {
        var (input, targets) = (call.Input, call.Targets);
        if (o.Samples < 1) throw new ArgumentOutOfRangeException("options", o.Samples, "Samples must be at least 1.");
        var (groupOf, groups) = FeatureMasks.Resolve(input, o.FeatureMask, "FeatureMask");
        if (groups < 2) throw new ArgumentException("KernelSHAP needs at least two feature groups.", "options");
        var baseline = GradientCore.Baseline(input, o.Baseline, "Baseline");
        var rng = new Random(o.Seed);
        // Kernel mass per coalition size s = 1 … G−1 is ∝ (G − 1) / (s (G − s)).
        var mass = Enumerable.Range(1, groups - 1).Select(s => (groups - 1.0) / (s * (double)(groups - s))).ToArray();
        var total = mass.Sum();
        int k = o.Samples + 2;
        var z = new double[k, groups];
        var w = new double[k];
        for (int j = 0; j < groups; j++) z[1, j] = 1;         // row 0 empty, row 1 full
        w[0] = w[1] = 1e6;
        var members = Enumerable.Range(0, groups).ToArray();
        for (int i = 2; i < k; i++)
        {
            var u = rng.NextDouble() * total;
            int size = 1;
            for (double acc = mass[0]; acc < u && size < groups - 1; acc += mass[size], size++) { }
            rng.Shuffle(members);
            for (int j = 0; j < size; j++) z[i, members[j]] = 1;
            w[i] = 1;
        }
        var rows = new List<Tensor>();
        call.Begin(input.shape[0] * k);
        for (long b = 0; b < input.shape[0]; b++)
        {
            var y = CoalitionRegression.Scores(Forward, call, input[b].unsqueeze(0), baseline[b].unsqueeze(0), groupOf, z, targets[b].unsqueeze(0), o.PerturbationsPerEval);
            var (_, phi) = CoalitionRegression.Fit(z, y, w, 1e-9);
            rows.Add(CoalitionRegression.ToMap(phi, groupOf, groups, input));
        }
        return new AttributionResult(stack(rows, 0), Name, new Dictionary<string, double> { ["groups"] = groups, ["samples"] = o.Samples });
    }
}
