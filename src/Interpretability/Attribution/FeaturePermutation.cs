using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>Options of <see cref="FeaturePermutation"/>.</summary>
/// <param name="FeatureMask">Group ids broadcastable to one input row; null = every scalar feature alone.</param>
/// <param name="Seed">Seed of the permutation.</param>
/// <param name="PerturbationsPerEval">Permuted rows per forward pass.</param>
public sealed record FeaturePermutationOptions(Tensor? FeatureMask = null, int Seed = 0, int PerturbationsPerEval = 256) : PerturbationOptions(PerturbationsPerEval);

/// <summary>
/// Permutation feature importance (Breiman 2001; Captum's <c>FeaturePermutation</c>): each group of features is shuffled
/// across the rows of the batch (one seeded permutation); each row's effect S(x) − S(x with the group permuted) is spread
/// evenly over the group's features. Needs a batch of at least two rows.
/// </summary>
public sealed class FeaturePermutation : PerturbationAttributionMethod<FeaturePermutationOptions>
{
    /// <summary>Wraps a classifier <c>[batch, ...] → [batch, classes]</c>.</summary>
    public FeaturePermutation(nn.Module<Tensor, Tensor> model) : base(model) { }

    /// <summary>Wraps a forward function.</summary>
    public FeaturePermutation(Func<Tensor, Tensor> forward) : base(forward) { }

    /// <inheritdoc />
    public override string Name => "feature_permutation";

    /// <inheritdoc />
    public override FeaturePermutationOptions DefaultOptions { get; } = new();

    /// <inheritdoc />
    protected override AttributionResult Perturb(AttributionCall call, FeaturePermutationOptions o)
    {
        var (input, targets, targetParameter) = (call.Input, call.Targets, call.TargetParameter);
        var n = input.shape[0];
        if (n < 2) throw new ArgumentException($"input must hold at least two rows to permute features across; got {GradientCore.Shape(input)}.", nameof(input));
        var (groupOf, groups) = FeatureMasks.Resolve(input, o.FeatureMask, "FeatureMask");
        // A derangement-free seeded shuffle; rows that map to themselves contribute 0, as in Captum.
        var order = Enumerable.Range(0, (int)n).ToArray();
        new Random(o.Seed).Shuffle(order);
        using var noGrad = no_grad();
        var flat = input.reshape(n, -1);
        var permuted = flat.index_select(0, tensor(order.Select(i => (long)i).ToArray(), device: input.device));
        call.Begin(n * (groups + 1));
        var full = GradientCore.Scores(GradientCore.Run(Forward, input, call), targets, targetParameter);   // [N]
        call.Advance(n);
        var attributions = zeros_like(flat);
        for (int g = 0; g < groups; g++)
        {
            using var gScalar = g.ToScalar();
            var inGroup = (groupOf == gScalar).to(input.dtype).unsqueeze(0);                 // [1, D]
            var mixed = (flat + inGroup * (permuted - flat)).reshape(input.shape);
            var scores = new List<Tensor>();
            for (long start = 0; start < n; start += o.PerturbationsPerEval)
            {
                var len = Math.Min(o.PerturbationsPerEval, n - start);
                scores.Add(GradientCore.Scores(GradientCore.Run(Forward, mixed.narrow(0, start, len), call), targets.narrow(0, start, len), targetParameter));
                call.Advance(len);
            }
            var effect = full - cat(scores, 0);                                              // [N]
            attributions += effect.unsqueeze(1) * inGroup / inGroup.sum();
        }
        return new AttributionResult(attributions.reshape(input.shape), Name, new Dictionary<string, double> { ["groups"] = groups });
    }
}
