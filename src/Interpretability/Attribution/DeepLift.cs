using Interpretability.Probing;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>Options of <see cref="DeepLift"/>.</summary>
/// <param name="Baseline">Reference input x′: the input's shape, one row's shape or a scalar; null = zeros (Shrikumar et al.
/// 2017 and Captum default to a zero reference).</param>
/// <param name="Epsilon">Where |Δx| &lt; this, the rescale multiplier falls back to the local derivative (Captum: 1e-10).</param>
public sealed record DeepLiftOptions(Tensor? Baseline = null, double Epsilon = 1e-10);

/// <summary>
/// DeepLIFT with the rescale rule (Shrikumar, Greenside &amp; Kundaje 2017, "Learning Important Features Through
/// Propagating Activation Differences", arXiv:1704.02685, §3.5.1 and eq. 1 (summation-to-delta)). Every elementwise nonlinearity module (ReLU, LeakyReLU, Tanh, Sigmoid, Softplus,
/// ELU, GELU, SiLU) gets the multiplier <c>m = (f(x) − f(x′)) / (x − x′)</c> in place of its derivative, by a forward hook
/// that returns <c>f(x).detach() + m.detach() ⊙ (x − x.detach())</c> (forward value unchanged, backward slope m). The
/// attributions are <c>(x − x′) ⊙ ∂S/∂x</c> of that modified backward pass; for networks of linear/conv layers and these
/// nonlinearities they sum to <c>S(x) − S(x′)</c> exactly (summation-to-delta: the per-example error is
/// <see cref="AttributionResult.ConvergenceDelta"/>, the largest in metadata <c>summation_delta</c>). <c>MaxPool2d</c> modules get an exact rule (the output difference as a convex combination of the
/// differences at the input's and the reference's maxima, see <c>MaxPoolRule</c>), so summation-to-delta also holds
/// through max pooling. Nonlinearities must be modules: <c>F.relu</c> inside a forward cannot be hooked, and a model that
/// computes one there is refused with the layer named (see the nonlinearity audit) instead of explained wrongly. The
/// model is unchanged: hooks are removed afterwards.
/// </summary>
public sealed class DeepLift : AttributionMethod<DeepLiftOptions>
{
    /// <summary>Wraps a classifier <c>[batch, ...] → [batch, classes]</c> whose nonlinearities are modules.</summary>
    public DeepLift(nn.Module<Tensor, Tensor> model) : base(model) { }

    /// <inheritdoc />
    public override string Name => "deeplift";

    /// <inheritdoc />
    public override DeepLiftOptions DefaultOptions { get; } = new();

    internal static bool IsElementwise(nn.Module m) => ModuleKinds.IsElementwiseActivation(m);

    /// <summary>
    /// Max pooling, exactly: per window let a be the input's maximum and b the reference's. Then
    /// Δy = x_a − x′_b lies between Δ_b = x_b − x′_b and Δ_a = x_a − x′_a, so Δy = λ·Δ_a + (1 − λ)·Δ_b with λ ∈ [0, 1];
    /// the window's multiplier sends λ of the incoming gradient to a and 1 − λ to b. Summation-to-delta holds exactly and
    /// no multiplier exceeds 1 (Captum's rule divides Δy by Δ_a alone and loses Δy where Δ_a = 0, e.g. a window whose
    /// units are all dead on the input but not on the reference).
    /// </summary>
    private static Tensor MaxPoolRule(MaxPool2d pool, Tensor inp, Tensor outp, Tensor reference)
    {
        var stride = pool.stride ?? pool.kernel_size;
        var padding = pool.padding ?? new long[] { 0, 0 };
        var dilation = pool.dilation ?? new long[] { 1, 1 };
        Tensor y, ia, yRef, ib;
        using (no_grad())
        {
            (y, ia) = nn.functional.max_pool2d_with_indices(inp.detach(), pool.kernel_size, stride, padding, dilation, pool.ceil_mode);
            (yRef, ib) = nn.functional.max_pool2d_with_indices(reference, pool.kernel_size, stride, padding, dilation, pool.ceil_mode);
        }
        Tensor Pick(Tensor t, Tensor idx) => t.flatten(2).gather(2, idx.flatten(2)).view_as(y);
        var xa = Pick(inp, ia);                                           // in the graph
        var xb = Pick(inp, ib);
        var da = xa.detach() - Pick(reference, ia);
        var db = xb.detach() - yRef;
        var dy = y - yRef;
        var gap = da - db;                                                // ≥ 0
        var lambda = where(gap.abs() > Scalars.IntZero, ((dy - db) / gap.masked_fill(gap.abs() == Scalars.IntZero, Scalars.IntOne)).clamp(Scalars.IntZero, Scalars.IntOne), ones_like(gap)).detach();
        var term = xa * lambda + xb * (1 - lambda);
        return outp.detach() + (term - term.detach());
    }

