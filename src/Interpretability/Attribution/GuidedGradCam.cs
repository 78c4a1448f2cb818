using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>
/// Guided Grad-CAM (Selvaraju et al. 2017): guided backpropagation multiplied by the upsampled Grad-CAM map,
/// <c>[batch, C, H, W]</c>.
/// </summary>
public sealed class GuidedGradCam : AttributionMethod<GradCamOptions>
{
    private readonly GradCam cam;
    private readonly GuidedBackprop guided;

    /// <summary>Guided Grad-CAM of <paramref name="model"/> with the Grad-CAM map at <paramref name="layer"/>.</summary>
    public GuidedGradCam(nn.Module<Tensor, Tensor> model, string layer) : base(model)
    {
        cam = new GradCam(model, layer);
        guided = new GuidedBackprop(model);
    }

    /// <inheritdoc />
    public override string Name => "guided_grad_cam";

    /// <inheritdoc />
    public override GradCamOptions DefaultOptions { get; } = new();

    /// <inheritdoc />
    protected override AttributionResult Compute(Tensor input, Tensor targets, GradCamOptions options, string targetParameter)
    {
        if (input.dim() != 4) throw new ArgumentException($"Guided Grad-CAM needs images [batch, channels, H, W]; got {GradientCore.Shape(input)}.", "input");
        using var c = cam.Attribute(input, targets, options with { Upsample = true });
        using var g = guided.Attribute(input, targets);
        return new AttributionResult(g.Attributions * c.Attributions, Name);
    }
}
