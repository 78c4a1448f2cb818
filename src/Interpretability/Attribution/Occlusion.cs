using Interpretability.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>Options of <see cref="Occlusion"/>.</summary>
/// <param name="WindowHeight">Height of the occluding window in pixels.</param>
/// <param name="WindowWidth">Width of the window.</param>
/// <param name="StrideY">Vertical step between windows.</param>
/// <param name="StrideX">Horizontal step between windows.</param>
/// <param name="Baseline">Value written into the window (0 = black for images in [0, 1]).</param>
/// <param name="PerturbationsPerEval">Occluded images per forward pass (1 = one forward per window, the naive loop).</param>
public sealed record OcclusionOptions(int WindowHeight = 8, int WindowWidth = 8, int StrideY = 4, int StrideX = 4, float Baseline = 0f, int PerturbationsPerEval = 64)
    : PerturbationOptions(PerturbationsPerEval);

/// <summary>
/// Occlusion (Zeiler &amp; Fergus 2014, "Visualizing and Understanding Convolutional Networks"), with Captum's
/// semantics: a window of every channel slides over the image; each position's effect is S(x) − S(x with the window set
/// to the baseline), and a pixel's attribution is the mean effect of the windows that cover it (0 where none does).
/// All windows of an input are evaluated in batches of <see cref="PerturbationOptions.PerturbationsPerEval"/>. Built on a
/// <see cref="SpatialChain"/>, it recomputes for each window only the part of every layer the window reaches (incremental
/// inference, exact: see <see cref="SpatialChain"/>) instead of a whole forward pass per occluded image.
/// </summary>
/// <example><code>using var r = new Occlusion(model).Attribute(image, 3, new OcclusionOptions(8, 8, 4, 4));  // [1, 3, H, W]</code></example>
public sealed class Occlusion : PerturbationAttributionMethod<OcclusionOptions>
{
    /// <summary>Wraps a classifier <c>[batch, channels, H, W] → [batch, classes]</c>.</summary>
    public Occlusion(nn.Module<Tensor, Tensor> model) : base(model) { }

    /// <summary>Wraps a forward function.</summary>
    public Occlusion(Func<Tensor, Tensor> forward) : base(forward) { }

    /// <summary>
    /// Wraps a model given as a chain of local stages and a head (e.g. <c>ShapesNet.AsSpatialChain()</c> or
    /// <see cref="SpatialChain.FromSequential"/>): the same attributions, computed by incremental inference.
    /// </summary>
    public Occlusion(SpatialChain chain) : base(Chain(chain).Forward) => this.chain = chain;

    private readonly SpatialChain? chain;

    private static SpatialChain Chain(SpatialChain chain)
    {
        ArgumentNullException.ThrowIfNull(chain);
        return chain;
    }

    /// <inheritdoc />
    public override string Name => "occlusion";

    /// <inheritdoc />
    public override OcclusionOptions DefaultOptions { get; } = new();

    /// <inheritdoc />
    protected override AttributionResult Perturb(AttributionCall call, OcclusionOptions o)
    {
        var (input, targets) = (call.Input, call.Targets);
        if (input.dim() != 4) throw new ArgumentException($"input must be images [batch, channels, H, W]; got {GradientCore.Shape(input)}.", nameof(input));
        long h = input.shape[2], w = input.shape[3];
        if (o.WindowHeight < 1 || o.WindowHeight > h) throw new ArgumentOutOfRangeException("options", o.WindowHeight, $"WindowHeight must be in [1, {h}] (the input's height); got {o.WindowHeight}.");
        if (o.WindowWidth < 1 || o.WindowWidth > w) throw new ArgumentOutOfRangeException("options", o.WindowWidth, $"WindowWidth must be in [1, {w}] (the input's width); got {o.WindowWidth}.");
        if (o.StrideY < 1 || o.StrideX < 1) throw new ArgumentOutOfRangeException("options", $"StrideY and StrideX must be at least 1; got {o.StrideY}, {o.StrideX}.");
        // Window masks [K, 1, H, W]: Captum's positions 0, s, 2s, … ≤ size − window.
        var ys = Enumerable.Range(0, (int)((h - o.WindowHeight) / o.StrideY) + 1).Select(i => i * o.StrideY).ToArray();
        var xs = Enumerable.Range(0, (int)((w - o.WindowWidth) / o.StrideX) + 1).Select(i => i * o.StrideX).ToArray();
        var masks = zeros(new long[] { ys.Length * xs.Length, 1, h, w }, dtype: input.dtype, device: input.device);
        int k = 0;
        foreach (var y0 in ys)
        foreach (var x0 in xs)
            masks[k++, 0, TensorIndex.Slice(y0, y0 + o.WindowHeight), TensorIndex.Slice(x0, x0 + o.WindowWidth)] = 1;
        var coverage = masks.sum(new long[] { 0 });                                     // [1, H, W]
        var windows = masks.shape[0];
        call.Begin(input.shape[0] * (windows + 1));
        var rows = new List<Tensor>();
        using var noGrad = no_grad();
        for (long b = 0; b < input.shape[0]; b++)
        {
            var row = input[b].unsqueeze(0);
            var target = targets[b].unsqueeze(0);
            var full = Scores(GradientCore.Run(Forward, row, call), target, call.TargetParameter);   // [1]
            call.Advance();
            var incremental = chain is null ? null : new IncrementalOcclusion(chain, row);
            Tensor scores;
            if (incremental is null)
                scores = Evaluate(call, windows, o.PerturbationsPerEval, target, (start, n) =>
                {
                    var m = masks.narrow(0, start, n);
                    return row * (1 - m) + o.Baseline * m;                              // occluded images [n, C, H, W]
                });
            else
            {
                var parts = new List<Tensor>();
                for (long start = 0; start < windows; start += o.PerturbationsPerEval)
                {
                    var count = Math.Min(o.PerturbationsPerEval, windows - start);
                    var top = Enumerable.Range((int)start, (int)count).Select(i => (long)ys[i / xs.Length]).ToArray();
                    var left = Enumerable.Range((int)start, (int)count).Select(i => (long)xs[i % xs.Length]).ToArray();
                    using (var pass = NewDisposeScope())
                        parts.Add(Scores(incremental.Logits(top, left, o.WindowHeight, o.WindowWidth, o.Baseline), target.expand(count), call.TargetParameter).MoveToOuterDisposeScope());
                    call.Advance(count);
                }
                scores = cat(parts, 0);
            }
            var effect = full - scores;                                                 // [K]
            var summed = (effect.reshape(-1, 1, 1, 1) * masks).sum(new long[] { 0 });   // [1, H, W]
            var map = torch.where(coverage > Scalars.IntZero, summed / coverage.clamp_min(Scalars.IntOne), zeros_like(summed));
            rows.Add(map.expand(input.shape[1], h, w));
        }
        return new AttributionResult(stack(rows, 0), Name, new Dictionary<string, double> { ["windows"] = windows, ["incremental"] = chain is null ? 0 : 1 });
    }
}
