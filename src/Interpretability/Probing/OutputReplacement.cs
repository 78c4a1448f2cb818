using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Probing;

/// <summary>
/// Replaces a layer's output with a function of it for as long as the returned scope lives; the replacement is
/// removed on dispose, also when the forward pass threw.
/// </summary>
public static class OutputReplacement
{
    /// <summary>
    /// While the scope lives, every forward pass through <paramref name="layer"/> returns <c>replace(output)</c>.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="layer">Layer path.</param>
    /// <param name="replace">Maps the layer's output to its replacement. It must return a new tensor of the same shape
    /// (never the argument itself: a <c>Sequential</c> disposes both handles).</param>
    /// <example><code>using (OutputReplacement.Apply(model, "relu1", o =&gt; o * 0.5f)) model.call(x);</code></example>
    public static HookScope Apply(nn.Module model, string layer, Func<Tensor, Tensor> replace)
    {
        ArgumentNullException.ThrowIfNull(replace);
        var scope = new HookScope(model);
        try
        {
            scope.AddForwardHook(layer, (_, output) =>
            {
                var replaced = replace(output);
                if (!replaced.shape.SequenceEqual(output.shape))
                    throw new InvalidOperationException(
                        $"The replacement for layer '{layer}' has shape [{string.Join(", ", replaced.shape)}]; the layer's output has [{string.Join(", ", output.shape)}].");
                return ReferenceEquals(replaced, output) ? null : replaced;
            });
            return scope;
        }
        catch
        {
            scope.Dispose();
            throw;
        }
    }
}
