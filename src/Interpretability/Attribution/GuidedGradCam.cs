using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>
/// Guided Grad-CAM (Selvaraju et al. 2017): guided backpropagation multiplied by the upsampled Grad-CAM map,
/// <c>[batch, C, H, W]</c>.
/// </summary>
public sealed class GuidedGradCam : LayerAttributionMethod<GradCamOptions>
{
    private readonly GradCam cam;
    private readonly GuidedBackprop guided;

    /// <summary>Guided Grad-CAM of <paramref name="model"/> with the Grad-CAM map at <paramref name="layer"/>.</summary>
    /// <exception cref="ArgumentException">No such layer (the message lists those that exist).</exception>
    public GuidedGradCam(nn.Module<Tensor, Tensor> model, string layer) : base(model, layer)
    {
        cam = new GradCam(model, layer);
        guided = new GuidedBackprop(model);
    }

    /// <inheritdoc />
    public override string Name => "guided_grad_cam";

    /// <inheritdoc />
    public override GradCamOptions DefaultOptions { get; } = new();

    /// <inheritdoc />
    protected override AttributionResult Compute(AttributionCall call, GradCamOptions options)
    {
        if (call.Input.dim() != 4) throw new ArgumentException($"Guided Grad-CAM needs images [batch, channels, H, W]; got {GradientCore.Shape(call.Input)}.", "input");
        using var c = cam.Attribute(call.Input, call.Targets, options with { Upsample = true }, cancellation: call.Cancellation);
        using var g = guided.Attribute(call.Input, call.Targets, cancellation: call.Cancellation);
        return new AttributionResult(g.Attributions * c.Attributions, Name);
    }
}
