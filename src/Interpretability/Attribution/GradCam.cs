using Interpretability.Probing;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>Options of <see cref="GradCam"/>.</summary>
/// <param name="Relu">Apply ReLU to the weighted sum, as Selvaraju et al. 2017 do (Captum's <c>relu_attributions</c>
/// defaults to false; we follow the paper).</param>
/// <param name="Upsample">Resize the map bilinearly to the input's height and width; false keeps the layer's resolution.</param>
public sealed record GradCamOptions(bool Relu = true, bool Upsample = true);

/// <summary>
/// Grad-CAM (Selvaraju et al. 2017, "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based Localization") at
/// any convolutional layer with output A <c>[batch, K, h, w]</c>: <c>α_k = (1/hw) Σ_ij ∂S/∂A^k_ij</c>,
/// <c>L = ReLU(Σ_k α_k A^k)</c>, upsampled bilinearly to the input. Attributions are <c>[batch, 1, H, W]</c>
/// (or <c>[batch, 1, h, w]</c> without upsampling).
/// </summary>
public sealed class GradCam : LayerAttributionMethod<GradCamOptions>
{
    /// <summary>Grad-CAM of <paramref name="model"/> at <paramref name="layer"/> (a path of <c>named_modules()</c>).</summary>
    /// <exception cref="ArgumentException">No such layer (the message lists those that exist).</exception>
    public GradCam(nn.Module<Tensor, Tensor> model, string layer) : base(model, layer) { }

    /// <inheritdoc />
    public override string Name => "grad_cam";

    /// <inheritdoc />
    public override GradCamOptions DefaultOptions { get; } = new();

    /// <summary>The raw map <c>Σ_k α_k A^k</c> (before ReLU and upsampling), <c>[batch, 1, h, w]</c>.</summary>
    internal Tensor RawMap(AttributionCall call)
    {
        using var lg = LayerGradient.Compute(Module, call.Input, Layer, y => Scores(y, call.Targets, call.TargetParameter).sum());
        if (lg.Activation.dim() != 4)
            throw new ArgumentException($"Grad-CAM needs a convolutional layer with output [batch, channels, h, w]; layer '{Layer}' gives {GradientCore.Shape(lg.Activation)}.", "layer");
        var alpha = lg.Gradient.mean(new long[] { 2, 3 }, keepdim: true);
        return (alpha * lg.Activation).sum(new long[] { 1 }, keepdim: true);
    }

    /// <inheritdoc />
    protected override AttributionResult Compute(AttributionCall call, GradCamOptions options)
    {
        var map = RawMap(call);
        if (options.Relu) map = map.relu();
        if (options.Upsample && call.Input.dim() == 4)
            map = nn.functional.interpolate(map, new[] { call.Input.shape[2], call.Input.shape[3] }, mode: InterpolationMode.Bilinear, align_corners: false);
        return new AttributionResult(map, Name);
    }
}
