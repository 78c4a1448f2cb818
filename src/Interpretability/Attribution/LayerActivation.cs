using Interpretability.Probing;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>
/// The output of a named layer (Captum's <c>LayerActivation</c>): the simplest layer "attribution", independent of any
/// target. Result: <c>[batch, ...layer shape]</c>, detached, method name <c>layer_activation</c>.
/// </summary>
public sealed class LayerActivation
{
    private readonly nn.Module<Tensor, Tensor> model;

    /// <summary>The activation of <paramref name="layer"/> (a <c>named_modules()</c> path) of <paramref name="model"/>.</summary>
    /// <exception cref="ArgumentException">No such layer (the message lists those that exist).</exception>
    public LayerActivation(nn.Module<Tensor, Tensor> model, string layer)
    {
        ArgumentNullException.ThrowIfNull(model);
        LayerCheck.Find(model, layer, nameof(layer));
        this.model = model;
        Layer = layer;
    }

    /// <summary>The layer's path.</summary>
    public string Layer { get; }

    /// <summary>Runs the model on <paramref name="input"/> and returns the layer's output.</summary>
    /// <param name="input">The model's input, <c>[batch, ...]</c>.</param>
    /// <returns>The layer's output <c>[batch, ...layer shape]</c>, detached, as the result's attributions.</returns>
    public AttributionResult Attribute(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var capture = ActivationRecorder.Capture(model, input, new[] { Layer });
        return new AttributionResult(capture[Layer].clone(), "layer_activation");
    }
}
