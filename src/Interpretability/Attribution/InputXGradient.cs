using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>Options of <see cref="InputXGradient"/> (the method has none; the record exists for a uniform API).</summary>
public sealed record InputXGradientOptions;

/// <summary>
/// Input × gradient (Shrikumar et al. 2016, "Not Just a Black Box"): <c>x ⊙ ∂S_c/∂x</c>. For a linear model
/// <c>S = w·x + b</c> it is exactly <c>w ⊙ x</c>; it equals LRP-0 on ReLU networks without biases.
/// </summary>
public sealed class InputXGradient : AttributionMethod<InputXGradientOptions>
{
    /// <summary>Wraps a classifier <c>[batch, ...] → [batch, classes]</c>.</summary>
    public InputXGradient(nn.Module<Tensor, Tensor> model) : base(model) { }

    /// <summary>Wraps a forward function <c>[batch, ...] → [batch, classes]</c>.</summary>
    public InputXGradient(Func<Tensor, Tensor> forward) : base(forward) { }

    /// <inheritdoc />
    public override string Name => "input_x_gradient";

    /// <inheritdoc />
    public override InputXGradientOptions DefaultOptions { get; } = new();

    /// <inheritdoc />
    protected override AttributionResult Compute(AttributionCall call, InputXGradientOptions options)
    {
        var (g, _) = InputGradient(call.Input, call.Targets, call);
        return new AttributionResult(call.Input * g, Name);
    }
}
