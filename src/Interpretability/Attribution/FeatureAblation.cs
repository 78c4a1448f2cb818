using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>Options of <see cref="FeatureAblation"/>.</summary>
/// <param name="FeatureMask">Group ids broadcastable to one input row (e.g. <see cref="FeatureMasks.Grid"/>); null = every scalar feature alone.</param>
/// <param name="Baseline">Replacement values: null (zeros), a scalar, one row's shape or the input's shape.</param>
/// <param name="PerturbationsPerEval">Ablated inputs per forward pass.</param>
public sealed record FeatureAblationOptions(Tensor? FeatureMask = null, Tensor? Baseline = null, int PerturbationsPerEval = 64)
    : PerturbationOptions(PerturbationsPerEval);

/// <summary>
/// Feature ablation (after Captum's <c>FeatureAblation</c>): each group of features in turn is replaced by the baseline; the
/// group's effect S(x) − S(x with the group ablated) is spread evenly over its features, so the attributions summed over
/// a group give its effect (for a linear model with a zero baseline: w·x summed over the group). Captum gives every
/// feature of a group the group's whole effect instead; multiply by the group's size to get Captum's map.
/// </summary>
public sealed class FeatureAblation : PerturbationAttributionMethod<FeatureAblationOptions>
{
    /// <summary>Wraps a classifier <c>[batch, ...] → [batch, classes]</c>.</summary>
    public FeatureAblation(nn.Module<Tensor, Tensor> model) : base(model) { }

    /// <summary>Wraps a forward function.</summary>
    public FeatureAblation(Func<Tensor, Tensor> forward) : base(forward) { }

    /// <inheritdoc />
    public override string Name => "feature_ablation";

    /// <inheritdoc />
    public override FeatureAblationOptions DefaultOptions { get; } = new();

    /// <inheritdoc />
    protected override AttributionResult Perturb(AttributionCall call, FeatureAblationOptions o)
    {
        var (input, targets) = (call.Input, call.Targets);
        var (groupOf, groups) = FeatureMasks.Resolve(input, o.FeatureMask, "FeatureMask");
        var baseline = GradientCore.Baseline(input, o.Baseline, "Baseline");
        // Coalition 0 keeps everything; coalition g + 1 drops group g.
        var z = cat(new[] { ones(1, groups), ones(groups, groups) - eye(groups) }, 0);
        var rows = new List<Tensor>();
        call.Begin(input.shape[0] * z.shape[0]);
        for (long b = 0; b < input.shape[0]; b++)
        {
            var s = FeatureMasks.CoalitionScores(Forward, call, input[b].unsqueeze(0), baseline[b].unsqueeze(0), groupOf, z, targets[b].unsqueeze(0), o.PerturbationsPerEval);
            var effect = (s[0] - s.narrow(0, 1, groups)).to(input.dtype, input.device);   // [G]
            rows.Add(effect.index_select(0, groupOf).reshape(input.shape.Skip(1).ToArray()) / ShapleyValueSampling.GroupSizes(groupOf, groups, input));
        }
        return new AttributionResult(stack(rows, 0), Name, new Dictionary<string, double> { ["groups"] = groups });
    }
}
