using Interpretability.Probing;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>Options of <see cref="LayerGradientXActivation"/>.</summary>
/// <param name="MultiplyByActivation">Multiply the gradient by the activation (Captum's <c>multiply_by_inputs=True</c>);
/// false returns the layer gradient alone.</param>
public sealed record LayerGradientXActivationOptions(bool MultiplyByActivation = true);

/// <summary>
/// Layer gradient × activation (Captum's <c>LayerGradientXActivation</c>; Shrikumar et al. 2016 at a hidden layer):
/// <c>A ⊙ ∂S/∂A</c> for the output A of a named layer. Result: the layer's shape <c>[batch, ...]</c>.
/// </summary>
public sealed class LayerGradientXActivation : LayerAttributionMethod<LayerGradientXActivationOptions>
{
    /// <summary>Attribution to the output of <paramref name="layer"/>.</summary>
    /// <exception cref="ArgumentException">No such layer (the message lists those that exist).</exception>
    public LayerGradientXActivation(nn.Module<Tensor, Tensor> model, string layer) : base(model, layer) { }

    /// <inheritdoc />
    public override string Name => "layer_gradient_x_activation";

    /// <inheritdoc />
    public override LayerGradientXActivationOptions DefaultOptions { get; } = new();

    /// <inheritdoc />
    protected override AttributionResult Compute(AttributionCall call, LayerGradientXActivationOptions options)
    {
        using var lg = LayerGradient.Compute(Module, call.Input, Layer, y => Scores(y, call.Targets, call.TargetParameter).sum());
        return new AttributionResult(options.MultiplyByActivation ? lg.Activation * lg.Gradient : lg.Gradient.clone(), Name);
    }
}
