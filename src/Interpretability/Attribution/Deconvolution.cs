using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>
/// Deconvolution (Zeiler &amp; Fergus 2014, "Visualizing and Understanding Convolutional Networks"): the gradient of the
/// target score where every ReLU passes back the positive part of the incoming gradient regardless of its input,
/// <c>∂ₓ = max(∂_y, 0)</c>. Same hook mechanism as <see cref="GuidedBackprop"/>.
/// </summary>
public sealed class Deconvolution : AttributionMethod<ReluRuleOptions>
{
    /// <summary>Wraps a classifier <c>[batch, ...] → [batch, classes]</c> whose ReLUs are <c>ReLU</c> modules.</summary>
    public Deconvolution(nn.Module<Tensor, Tensor> model) : base(model) { }

    /// <inheritdoc />
    public override string Name => "deconvolution";

    /// <inheritdoc />
    public override ReluRuleOptions DefaultOptions { get; } = new();

    /// <inheritdoc />
    protected override AttributionResult Compute(AttributionCall call, ReluRuleOptions options) =>
        new(ReluRules.Gradient(Module, call, guided: false), Name);
}
