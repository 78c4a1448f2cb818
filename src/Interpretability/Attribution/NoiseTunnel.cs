using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>How <see cref="NoiseTunnel"/> combines the attributions of the noisy copies.</summary>
public enum NoiseTunnelType
{
    /// <summary>Mean of the attributions (SmoothGrad, Smilkov et al. 2017).</summary>
    SmoothGrad,
    /// <summary>Mean of the squared attributions (SmoothGrad², Hooker et al. 2019).</summary>
    SmoothGradSquared,
    /// <summary>Variance of the attributions (VarGrad, Adebayo et al. 2018).</summary>
    VarGrad,
}

/// <summary>Options of <see cref="NoiseTunnel"/>; defaults as Smilkov et al. 2017 (50 samples, noise σ = 15 % of the
/// input's value range).</summary>
/// <param name="Type">How the samples combine.</param>
/// <param name="Samples">Noisy copies per input (≥ 1).</param>
/// <param name="NoiseLevel">σ as a fraction of each row's value range (max − min); Smilkov et al. find 10–20 % best.</param>
/// <param name="Stdev">Absolute σ; when set it overrides <paramref name="NoiseLevel"/>.</param>
/// <param name="Seed">Seed of the noise (same seed, same result on the same device): every call with these options draws the
/// same noise, so a tunnel nested inside another one repeats its noise for each outer sample.</param>
/// <param name="SamplesPerCall">Noisy copies given to the inner method in one call (Captum's <c>nt_samples_batch_size</c>):
/// <c>batch × SamplesPerCall</c> rows at once; 1 (our default; Captum's is all samples at once) = one call per sample,
/// the least memory.</param>
public sealed record NoiseTunnelOptions(NoiseTunnelType Type = NoiseTunnelType.SmoothGrad, int Samples = 50, double NoiseLevel = 0.15, double? Stdev = null,
    long Seed = 0, int SamplesPerCall = 1);

/// <summary>
/// Noise tunnel around any attribution method (Captum's <c>NoiseTunnel</c>): attribute <see cref="NoiseTunnelOptions.Samples"/>
/// copies of the input with Gaussian noise added and combine them: SmoothGrad (Smilkov et al. 2017, "SmoothGrad:
/// removing noise by adding noise", arXiv:1706.03825, eq. 3), SmoothGrad² (Hooker et al. 2019, arXiv:1806.10758) or VarGrad
/// (Adebayo et al. 2018, arXiv:1810.03307). It is itself a method: it takes targets, options, progress and cancellation
/// like any other, and can be wrapped again.
/// </summary>
/// <example><code>using var r = new NoiseTunnel(new Saliency(model)).Attribute(image, 3);</code></example>
public sealed class NoiseTunnel : AttributionMethod<NoiseTunnelOptions>
{
    private readonly IAttributionMethod inner;

    /// <summary>Wraps <paramref name="inner"/> (with its options fixed, e.g. <c>new IntegratedGradients(m).With(opts)</c>).</summary>
    public NoiseTunnel(IAttributionMethod inner) : base(inner) => this.inner = inner;

    /// <inheritdoc />
    public override string Name => "noise_tunnel";

    /// <inheritdoc />
    public override NoiseTunnelOptions DefaultOptions { get; } = new();

    /// <summary>The name of a configuration, e.g. <c>smoothgrad_saliency</c> (the results' <see cref="AttributionResult.Method"/>).</summary>
    /// <param name="options">The configuration; null = <see cref="DefaultOptions"/>.</param>
    public string NameFor(NoiseTunnelOptions options) => (options ?? DefaultOptions).Type switch
    {
        NoiseTunnelType.SmoothGrad => "smoothgrad",
        NoiseTunnelType.SmoothGradSquared => "smoothgrad_sq",
        _ => "vargrad",
    } + "_" + inner.Name;

    /// <inheritdoc />
    protected override AttributionResult Compute(AttributionCall call, NoiseTunnelOptions options)
    {
        if (options.Samples < 1) throw new ArgumentOutOfRangeException(nameof(options), options.Samples, $"Samples must be at least 1; got {options.Samples}.");
        if (options.SamplesPerCall < 1) throw new ArgumentOutOfRangeException(nameof(options), options.SamplesPerCall, $"SamplesPerCall must be at least 1; got {options.SamplesPerCall}.");
        if (options.NoiseLevel < 0 || options.Stdev is < 0) throw new ArgumentOutOfRangeException(nameof(options), "NoiseLevel and Stdev must be non-negative.");
        var x = call.Input;
        long batch = x.shape[0];
        var dims = Enumerable.Range(1, (int)x.dim() - 1).Select(d => (long)d).ToArray();
        Tensor sigma;
        if (options.Stdev is double s) sigma = tensor(s, dtype: float64, device: x.device).to(x.dtype);
        else
        {
            var range = dims.Length == 0 ? x.max() - x.min() : x.amax(dims, keepdim: true) - x.amin(dims, keepdim: true);
            sigma = range * options.NoiseLevel;
        }
        using var generator = new Generator((ulong)options.Seed, x.device);
        Tensor? sum = null, sumSq = null;
        call.Begin(options.Samples);
        for (int first = 0; first < options.Samples; first += options.SamplesPerCall)
        {
            using (var scope = NewDisposeScope())
            {
                var n = Math.Min(options.SamplesPerCall, options.Samples - first);
                // n noisy copies of every row, sample-major, drawn in the same order as one copy per call.
                var noisy = cat(Enumerable.Range(0, n).Select(_ => x + randn(x.shape, dtype: x.dtype, device: x.device, generator: generator) * sigma).ToArray(), 0);
                using var r = inner.Attribute(noisy, call.Targets.repeat(n), cancellation: call.Cancellation);
                var a = r.Attributions.reshape(new[] { (long)n, batch }.Concat(r.Attributions.shape.Skip(1)).ToArray());
                if (sum is null)
                {
                    sum = zeros(a.shape.Skip(1).ToArray(), dtype: a.dtype, device: a.device).MoveToOuterDisposeScope();
                    sumSq = zeros_like(sum).MoveToOuterDisposeScope();
                }
                sum.add_(a.sum(dim: 0));   // not sum(0): a literal 0 converts to ScalarType and picks the dtype overload
                sumSq!.add_((a * a).sum(dim: 0));
            }
            call.Advance(Math.Min(options.SamplesPerCall, options.Samples - first));
        }
        var mean = sum! / options.Samples;
        var meanSq = sumSq! / options.Samples;
        var result = options.Type switch
        {
            NoiseTunnelType.SmoothGrad => mean,
            NoiseTunnelType.SmoothGradSquared => meanSq,
            _ => (meanSq - mean * mean).clamp_min(Scalars.IntZero),
        };
        return new AttributionResult(result, NameFor(options), new Dictionary<string, double> { ["samples"] = options.Samples });
    }
}
