using TorchSharp;
using Xunit;

namespace Interpretability.Tests.Runtime;

/// <summary>The start-up probe leaves convolution gradients correct, whatever the CPU's oneDNN does.</summary>
public sealed class CpuWorkaroundTests
{
    [Fact]
    public void ConvolutionInputGradientsAgreeWithFloat64AfterTheWorkaround()
    {
        var check = TorchRuntime.ApplyCpuWorkarounds();
        Assert.True(check.GradientErrorAfter < 1e-4, $"conv input-gradient error after the workaround: {check.GradientErrorAfter:G3} (before {check.GradientErrorBefore:G3}, oneDNN disabled: {check.MkldnnDisabled})");
        Assert.True(TorchRuntime.ConvolutionGradientError() < 1e-4);
    }

    [Fact]
    public void SmallConvolutionGradientMatchesFiniteDifferencesAtBatchTwo()
    {
        // The failing case seen on this host: 3 -> 8 channels, batch 2. Central differences in float64 as the truth.
        TorchRuntime.ApplyCpuWorkarounds();
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(3);
        var w = torch.randn(8, 3, 3, 3);
        var x = torch.randn(2, 3, 9, 9).requires_grad_(true);
        var r = torch.randn(2, 8, 7, 7);
        var g = torch.autograd.grad(new[] { (torch.nn.functional.conv2d(x, w) * r).sum() }, new[] { x })[0];
        var xd = x.detach().to_type(torch.float64);
        var wd = w.to_type(torch.float64);
        var rd = r.to_type(torch.float64);
        foreach (var idx in new long[] { 0, 17, 100, 250, 400, 480 })
        {
            var flat = xd.flatten().clone();
            const double h = 1e-5;
            flat[idx] += h;
            var fp = (torch.nn.functional.conv2d(flat.reshape(xd.shape), wd) * rd).sum().item<double>();
            flat[idx] -= 2 * h;
            var fm = (torch.nn.functional.conv2d(flat.reshape(xd.shape), wd) * rd).sum().item<double>();
            var fd = (fp - fm) / (2 * h);
            var analytic = g.flatten()[idx].item<float>();
            Assert.True(Math.Abs(fd - analytic) < 1e-3 * Math.Max(1, Math.Abs(fd)), $"index {idx}: autograd {analytic} vs finite differences {fd}");
        }
    }
}
