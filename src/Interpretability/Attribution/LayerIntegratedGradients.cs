using Interpretability.Probing;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>
/// Integrated gradients at a hidden layer (Captum's <c>LayerIntegratedGradients</c>): integrated gradients of the model
/// seen from the layer, <c>A ↦ S(model with the layer's output replaced by A)</c>, along the straight line from the
/// layer's output on the baseline input, A(x′), to its output on the input, A(x):
/// <c>(A(x) − A(x′)) ⊙ ∫₀¹ ∂S/∂A dα</c> (Sundararajan et al. 2017, arXiv:1703.01365, eq. 1, at the layer). The same
/// quadrature and batching as <see cref="IntegratedGradients"/>. Completeness, Σ = S(x) − S(x′), holds at the layer when
/// every path from the input to the output passes through it (a skip connection around the layer breaks it, in Captum as
/// here); the convergence delta costs nothing extra: the two capture passes give both scores. Result:
/// the layer's shape. The options' baseline is an input-space baseline.
/// </summary>
public sealed class LayerIntegratedGradients : LayerAttributionMethod<IntegratedGradientsOptions>
{
    /// <summary>Layer integrated gradients at <paramref name="layer"/> (a <c>named_modules()</c> path).</summary>
    /// <exception cref="ArgumentException">No such layer (the message lists those that exist).</exception>
    public LayerIntegratedGradients(nn.Module<Tensor, Tensor> model, string layer) : base(model, layer) { }

    /// <inheritdoc />
    public override string Name => "layer_integrated_gradients";

    /// <inheritdoc />
    public override IntegratedGradientsOptions DefaultOptions { get; } = new();

    /// <inheritdoc />
    protected override AttributionResult Compute(AttributionCall call, IntegratedGradientsOptions options)
    {
        var input = call.Input;
        var baseline = GradientCore.Baseline(input, options.Baseline, "Baseline").contiguous();
        Tensor ax, ab, sx, sb;
        using (var cx = ActivationRecorder.Capture(Module, input, new[] { Layer }))
        using (var cb = ActivationRecorder.Capture(Module, baseline, new[] { Layer }))
        {
            ax = cx[Layer].clone();
            ab = cb[Layer].clone();
            sx = Scores(cx.ModelOutput!, call.Targets, call.TargetParameter);
            sb = Scores(cb.ModelOutput!, call.Targets, call.TargetParameter);
        }
        // Integrated gradients through a forward that injects the scaled activation at the layer.
        var integral = IntegratedGradients.Integrate(call, ab, ax, options,
            (scaled, which) => Scores(ForwardWithLayerOutput(input.index_select(0, which), scaled, call), call.Targets.index_select(0, which), call.TargetParameter));
        var attributions = (ax - ab) * integral;
        return options.ReturnConvergenceDelta
            ? IntegratedGradients.WithConvergenceDelta(attributions, Name, sx, sb, options.Steps)
            : new AttributionResult(attributions, Name, new Dictionary<string, double> { ["steps"] = options.Steps });
    }
}
