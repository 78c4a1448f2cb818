using System.Runtime.InteropServices;
using TorchSharp;

namespace Interpretability;

/// <summary>Process-wide settings of the native libtorch runtime.</summary>
public static class TorchRuntime
{
    /// <summary>
    /// Raises libtorch's C++ log threshold to ERROR, silencing warnings such as "Could not initialize NNPACK!
    /// Reason: Unsupported hardware", which libtorch 2.10 prints on every convolution on CPUs without NNPACK support.
    /// libtorch reads the <c>TORCH_CPP_LOG_LEVEL</c> variable only when Python initialises it, so this sets the exported
    /// flag <c>FLAGS_caffe2_log_level</c> of <c>libc10</c> directly. Returns false (and changes nothing) when the flag
    /// cannot be found.
    /// </summary>
    public static bool SilenceNativeWarnings()
    {
        _ = torch.get_num_threads(); // make sure TorchSharp has loaded libtorch (and so libc10)
        foreach (var name in new[] { "libc10.so", "c10", "libc10.dylib", "c10.dll" })
        {
            if (!NativeLibrary.TryLoad(name, out var handle)) continue;
            if (!NativeLibrary.TryGetExport(handle, "FLAGS_caffe2_log_level", out var flag)) continue;
            Marshal.WriteInt32(flag, 2); // 0 INFO, 1 WARNING, 2 ERROR, 3 FATAL
            return true;
        }
        return false;
    }
    /// <summary>
    /// Checks the CPU convolution backward pass against a float64 reference and, where it is wrong, turns oneDNN
    /// (MKL-DNN) off for this process. Found here: on an AMD EPYC host, libtorch 2.10's oneDNN float32 convolution
    /// returned input gradients with relative errors of 0.27–0.72 for layers with fewer than 16 output channels at batch
    /// size ≥ 2 — silently wrong saliency maps and feature visualisations. libtorch's native convolution is then used.
    /// Idempotent and cheap (one tiny convolution); call it once at start-up, after <see cref="SilenceNativeWarnings"/>.
    /// </summary>
    /// <returns>What the probe measured and whether oneDNN was disabled.</returns>
    public static CpuConvolutionCheck ApplyCpuWorkarounds()
    {
        lock (Gate)
        {
            if (lastCheck is not null) return lastCheck;
            var before = ConvolutionGradientError();
            var disabled = false;
            if (before > 1e-3 && TrySetMkldnnEnabled(false)) disabled = true;
            var after = disabled ? ConvolutionGradientError() : before;
            lastCheck = new CpuConvolutionCheck(before, disabled, after);
            return lastCheck;
        }
    }

    private static readonly object Gate = new();
    private static CpuConvolutionCheck? lastCheck;

    /// <summary>Relative error of a float32 convolution's input gradient against the float64 computation.</summary>
    internal static double ConvolutionGradientError()
    {
        using var scope = torch.NewDisposeScope();
        using var gen = new torch.Generator(12345); // a private generator: the caller's global seed stays untouched
        var x = torch.randn(new long[] { 2, 3, 12, 12 }, dtype: torch.float64, generator: gen);
        var w = torch.randn(new long[] { 8, 3, 3, 3 }, dtype: torch.float64, generator: gen);
        var r = torch.randn(new long[] { 2, 8, 10, 10 }, dtype: torch.float64, generator: gen);
        double[] Grad(torch.ScalarType type)
        {
            var xi = x.to_type(type).detach().requires_grad_(true);
            var y = torch.nn.functional.conv2d(xi, w.to_type(type));
            var g = torch.autograd.grad(new[] { (y * r.to_type(type)).sum() }, new[] { xi })[0];
            return g.to_type(torch.float64).data<double>().ToArray();
        }
        var reference = Grad(torch.float64);
        var single = Grad(torch.float32);
        double num = 0, den = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            num += (single[i] - reference[i]) * (single[i] - reference[i]);
            den += reference[i] * reference[i];
        }
        return Math.Sqrt(num / Math.Max(den, 1e-300));
    }

    [DllImport("torch_cpu", EntryPoint = "_ZN2at13globalContextEv")]
    private static extern IntPtr GlobalContext();

    [DllImport("torch_cpu", EntryPoint = "_ZN2at7Context20setUserEnabledMkldnnEb")]
    private static extern void SetUserEnabledMkldnn(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    private static bool TrySetMkldnnEnabled(bool enabled)
    {
        try
        {
            SetUserEnabledMkldnn(GlobalContext(), enabled);
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false; // another libtorch build: the probe's result is still reported
        }
    }
}

/// <summary>Result of <see cref="TorchRuntime.ApplyCpuWorkarounds"/>.</summary>
/// <param name="GradientErrorBefore">Relative error of the float32 convolution input gradient before any change.</param>
/// <param name="MkldnnDisabled">Whether oneDNN was turned off because the error exceeded 1e-3.</param>
/// <param name="GradientErrorAfter">The same error after the change (equal to the first when nothing changed).</param>
public sealed record CpuConvolutionCheck(double GradientErrorBefore, bool MkldnnDisabled, double GradientErrorAfter);
