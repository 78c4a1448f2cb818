using Interpretability.Probing;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>
/// The gradient of one neuron of a named layer with respect to the input (Captum's <c>NeuronGradient</c>): for each row,
/// <c>∂A[row, neuron...]/∂x</c>. Result shaped like the input, method name <c>neuron_gradient</c>.
/// </summary>
public sealed class NeuronGradient
{
    private readonly nn.Module<Tensor, Tensor> model;

    /// <summary>Neuron gradients of <paramref name="layer"/>.</summary>
    /// <exception cref="ArgumentException">No such layer.</exception>
    public NeuronGradient(nn.Module<Tensor, Tensor> model, string layer)
    {
        ArgumentNullException.ThrowIfNull(model);
        LayerCheck.Find(model, layer, nameof(layer));
        this.model = model;
        Layer = layer;
    }

    /// <summary>The layer's path.</summary>
    public string Layer { get; }

    /// <summary>The gradient of neuron <paramref name="neuron"/> of the layer's output with respect to <paramref name="input"/>.</summary>
    /// <param name="input">The model's input, <c>[batch, ...]</c>.</param>
    /// <param name="neuron">Index into the layer's output without the batch dimension, e.g. <c>[channel, y, x]</c> for a
    /// conv layer or <c>[unit]</c> for a linear layer; a shorter index sums the remaining dimensions (e.g. <c>[channel]</c>
    /// = the channel's total).</param>
    /// <exception cref="ArgumentOutOfRangeException">An index is outside the layer's output.</exception>
    public AttributionResult Attribute(Tensor input, params long[] neuron)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(neuron);
        CpuConvolutionCheck.Ensure();
        using var scope = NewDisposeScope();
        using var recorder = new ActivationRecorder(model, new[] { Layer }, new ActivationRecorderOptions(KeepGraph: true));
        using var eg = enable_grad();
        var x = input.detach().requires_grad_(true);
        model.call(x);
        var act = recorder.Output(Layer);
        if (neuron.Length == 0 || neuron.Length > act.dim() - 1)
            throw new ArgumentException($"neuron must index 1 to {act.dim() - 1} dimensions of layer '{Layer}' output {GradientCore.Shape(act)}; got {neuron.Length}.", nameof(neuron));
        var selected = act;
        for (int d = 0; d < neuron.Length; d++)
        {
            var size = act.shape[d + 1];
            if (neuron[d] < 0 || neuron[d] >= size)
                throw new ArgumentOutOfRangeException(nameof(neuron), neuron[d], $"neuron index {d} must be in [0, {size - 1}] for layer '{Layer}' output {GradientCore.Shape(act)}; got {neuron[d]}.");
            selected = selected.select(1, neuron[d]);
        }
        var g = autograd.grad(new[] { selected.sum() }, new[] { x }, allow_unused: true)[0];
        if (g is null || g.IsInvalid) g = zeros_like(x);
        return new AttributionResult(g.detach().MoveToOuterDisposeScope(), "neuron_gradient");
    }
}
