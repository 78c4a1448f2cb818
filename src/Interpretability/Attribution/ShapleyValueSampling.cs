using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>Options of <see cref="ShapleyValueSampling"/>.</summary>
/// <param name="FeatureMask">Group ids broadcastable to one input row (players of the game); null = every scalar feature.</param>
/// <param name="Baseline">Values of absent features: null (zeros), a scalar, one row's shape or the input's shape.</param>
/// <param name="Permutations">Random orderings averaged (Captum's default 25).</param>
/// <param name="Seed">Seed of the orderings.</param>
/// <param name="PerturbationsPerEval">Perturbed inputs per forward pass.</param>
public sealed record ShapleyValueSamplingOptions(Tensor? FeatureMask = null, Tensor? Baseline = null, int Permutations = 25, int Seed = 0, int PerturbationsPerEval = 128)
    : PerturbationOptions(PerturbationsPerEval);

/// <summary>
/// Shapley value sampling (Castro, Gómez &amp; Tejada 2009; Štrumbelj &amp; Kononenko 2010): for random orderings of the
/// feature groups, add the groups one by one to the baseline and credit each with its marginal change of the score;
/// average over orderings. Every ordering's credits sum exactly to S(x) − S(baseline) (efficiency). A group's value is
/// spread evenly over its features, so the whole map sums to S(x) − S(baseline) (Captum gives every feature of a group the
/// group's whole value instead).
/// </summary>
public sealed class ShapleyValueSampling : PerturbationAttributionMethod<ShapleyValueSamplingOptions>
{
    /// <summary>Wraps a classifier <c>[batch, ...] → [batch, classes]</c>.</summary>
    public ShapleyValueSampling(nn.Module<Tensor, Tensor> model) : base(model) { }

    /// <summary>Wraps a forward function.</summary>
    public ShapleyValueSampling(Func<Tensor, Tensor> forward) : base(forward) { }

    /// <inheritdoc />
    public override string Name => "shapley_value_sampling";

    /// <inheritdoc />
    public override ShapleyValueSamplingOptions DefaultOptions { get; } = new();

    /// <inheritdoc />
    protected override AttributionResult Perturb(AttributionCall call, ShapleyValueSamplingOptions o)
    {
        var (input, targets) = (call.Input, call.Targets);
        if (o.Permutations < 1) throw new ArgumentOutOfRangeException("options", o.Permutations, "Permutations must be at least 1.");
        var (groupOf, groups) = FeatureMasks.Resolve(input, o.FeatureMask, "FeatureMask");
        var baseline = GradientCore.Baseline(input, o.Baseline, "Baseline");
        var rng = new Random(o.Seed);
        // Coalitions of every ordering: row j of ordering p holds the first j groups of p (j = 0 … G).
        var orders = new int[o.Permutations][];
        var z = new float[o.Permutations * (groups + 1) * groups];
        for (int p = 0; p < o.Permutations; p++)
        {
            orders[p] = Enumerable.Range(0, groups).ToArray();
            rng.Shuffle(orders[p]);
            for (int j = 1; j <= groups; j++)
            for (int i = 0; i < j; i++)
                z[(p * (groups + 1) + j) * groups + orders[p][i]] = 1;
        }
        var coalitions = tensor(z, new long[] { o.Permutations * (groups + 1), groups });
        var rows = new List<Tensor>();
        call.Begin(input.shape[0] * coalitions.shape[0]);
        for (long b = 0; b < input.shape[0]; b++)
        {
            var s = FeatureMasks.CoalitionScores(Forward, call, input[b].unsqueeze(0), baseline[b].unsqueeze(0), groupOf, coalitions, targets[b].unsqueeze(0), o.PerturbationsPerEval)
                .data<double>().ToArray();
            var phi = new double[groups];
            for (int p = 0; p < o.Permutations; p++)
            for (int j = 1; j <= groups; j++)
                phi[orders[p][j - 1]] += s[p * (groups + 1) + j] - s[p * (groups + 1) + j - 1];
            var values = tensor(phi.Select(v => v / o.Permutations).ToArray()).to(input.dtype, input.device);
            rows.Add(values.index_select(0, groupOf).reshape(input.shape.Skip(1).ToArray()) / GroupSizes(groupOf, groups, input));
        }
        return new AttributionResult(stack(rows, 0), Name, new Dictionary<string, double> { ["groups"] = groups, ["permutations"] = o.Permutations });
    }

    /// <summary>
    /// Each feature's share of its group: a group's Shapley value is spread evenly over its features, so summing the
    /// attributions over the input gives the groups' values (and efficiency holds for the whole map).
    /// </summary>
    internal static Tensor GroupSizes(Tensor groupOf, int groups, Tensor input)
    {
        var counts = bincount(groupOf, minlength: groups).to(input.dtype);
        return counts.index_select(0, groupOf).reshape(input.shape.Skip(1).ToArray());
    }
}
