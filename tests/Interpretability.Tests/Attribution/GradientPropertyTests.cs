using FsCheck;
using FsCheck.Xunit;
using Interpretability.Attribution;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Tests.Attribution;

/// <summary>FsCheck properties of the gradient methods.</summary>
public class GradientPropertyTests
{
    [Property(MaxTest = 30)]
    public bool InputXGradient_is_linear_in_the_model(int seed, NormalFloat a, NormalFloat b)
    {
        using var scope = NewDisposeScope();
        var gen = new Generator((ulong)(uint)seed);
        var wf = randn(new long[] { 3, 5 }, generator: gen, dtype: float64);
        var wg = randn(new long[] { 3, 5 }, generator: gen, dtype: float64);
        var bf = randn(new long[] { 3 }, generator: gen, dtype: float64);
        var x = randn(new long[] { 2, 5 }, generator: gen, dtype: float64);
        double ca = Math.Clamp(a.Get, -1e3, 1e3), cb = Math.Clamp(b.Get, -1e3, 1e3);
        Func<Tensor, Tensor> f = v => v.matmul(wf.t()) + bf;
        Func<Tensor, Tensor> g = v => v.matmul(wg.t());
        Func<Tensor, Tensor> h = v => f(v) * ca + g(v) * cb;
        var target = (long)(uint)seed % 3;
        using var rf = new InputXGradient(f).Attribute(x, target);
        using var rg = new InputXGradient(g).Attribute(x, target);
        using var rh = new InputXGradient(h).Attribute(x, target);
        var combined = rf.Attributions * ca + rg.Attributions * cb;
        return rh.Attributions.allclose(combined, rtol: 1e-9, atol: 1e-9 * (1 + Math.Abs(ca) + Math.Abs(cb)));
    }

    [Property(MaxTest = 12)]
    public bool IntegratedGradients_is_complete_for_random_inputs(int seed)
    {
        using var scope = NewDisposeScope();
        using var net = GradientTestNets.Smooth(seed: 5, dtype: ScalarType.Float64);
        var gen = new Generator((ulong)(uint)seed);
        var x = randn(new long[] { 2, 6 }, generator: gen, dtype: float64) * 2;
        var baseline = randn(new long[] { 2, 6 }, generator: gen, dtype: float64) * 0.5;
        var target = (long)(uint)seed % 3;
        using var r = new IntegratedGradients(net).Attribute(x, target, new IntegratedGradientsOptions(Steps: 64, Baseline: baseline, InternalBatchSize: 50));
        Tensor diff;
        using (no_grad()) diff = net.call(x)[.., target] - net.call(baseline)[.., target];
        var total = GradientTestNets.RowSums(r.Attributions);
        return ((total - diff).abs() <= diff.abs() * 1e-3 + 1e-6).all().item<bool>();
    }
}
