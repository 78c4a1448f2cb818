using Interpretability.Probing;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>Options of <see cref="GuidedBackprop"/> and <see cref="Deconvolution"/> (they have none).</summary>
public sealed record ReluRuleOptions;

/// <summary>
/// Guided backpropagation (Springenberg et al. 2015, "Striving for Simplicity"): the gradient of the target score where
/// every ReLU passes back only positive gradients at positive inputs, <c>∂ₓ = [x &gt; 0] · max(∂_y, 0)</c>. Implemented with
/// forward hooks on the model's <c>ReLU</c> modules that swap their output for a custom autograd function with that
/// backward rule; the user's model is not changed (hooks removed afterwards). ReLUs must be modules.
/// </summary>
public sealed class GuidedBackprop : AttributionMethod<ReluRuleOptions>
{
    /// <summary>Wraps a classifier <c>[batch, ...] → [batch, classes]</c> whose ReLUs are <c>ReLU</c> modules.</summary>
    public GuidedBackprop(nn.Module<Tensor, Tensor> model) : base(model) { }

    /// <inheritdoc />
    public override string Name => "guided_backprop";

    /// <inheritdoc />
    public override ReluRuleOptions DefaultOptions { get; } = new();

    /// <inheritdoc />
    protected override AttributionResult Compute(AttributionCall call, ReluRuleOptions options) =>
        new(ReluRules.Gradient(Module, call, guided: true), Name);
}

/// <summary>The modified ReLU backward passes of guided backprop and deconvolution.</summary>
internal static class ReluRules
{
    internal static Tensor Gradient(nn.Module<Tensor, Tensor> model, AttributionCall call, bool guided)
    {
        var relus = model.named_modules().Where(t => t.Item2 is ReLU).Select(t => t.Item1).ToList();
        if (relus.Count == 0)
            throw new ArgumentException($"The model has no ReLU modules to modify (layers: {string.Join(", ", LayerPath.All(model))}); guided backprop and deconvolution need ReLU modules, not F.relu calls.", "model");
        NonlinearityAudit.Check(model, call.Input, null, call.Method, outputNonlinearityIsFine: true);
        using var hooks = new HookScope(model);
        foreach (var path in relus)
            hooks.AddForwardHook(path, (inp, _) => guided ? GuidedRelu.apply(inp) : DeconvRelu.apply(inp));
        var (g, _) = GradientCore.InputGradient(model.call, call.Input, call.Targets, call);
        return g;
    }

    private sealed class GuidedRelu : autograd.SingleTensorFunction<GuidedRelu>
    {
        public override string Name => "GuidedReLU";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var x = (Tensor)vars[0];
            ctx.save_for_backward(new() { x });
            return x.relu();
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            var x = ctx.get_saved_variables()[0];
            return new() { gradOutput.relu() * x.gt(Scalars.Zero).to(gradOutput.dtype) };
        }
    }

    private sealed class DeconvRelu : autograd.SingleTensorFunction<DeconvRelu>
    {
        public override string Name => "DeconvReLU";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars) => ((Tensor)vars[0]).relu();

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput) => new() { gradOutput.relu() };
    }
}
