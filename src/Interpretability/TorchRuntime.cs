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
    /// Idempotent and cheap (a few tiny convolutions); call it once at start-up, after <see cref="SilenceNativeWarnings"/>.
    /// <para>
    /// A second AMD EPYC host (AVX-512, 2026-12-03) showed the fault is not deterministic: the same probe in the same
    /// process returned relative errors of 1.4e-7, 0.27, 0.35 or NaN from one call to the next (oneDNN's
    /// <c>jit:avx512_core</c> backward-data kernel reading memory it did not initialise, by the look of it), and capping
    /// oneDNN at AVX2 fixed the probe's shape but not others (LRP, DeepLift and circuit tests failed). So the probe runs
    /// three times at the current thread count and twice at one thread (where the fault showed every time), NaN counts
    /// as wrong, and any wrong run turns oneDNN off.
    /// </para>
    /// </summary>
    /// <returns>What the probe measured and whether oneDNN was disabled.</returns>
    public static CpuConvolutionCheck ApplyCpuWorkarounds()
    {
        lock (Gate)
        {
            if (lastCheck is not null) return lastCheck;
            var before = WorstConvolutionGradientError();
            var disabled = false;
            if (!(before <= 1e-3) && TrySetMkldnnEnabled(false)) disabled = true;   // NaN counts as wrong
            var after = disabled ? WorstConvolutionGradientError() : before;
            lastCheck = new CpuConvolutionCheck(before, disabled, after);
            return lastCheck;
        }
    }

    /// <summary>Whether libtorch may use oneDNN (MKL-DNN) now; null when this libtorch build does not say.</summary>
    public static bool? OneDnnEnabled
    {
        get
        {
            try
            {
                return UserEnabledMkldnn(GlobalContext());
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                return null;
            }
        }
    }

    /// <summary>
    /// Where <see cref="ApplyCpuWorkarounds"/> turned oneDNN off, turns it back on for the returned scope if, with oneDNN,
    /// every <c>Conv2d</c> of <paramref name="model"/> at the shapes <paramref name="sample"/> gives it computes the output
    /// and the input and weight gradients in float32 within 1e-4 (relative) of float64 in four probes each. The fault of
    /// <see cref="ApplyCpuWorkarounds"/> hits some shapes only (3 → 8 channels: wrong; ShapesNet's layers at batch 64:
    /// right to 1e-6), and libtorch's native convolution is several times slower, so training a model whose own layers
    /// verify can keep oneDNN. Otherwise, or where oneDNN was never off, the scope changes nothing.
    /// <para>The switch is process-wide: run no other convolution concurrently while the scope is open.</para>
    /// </summary>
    /// <param name="model">The model about to be trained or run (its <c>Conv2d</c> layers are checked).</param>
    /// <param name="sample">A representative input batch <c>[N, C, H, W]</c> (the batch size matters).</param>
    /// <returns>A scope that turns oneDNN off again when disposed, if it turned it on.</returns>
    public static IDisposable UseOneDnnWhereVerified(torch.nn.Module<torch.Tensor, torch.Tensor> model, torch.Tensor sample)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(sample);
        if (!ApplyCpuWorkarounds().MkldnnDisabled || sample.device_type != DeviceType.CPU) return new OneDnnScope(false);
        var layers = new List<(TorchSharp.Modules.Conv2d Layer, long[] InputShape)>();
        var removers = new List<Action>();
        foreach (var m in model.modules())
            if (m is TorchSharp.Modules.Conv2d conv)
                removers.Add(conv.register_forward_hook((_, input, output) => { layers.Add((conv, input.shape)); return output; }).remove);
        try
        {
            using var noGrad = torch.no_grad();
            using var scope = torch.NewDisposeScope();
            model.call(sample);
        }
        finally
        {
            foreach (var remove in removers) remove();
        }
        lock (Gate)
        {
            if (!TrySetMkldnnEnabled(true)) return new OneDnnScope(false);
            if (layers.All(l => ConvolutionAgreesWithFloat64(l.Layer, l.InputShape))) return new OneDnnScope(true);
            TrySetMkldnnEnabled(false);
            return new OneDnnScope(false);
        }
    }

    private static bool ConvolutionAgreesWithFloat64(TorchSharp.Modules.Conv2d conv, long[] inputShape)
    {
        for (int repeat = 0; repeat < 4; repeat++)
        {
            using var scope = torch.NewDisposeScope();
            using var gen = new torch.Generator((ulong)(1000 + repeat));
            var x = torch.randn(inputShape, dtype: torch.float64, generator: gen);
            var w = torch.randn(conv.weight!.shape, dtype: torch.float64, generator: gen);
            torch.Tensor Convolve(torch.Tensor xi, torch.Tensor wi) => torch.nn.functional.conv2d(xi, wi, null, conv.stride, conv.padding, conv.dilation, conv.groups);
            torch.Tensor r;
            using (torch.no_grad()) r = torch.randn(Convolve(x, w).shape, dtype: torch.float64, generator: gen);
            (torch.Tensor Y, torch.Tensor Gx, torch.Tensor Gw) Run(torch.ScalarType type)
            {
                using var grad = torch.enable_grad();
                var xi = x.to_type(type).requires_grad_(true);
                var wi = w.to_type(type).requires_grad_(true);
                var y = Convolve(xi, wi);
                var g = torch.autograd.grad(new[] { (y * r.to_type(type)).sum() }, new[] { xi, wi });
                return (y.detach(), g[0], g[1]);
            }
            var reference = Run(torch.float64);
            var single = Run(torch.float32);
            foreach (var (a, b) in new[] { (single.Y, reference.Y), (single.Gx, reference.Gx), (single.Gw, reference.Gw) })
            {
                var error = ((a.to_type(torch.float64) - b).norm() / b.norm().clamp_min(1e-300)).item<double>();
                if (!(error <= 1e-4)) return false;
            }
        }
        return true;
    }

    private sealed class OneDnnScope(bool enabled) : IDisposable
    {
        private bool open = enabled;

        public void Dispose()
        {
            if (!open) return;
            open = false;
            lock (Gate) TrySetMkldnnEnabled(false);
        }
    }

    /// <summary>
    /// The worst of three probes at the current thread count and two at one thread (NaN as +∞). With two threads the
    /// faulty kernel sometimes passes by chance (three passing probes at start-up, then NaN, were seen on 2026-12-03);
    /// with one thread it was wrong every time.
    /// </summary>
    private static double WorstConvolutionGradientError()
    {
        double worst = 0;
        void Probe()
        {
            var e = ConvolutionGradientError();
            worst = double.IsNaN(e) ? double.PositiveInfinity : Math.Max(worst, e);
        }
        for (int i = 0; i < 3; i++) Probe();
        var threads = torch.get_num_threads();
        if (threads == 1) return worst;
        torch.set_num_threads(1);
        try
        {
            for (int i = 0; i < 2; i++) Probe();
        }
        finally
        {
            torch.set_num_threads(threads);
        }
        return worst;
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

    [DllImport("torch_cpu", EntryPoint = "_ZNK2at7Context17userEnabledMkldnnEv")]
    [return: MarshalAs(UnmanagedType.U1)]
    private static extern bool UserEnabledMkldnn(IntPtr context);

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