    /// <inheritdoc />
    protected override AttributionResult Compute(AttributionCall call, DeepLiftOptions options)
    {
        var (input, targets, targetParameter, model) = (call.Input, call.Targets, call.TargetParameter, Module);
        var baseline = GradientCore.Baseline(input, options.Baseline, "Baseline").contiguous();
        NonlinearityAudit.Check(model, input, baseline, Name, m => IsElementwise(m) || m is MaxPool2d);
        var paths = model.named_modules().Where(t => IsElementwise(t.Item2) || t.Item2 is MaxPool2d).Select(t => t.Item1).ToList();

        // Pass 1: the reference activations (input of every nonlinearity on the baseline), per call in order.
        var reference = paths.ToDictionary(p => p, _ => new List<Tensor>());
        Tensor sb;
        using (var hooks = new HookScope(model))
        {
            foreach (var p in paths)
            {
                var path = p;
                hooks.AddForwardHook(path, (inp, _) => { reference[path].Add(inp.detach().clone()); return null; });
            }
            using var ng = no_grad();
            sb = Scores(GradientCore.Run(Forward, baseline, call), targets, targetParameter);
        }

        // Pass 2: the input, each nonlinearity with the rescale multiplier as its slope.
        var calls = paths.ToDictionary(p => p, _ => 0);
        Tensor g, sx;
        using (var hooks = new HookScope(model))
        {
            foreach (var p in paths)
            {
                var path = p;
                var module = (nn.Module<Tensor, Tensor>)LayerPath.Find(model, path);
                hooks.AddForwardHook(path, (inp, outp) =>
                {
                    var list = reference[path];
                    var i = calls[path]++;
                    if (i >= list.Count || !list[i].shape.SequenceEqual(inp.shape))
                        throw new InvalidOperationException($"DeepLift: layer '{path}' ran differently on the input and on the baseline.");
                    if (module is MaxPool2d pool) return MaxPoolRule(pool, inp, outp, list[i]);
                    Tensor refOut;
                    using (no_grad()) refOut = module.forward(list[i]);
                    var dx = inp.detach() - list[i];
                    var dy = outp.detach() - refOut;
                    Tensor local;
                    using (enable_grad())
                    {
                        var xi = inp.detach().requires_grad_(true);
                        local = autograd.grad(new[] { module.forward(xi).sum() }, new[] { xi })[0].detach();
                    }
                    using var epsilon = options.Epsilon.ToScalar();
                    var m = where(dx.abs() < epsilon, local, dy / dx.masked_fill(dx.abs() < epsilon, Scalars.IntOne));
                    return outp.detach() + m * (inp - inp.detach());
                });
            }
            using var eg = enable_grad();
            var x = input.detach().requires_grad_(true);
            var s = Scores(GradientCore.Run(Forward, x, call), targets, targetParameter);
            g = autograd.grad(new[] { s.sum() }, new[] { x }, allow_unused: true)[0];
            if (g is null || g.IsInvalid) g = zeros_like(x);
            sx = s.detach();
        }
        var attributions = (input - baseline) * g;
        // Summation-to-delta per example, signed as Captum's (free: both scores were computed anyway).
        var delta = GradientCore.SumPerRow(attributions).to(float64) - (sx - sb).to(float64);
        return new AttributionResult(attributions, Name, new Dictionary<string, double> { ["summation_delta"] = delta.abs().max().ToDouble() }, delta);
    }
}
