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
public sealed class LayerGradientXActivation : AttributionMethod<LayerGradientXActivationOptions>
{
    private readonly nn.Module<Tensor, Tensor> model;

    /// <summary>Attribution to the output of <paramref name="layer"/>.</summary>
    /// <exception cref="ArgumentException">No such layer.</exception>
    public LayerGradientXActivation(nn.Module<Tensor, Tensor> model, string layer) : base(model)
    {
        LayerCheck.Find(model, layer, nameof(layer));
        this.model = model;
        Layer = layer;
    }

    /// <summary>The layer's path.</summary>
    public string Layer { get; }

    /// <inheritdoc />
    public override string Name => "layer_gradient_x_activation";

    /// <inheritdoc />
    public override LayerGradientXActivationOptions DefaultOptions { get; } = new();

    /// <inheritdoc />
    protected override AttributionResult Compute(Tensor input, Tensor targets, LayerGradientXActivationOptions options, string targetParameter)
    {
        using var lg = LayerGradient.Compute(model, input, Layer, y => Scores(y, targets, targetParameter).sum());
        return new AttributionResult(options.MultiplyByActivation ? lg.Activation * lg.Gradient : lg.Gradient.clone(), Name);
    }
}
