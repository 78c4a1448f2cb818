using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>Options of <see cref="Saliency"/>.</summary>
/// <param name="Absolute">Return |∂S/∂x| (Simonyan et al. 2014 take the absolute value; Captum's default <c>abs=True</c>);
/// false returns the signed gradient.</param>
public sealed record SaliencyOptions(bool Absolute = true);

/// <summary>
/// Saliency maps (Simonyan, Vedaldi &amp; Zisserman 2014, "Deep Inside Convolutional Networks"): the gradient of the target
/// score with respect to the input, <c>∂S_c/∂x</c>, by default its absolute value.
/// </summary>
/// <example><code>using var r = new Saliency(model).Attribute(image, target: 3);  // r.Attributions: [1, 3, H, W]</code></example>
public sealed class Saliency : AttributionMethod<SaliencyOptions>
{
    /// <summary>Wraps a classifier <c>[batch, ...] → [batch, classes]</c>.</summary>
    public Saliency(nn.Module<Tensor, Tensor> model) : base(model) { }

    /// <summary>Wraps a forward function <c>[batch, ...] → [batch, classes]</c>.</summary>
    public Saliency(Func<Tensor, Tensor> forward) : base(forward) { }

    /// <inheritdoc />
    public override string Name => "saliency";

    /// <inheritdoc />
    public override SaliencyOptions DefaultOptions { get; } = new();

    /// <inheritdoc />
    protected override AttributionResult Compute(AttributionCall call, SaliencyOptions options)
    {
        var (g, _) = InputGradient(call.Input, call.Targets, call);
        return new AttributionResult(options.Absolute ? g.abs() : g, Name);
    }
}
