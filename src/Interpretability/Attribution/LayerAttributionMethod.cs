using Interpretability.Probing;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>
/// Base of the methods that attribute to (or through) a named hidden layer (Captum's <c>LayerAttribution</c>): the layer
/// is looked up once, by its <c>named_modules()</c> path, with an error that lists the layers that exist, and the
/// subclass reaches the model through <see cref="AttributionMethod{TOptions}.Model"/> (no copy of its own).
/// </summary>
/// <typeparam name="TOptions">The method's options record.</typeparam>
public abstract class LayerAttributionMethod<TOptions> : AttributionMethod<TOptions> where TOptions : class
{
    /// <summary>A method at <paramref name="layer"/> of <paramref name="model"/>.</summary>
    /// <param name="model">A classifier <c>[batch, ...] → [batch, classes]</c>.</param>
    /// <param name="layer">A <c>named_modules()</c> path, e.g. <c>conv4</c> or <c>features.3</c>.</param>
    /// <exception cref="ArgumentException">No such layer (the message lists those that exist), or it cannot be hooked.</exception>
    protected LayerAttributionMethod(nn.Module<Tensor, Tensor> model, string layer) : base(model)
    {
        LayerModule = LayerCheck.Find(model, layer, nameof(layer));
        Layer = layer;
    }

    /// <summary>The layer's path.</summary>
    public string Layer { get; }

    /// <summary>The layer's module.</summary>
    protected nn.Module<Tensor, Tensor> LayerModule { get; }

    /// <summary>
    /// Runs the model on <paramref name="input"/> with the layer's output replaced by <paramref name="replacement"/> (same
    /// shape) and returns the model's output; the hook is removed afterwards, even if the forward throws.
    /// </summary>
    /// <param name="input">The model's input, <c>[n, ...]</c>.</param>
    /// <param name="replacement">The layer's output to inject, <c>[n, ...layer shape]</c>; gradients flow into it.</param>
    /// <param name="call">The call (names the input in errors).</param>
    /// <returns>The model's output, <c>[n, classes]</c>.</returns>
    protected Tensor ForwardWithLayerOutput(Tensor input, Tensor replacement, AttributionCall call)
    {
        using var hooks = new HookScope(Module);
        var ran = false;
        hooks.AddForwardHook(Layer, (_, output) =>
        {
            // A module called several times per forward pass (one ReLU reused after every convolution) has no single output.
            if (ran) throw new ArgumentException($"Layer '{Layer}' runs more than once in a forward pass, so it has no single output to attribute to; give each use its own module.", "layer");
            if (!output.shape.SequenceEqual(replacement.shape))
                throw new InvalidOperationException($"Layer '{Layer}' gives {GradientCore.Shape(output)}, the injected value is {GradientCore.Shape(replacement)}.");
            ran = true;
            return replacement.alias();
        });
        var y = GradientCore.Run(Module.call, input, call);
        if (!ran) throw new InvalidOperationException($"Layer '{Layer}' did not run during the forward pass.");
        return y;
    }
}
