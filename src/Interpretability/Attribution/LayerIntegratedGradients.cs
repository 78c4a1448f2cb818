using Interpretability.Probing;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>
/// Integrated gradients at a hidden layer (Captum's <c>LayerIntegratedGradients</c>): the layer's output A is moved on a
/// straight line from its value on the baseline input, A(x′), to its value on the input, A(x), and
/// <c>(A(x) − A(x′)) ⊙ ∫₀¹ ∂S/∂A dα</c> is integrated there (the interpolated activation is injected by a forward hook).
/// Completeness holds at the layer: Σ = S(x) − S(x′) (metadata <c>convergence_delta</c> as in
/// <see cref="IntegratedGradients"/>). Result: the layer's shape. Options are <see cref="IntegratedGradientsOptions"/>; its
/// baseline is an input-space baseline.
/// </summary>
public sealed class LayerIntegratedGradients : AttributionMethod<IntegratedGradientsOptions>
{
    private readonly nn.Module<Tensor, Tensor> model;

    /// <summary>Layer integrated gradients at <paramref name="layer"/>.</summary>
    /// <exception cref="ArgumentException">No such layer.</exception>
    public LayerIntegratedGradients(nn.Module<Tensor, Tensor> model, string layer) : base(model)
    {
        LayerCheck.Find(model, layer, nameof(layer));
        this.model = model;
        Layer = layer;
    }

    /// <summary>The layer's path.</summary>
    public string Layer { get; }

    /// <inheritdoc />
    public override string Name => "layer_integrated_gradients";

    /// <inheritdoc />
    public override IntegratedGradientsOptions DefaultOptions { get; } = new();

    /// <inheritdoc />
    protected override AttributionResult Compute(Tensor input, Tensor targets, IntegratedGradientsOptions options, string targetParameter)
    {
        if (options.InternalBatchSize is < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.InternalBatchSize, "InternalBatchSize must be at least 1.");
        var (alphas, weights) = IntegratedGradients.Quadrature(options.Rule, options.Steps);
        var baseline = GradientCore.Baseline(input, options.Baseline, "Baseline").contiguous();
        Tensor ax, ab, sx, sb;
        using (var cx = ActivationRecorder.Capture(model, input, new[] { Layer }))
        using (var cb = ActivationRecorder.Capture(model, baseline, new[] { Layer }))
        {
            ax = cx[Layer].clone();
            ab = cb[Layer].clone();
            sx = Scores(cx.ModelOutput!, targets, targetParameter);
            sb = Scores(cb.ModelOutput!, targets, targetParameter);
        }
        long batch = input.shape[0], steps = alphas.Length, rows = batch * steps, size = options.InternalBatchSize ?? rows;
        var layerRow = ax.shape.Skip(1).ToArray();
        var bcast = new[] { -1L }.Concat(layerRow.Select(_ => 1L)).ToArray();
        var alphaT = tensor(alphas, dtype: float64, device: input.device).to(ax.dtype);
        var weightT = tensor(weights, dtype: float64, device: input.device).to(ax.dtype);
        var delta = ax - ab;
        var sum = zeros_like(ax);
        for (long start = 0; start < rows; start += size)
        {
            using var scope = NewDisposeScope();
            var n = Math.Min(size, rows - start);
            var r = arange(start, start + n, dtype: int64, device: input.device);
            var which = r.div(steps, rounding_mode: RoundingMode.floor);
            var k = r.remainder(steps);
            var injected = (ab.index_select(0, which) + alphaT.index_select(0, k).reshape(bcast) * delta.index_select(0, which)).detach().requires_grad_(true);
            Tensor g;
            using (var hooks = new HookScope(model))
            {
                bool ran = false;
                hooks.AddForwardHook(Layer, (_, output) =>
                {
                    if (!output.shape.SequenceEqual(injected.shape))
                        throw new InvalidOperationException($"Layer '{Layer}' output {GradientCore.Shape(output)} differs from the injected {GradientCore.Shape(injected)}.");
                    ran = true;
                    return injected.alias();
                });
                using var eg = enable_grad();
                var s = Scores(model.call(input.index_select(0, which)), targets.index_select(0, which), targetParameter);
                if (!ran) throw new InvalidOperationException($"Layer '{Layer}' did not run during the forward pass.");
                g = autograd.grad(new[] { s.sum() }, new[] { injected }, allow_unused: true)[0];
                if (g is null || g.IsInvalid) g = zeros_like(injected);
            }
            sum.index_add_(0, which, g.detach() * weightT.index_select(0, k).reshape(bcast), 1);
        }
        var attributions = delta * sum;
        var total = attributions.reshape(batch, -1).sum(dim: 1);
        var diff = sx - sb;
        var err = (total - diff).abs();
        var worst = err.argmax().ToInt64();
        var d = err[worst].ToDouble();
        var sd = diff[worst].ToDouble();
        return new AttributionResult(attributions, Name, new Dictionary<string, double>
        {
            ["convergence_delta"] = d,
            ["convergence_delta_relative"] = Math.Abs(sd) > 0 ? d / Math.Abs(sd) : d,
            ["score_difference"] = sd,
            ["steps"] = options.Steps,
        });
    }
}
