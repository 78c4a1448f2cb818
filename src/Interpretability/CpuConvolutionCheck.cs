using System.Runtime.InteropServices;
using TorchSharp;

namespace Interpretability;

/// <summary>
/// The CPU convolution check: compares libtorch's float32 convolution input gradient with the float64 computation and,
/// where it is wrong, turns oneDNN (MKL-DNN) off for the process so that libtorch's own convolution is used. Found on an
/// AMD EPYC host (AVX-512): libtorch 2.10's oneDNN returned input gradients with relative errors of 0.27–0.72, or NaN,
/// for layers with fewer than 16 output channels at batch size ≥ 2 — silently wrong saliency maps and feature
/// visualisations; on an Intel Xeon host the same probe agrees to 1.4e-7. The fault is not deterministic (the same probe
/// in one process gave 1.4e-7, 0.27, 0.35 or NaN from call to call), so the probe runs three times at the current thread
/// count and twice at one thread (where the fault showed every time), NaN counts as wrong, and any wrong run turns oneDNN
/// off.
/// <para>
/// It runs once per process, lazily and thread-safely, before the first gradient any method of the library computes
/// (attribution methods, layer gradients, feature visualisation, circuits, training), so an application cannot forget it;
/// <see cref="Outcome"/> tells what it found.
/// </para>
/// </summary>
public static class CpuConvolutionCheck
{
    /// <summary>The check's outcome; null until it has run.</summary>
    public static CpuConvolutionCheckResult? Outcome
    {
        get { lock (Gate) return lastCheck; }
    }

    /// <summary>Runs the check unless it has run in this process, and returns its outcome. Cheap after the first call.</summary>
    public static CpuConvolutionCheckResult Ensure()
    {
        var done = Volatile.Read(ref lastCheck);
        if (done is not null) return done;
        lock (Gate)
        {
            if (lastCheck is not null) return lastCheck;
            var before = WorstConvolutionGradientError();
            var disabled = false;
            if (!(before <= 1e-3) && TrySetMkldnnEnabled(false)) disabled = true;   // NaN counts as wrong
            var after = disabled ? WorstConvolutionGradientError() : before;
            Volatile.Write(ref lastCheck, new CpuConvolutionCheckResult(before, disabled, after));
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

    /// <summary>See <see cref="TorchSession.UseOneDnnWhereVerified"/> (the session owns this process-wide switch).</summary>
    internal static IDisposable UseOneDnnWhereVerified(torch.nn.Module<torch.Tensor, torch.Tensor> model, torch.Tensor sample)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(sample);
        if (!Ensure().MkldnnDisabled || sample.device_type != DeviceType.CPU) return new OneDnnScope(false);
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

    private static bool ConvolutionAgreesWithFloat64(TorchSharp.Modules.Conv2d conv, long[] inputShape) =>
        // Four probes at the current thread count and two at one thread, where the fault showed every time.
        Agrees(conv, inputShape, 0, 4) && (torch.get_num_threads() == 1 || TorchSession.WithOneThread(() => Agrees(conv, inputShape, 4, 2)));

    private static bool Agrees(TorchSharp.Modules.Conv2d conv, long[] inputShape, int first, int count)
    {
        using var floor = 1e-300.ToScalar();
        for (int repeat = first; repeat < first + count; repeat++)
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
                var error = ((a.to_type(torch.float64) - b).norm() / b.norm().clamp_min(floor)).item<double>();
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
        if (torch.get_num_threads() == 1) return worst;
        return TorchSession.WithOneThread(() =>
        {
            for (int i = 0; i < 2; i++) Probe();
            return worst;
        });
    }

    private static readonly object Gate = new();
    private static CpuConvolutionCheckResult? lastCheck;

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

/// <summary>Outcome of <see cref="CpuConvolutionCheck"/>.</summary>
/// <param name="GradientErrorBefore">Relative error of the float32 convolution input gradient before any change.</param>
/// <param name="MkldnnDisabled">Whether oneDNN was turned off because the error exceeded 1e-3.</param>
/// <param name="GradientErrorAfter">The same error after the change (equal to the first when nothing changed).</param>
public sealed record CpuConvolutionCheckResult(double GradientErrorBefore, bool MkldnnDisabled, double GradientErrorAfter);
