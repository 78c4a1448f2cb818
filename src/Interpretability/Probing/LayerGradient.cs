using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Probing;

/// <summary>A layer's activation and the gradient of a scalar objective with respect to it.</summary>
/// <param name="Activation">The layer's output, detached: <c>[batch, ...]</c>.</param>
/// <param name="Gradient">d objective / d activation, same shape as <see cref="Activation"/>.</param>
/// <param name="Objective">The objective's value.</param>
public sealed record LayerGradientResult(Tensor Activation, Tensor Gradient, double Objective) : IDisposable
{
    /// <summary>Disposes both tensors.</summary>
    public void Dispose()
    {
        Activation.Dispose();
        Gradient.Dispose();
    }
}

/// <summary>
/// The gradient of a scalar objective of the model's output with respect to a named layer's output (what Grad-CAM and
/// the layer attributions need). TorchSharp has no backward hooks; this substitutes the layer's output by a leaf tensor
/// of the same values during one forward pass and differentiates with respect to that leaf.
/// </summary>
public static class LayerGradient
{
    /// <summary>Computes the activation of <paramref name="layer"/> and d objective / d activation.</summary>
    /// <param name="model">The model.</param>
    /// <param name="input">The model's input, <c>[batch, ...]</c>.</param>
    /// <param name="layer">Layer path.</param>
    /// <param name="objective">Maps the model's output to a scalar tensor, e.g. <c>y =&gt; y[.., target].sum()</c>.</param>
    /// <returns>Detached tensors owned by the caller.</returns>
    public static LayerGradientResult Compute(nn.Module<Tensor, Tensor> model, Tensor input, string layer, Func<Tensor, Tensor> objective)
    {
        CpuConvolutionCheck.Ensure();
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(objective);
        using var scope = NewDisposeScope();
        Tensor? leaf = null;
        using (var hooks = new HookScope(model))
        {
            hooks.AddForwardHook(layer, (_, output) =>
            {
                var substitute = output.detach().requires_grad_(true);
                leaf = substitute.alias(); // our own handle: Sequential disposes the one it passes on
                return substitute;
            });
            using var enableGrad = enable_grad();
            var y = model.call(input);
            if (leaf is null) throw new InvalidOperationException($"Layer '{layer}' did not run during the forward pass.");
            var value = objective(y);
            if (value.numel() != 1)
                throw new ArgumentException($"objective must return a scalar; it returned shape [{string.Join(", ", value.shape)}].", nameof(objective));
            var grad = autograd.grad(new[] { value }, new[] { leaf }, allow_unused: true)[0];
            grad = grad is null || grad.IsInvalid ? zeros_like(leaf) : grad;
            var result = new LayerGradientResult(leaf.detach().clone().MoveToOuterDisposeScope(), grad.detach().clone().MoveToOuterDisposeScope(), value.ToDouble());
            return result;
        }
    }
}
