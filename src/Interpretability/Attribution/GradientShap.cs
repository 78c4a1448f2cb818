using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>Options of <see cref="GradientShap"/>; defaults as Captum's <c>GradientShap</c> (5 samples, no input noise).</summary>
/// <param name="Baselines">The baseline distribution: <c>[B, ...]</c> (rows shaped like one input row); null = a single zero baseline.</param>
/// <param name="Samples">Random (baseline, α) draws per input row.</param>
/// <param name="Stdev">σ of Gaussian noise added to the input for each draw (SmoothGrad-style); 0 = none.</param>
/// <param name="Seed">Seed of the draws.</param>
public sealed record GradientShapOptions(Tensor? Baselines = null, int Samples = 5, double Stdev = 0.0, long Seed = 0);

/// <summary>
/// GradientSHAP (Lundberg &amp; Lee 2017, "A Unified Approach to Interpreting Model Predictions"; Captum's formulation):
/// the expectation over baselines x′ from a distribution and α ~ U(0, 1) of <c>(x − x′) ⊙ ∂S(x′ + α(x − x′))/∂x</c> —
/// integrated gradients with a random baseline and a random point on the path. In expectation Σ attributions =
/// S(x) − E[S(x′)]. All draws of all rows run as one batch.
/// </summary>
public sealed class GradientShap : AttributionMethod<GradientShapOptions>
{
    /// <summary>Wraps a classifier <c>[batch, ...] → [batch, classes]</c>.</summary>
    public GradientShap(nn.Module<Tensor, Tensor> model) : base(model) { }

    /// <summary>Wraps a forward function <c>[batch, ...] → [batch, classes]</c>.</summary>
    public GradientShap(Func<Tensor, Tensor> forward) : base(forward) { }

    /// <inheritdoc />
    public override string Name => "gradient_shap";

    /// <inheritdoc />
    public override GradientShapOptions DefaultOptions { get; } = new();

    /// <inheritdoc />
    protected override AttributionResult Compute(AttributionCall call, GradientShapOptions options)
    {
        var (input, targets) = (call.Input, call.Targets);
        if (options.Samples < 1) throw new ArgumentOutOfRangeException(nameof(options), options.Samples, "Samples must be at least 1.");
        var rowShape = input.shape.Skip(1).ToArray();
        var baselines = options.Baselines is null
            ? zeros(new[] { 1L }.Concat(rowShape).ToArray(), dtype: input.dtype, device: input.device)
            : options.Baselines.to(input.dtype, input.device);
        if (!baselines.shape.Skip(1).SequenceEqual(rowShape))
            throw new ArgumentException($"Baselines must be [B, {string.Join(", ", rowShape)}] (rows shaped like one input row); got {GradientCore.Shape(baselines)}.", "Baselines");
        long batch = input.shape[0], n = options.Samples;
        var gen = new Generator((ulong)options.Seed, input.device);
        using var batchScalar = batch.ToScalar();
        var which = arange(Scalars.IntZero, batchScalar, Scalars.IntOne, device: input.device).repeat_interleave(n);   // [batch·n]
        var pick = randint(baselines.shape[0], new[] { batch * n }, generator: gen, device: input.device);
        var bcast = new[] { -1L }.Concat(rowShape.Select(_ => 1L)).ToArray();
        var alpha = rand(new[] { batch * n }, dtype: input.dtype, device: input.device, generator: gen).reshape(bcast);
        var x = input.index_select(0, which);
        if (options.Stdev > 0) x = x + randn(x.shape, dtype: x.dtype, device: x.device, generator: gen) * options.Stdev;
        var b = baselines.index_select(0, pick);
        var (g, _) = InputGradient(b + alpha * (x - b), targets.index_select(0, which), call);
        var each = (x - b) * g;                                                                     // [batch·n, ...]
        var attributions = each.reshape(new[] { batch, n }.Concat(rowShape).ToArray()).mean(new long[] { 1 });
        return new AttributionResult(attributions, Name, new Dictionary<string, double> { ["samples"] = n });
    }
}
