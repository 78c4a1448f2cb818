using System.Runtime.InteropServices;
using TorchSharp;

namespace Interpretability;

/// <summary>Options of <see cref="TorchSession.Start"/>.</summary>
/// <param name="Threads">libtorch intra-op threads; null = libtorch's own default (one per physical core). With OpenMP's
/// passive wait policy (below) extra threads cost little when another process keeps a core busy; a server that runs many
/// models side by side, or a test suite that runs tests in parallel, is better served by 1.</param>
/// <param name="PassiveOpenMpWait">Sets <c>OMP_WAIT_POLICY=PASSIVE</c> for libtorch's OpenMP runtime unless the environment
/// already sets it: idle OpenMP threads then sleep instead of spinning. Takes effect only when the session starts before
/// libtorch is loaded (before the first tensor of the process); see <see cref="TorchSession.OpenMpWaitPolicy"/>.</param>
/// <param name="SilenceNativeWarnings">Raises libtorch's C++ log threshold to ERROR (no "Could not initialize NNPACK"
/// line per convolution on CPUs without NNPACK support).</param>
/// <param name="CheckCpuConvolution">Runs the CPU convolution check (<see cref="CpuConvolutionCheck"/>) when the session
/// starts instead of at the first gradient; the outcome is the same, only the moment differs.</param>
public sealed record TorchSessionOptions(int? Threads = null, bool PassiveOpenMpWait = true, bool SilenceNativeWarnings = true, bool CheckCpuConvolution = false);

/// <summary>
/// The one owner of libtorch's process-wide settings: the intra-op thread count, OpenMP's wait policy, libtorch's log
/// level and the oneDNN switch. The application creates it once, at the top of <c>Main</c> (the CLI, the test assembly and
/// a user's program alike); the library's algorithms never change these settings. The one exception guards correctness
/// and so cannot depend on the application: the CPU convolution check (<see cref="CpuConvolutionCheck"/>) runs by itself,
/// once, before the first gradient any method computes, with or without a session, and may turn oneDNN off for the
/// process (for its probes it also sets one thread for a moment).
/// </summary>
/// <example><code>
/// using var session = TorchSession.Start(new TorchSessionOptions(Threads: 2));
/// using var model = ModelZoo.ShapesNet();
/// using var r = new Saliency(model).Attribute(images, target: 3);
/// </code></example>
public sealed class TorchSession : IDisposable
{
    private static readonly object Gate = new();
    private static TorchSession? current;
    private readonly int threadsBefore;
    private bool disposed;

    private TorchSession(TorchSessionOptions options, string waitPolicy)
    {
        Options = options;
        OpenMpWaitPolicy = waitPolicy;
        threadsBefore = torch.get_num_threads();
        Threads = options.Threads ?? threadsBefore;
        if (threadsBefore != Threads) torch.set_num_threads(Threads);
        NativeWarningsSilenced = options.SilenceNativeWarnings && SilenceNativeWarnings();
        if (options.CheckCpuConvolution) CpuConvolutionCheck.Ensure();
    }

    /// <summary>The session that is open, or null.</summary>
    public static TorchSession? Current
    {
        get { lock (Gate) return current; }
    }

    /// <summary>
    /// Starts the process's session: sets OpenMP's wait policy (before libtorch loads), the thread count and libtorch's log
    /// level. One session at a time: dispose it before starting another.
    /// </summary>
    /// <param name="options">Settings; null = the defaults of <see cref="TorchSessionOptions"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="TorchSessionOptions.Threads"/> is below 1.</exception>
    /// <exception cref="InvalidOperationException">A session is already open.</exception>
    public static TorchSession Start(TorchSessionOptions? options = null)
    {
        options ??= new TorchSessionOptions();
        if (options.Threads is < 1) throw new ArgumentOutOfRangeException(nameof(options), options.Threads, $"Threads must be at least 1; got {options.Threads}.");
        lock (Gate)
        {
            if (current is not null) throw new InvalidOperationException("A TorchSession is already open; dispose it before starting another (process-wide settings have one owner).");
            var waitPolicy = ApplyWaitPolicy(options.PassiveOpenMpWait);
            current = new TorchSession(options, waitPolicy);
            return current;
        }
    }

    /// <summary>The options the session started with.</summary>
    public TorchSessionOptions Options { get; }

    /// <summary>The intra-op thread count the session set (or found, when <see cref="TorchSessionOptions.Threads"/> is null).</summary>
    public int Threads { get; }

    /// <summary>
    /// OpenMP's wait policy and where it came from: <c>PASSIVE (set by the session)</c>, <c>X (from the environment)</c>,
    /// <c>default (spinning)</c>, or a note that libtorch was loaded before the session and kept its policy.
    /// </summary>
    public string OpenMpWaitPolicy { get; }

    /// <summary>Whether libtorch's warnings were silenced.</summary>
    public bool NativeWarningsSilenced { get; }

    /// <summary>The CPU convolution check's outcome (runs it now if no gradient has run it yet).</summary>
    public CpuConvolutionCheckResult CpuConvolution => CpuConvolutionCheck.Ensure();

    /// <summary>
    /// Sets the intra-op thread count until the returned scope is disposed (e.g. one thread for a loop of small matrix
    /// products, where extra threads only add synchronisation). The setting is process-wide: run nothing else on tensors
    /// while the scope is open, and dispose nested scopes in reverse order (each restores the count it found).
    /// </summary>
    /// <param name="threads">Threads (≥ 1).</param>
    /// <returns>The scope; disposing it restores the thread count found when it opened.</returns>
    public IDisposable UseThreads(int threads)
    {
        ThrowIfDisposed();
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, $"threads must be at least 1; got {threads}.");
        lock (Gate)
        {
            var before = torch.get_num_threads();
            if (before != threads) torch.set_num_threads(threads);
            return new Restore(() =>
            {
                lock (Gate)
                    if (torch.get_num_threads() != before) torch.set_num_threads(before);
            });
        }
    }

    /// <summary>
    /// Where the CPU convolution check turned oneDNN off, turns it back on until the returned scope is disposed, but only
    /// if every <c>Conv2d</c> of <paramref name="model"/>, at the shapes <paramref name="sample"/> gives it, computes its
    /// output and both gradients within 1e-4 of float64 with oneDNN in six probes each (two at one thread). The fault the check guards
    /// against hits some shapes only, and libtorch's own convolution is several times slower, so training a model whose
    /// layers verify can keep oneDNN. Otherwise the scope changes nothing. The switch is process-wide: run no other
    /// convolution while the scope is open.
    /// </summary>
    /// <param name="model">The model about to be trained or run.</param>
    /// <param name="sample">A representative input batch <c>[N, C, H, W]</c> (the batch size matters).</param>
    public IDisposable UseOneDnnWhereVerified(torch.nn.Module<torch.Tensor, torch.Tensor> model, torch.Tensor sample)
    {
        ThrowIfDisposed();
        return CpuConvolutionCheck.UseOneDnnWhereVerified(model, sample);
    }

    /// <summary>Closes the session: restores the thread count found when it started.</summary>
    public void Dispose()
    {
        lock (Gate)
        {
            if (disposed) return;
            disposed = true;
            if (torch.get_num_threads() != threadsBefore) torch.set_num_threads(threadsBefore);
            if (ReferenceEquals(current, this)) current = null;
        }
    }

    /// <summary>Runs <paramref name="action"/> with one intra-op thread (the convolution check's single-thread probes).</summary>
    internal static T WithOneThread<T>(Func<T> action)
    {
        var before = torch.get_num_threads();
        if (before == 1) return action();
        torch.set_num_threads(1);
        try
        {
            return action();
        }
        finally
        {
            torch.set_num_threads(before);
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(disposed, this);

    private sealed class Restore(Action restore) : IDisposable
    {
        private Action? pending = restore;

        public void Dispose()
        {
            var action = Interlocked.Exchange(ref pending, null);
            action?.Invoke();
        }
    }

    /// <summary>
    /// Sets OMP_WAIT_POLICY in the native environment (libgomp reads it once, when libtorch loads it). .NET's
    /// <see cref="Environment.SetEnvironmentVariable(string, string)"/> changes only the managed copy on Unix, so this
    /// calls libc's <c>setenv</c>.
    /// </summary>
    private static string ApplyWaitPolicy(bool passive)
    {
        var existing = Environment.GetEnvironmentVariable("OMP_WAIT_POLICY");
        if (!string.IsNullOrEmpty(existing)) return $"{existing} (from the environment)";
        if (!passive) return "default (spinning)";
        if (LibTorchLoaded()) return "default (spinning): libtorch was loaded before the session started";
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return "default (spinning): not set on this operating system";
        try
        {
            if (SetEnv("OMP_WAIT_POLICY", "PASSIVE", 0) != 0) return "default (spinning): setenv failed";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return "default (spinning): setenv is not available";
        }
        Environment.SetEnvironmentVariable("OMP_WAIT_POLICY", "PASSIVE");
        return "PASSIVE (set by the session)";
    }

    /// <summary>Whether libtorch (and with it libgomp) is mapped into the process already; read from /proc/self/maps,
    /// since asking the loader would load it.</summary>
    private static bool LibTorchLoaded()
    {
        const string maps = "/proc/self/maps";
        if (!File.Exists(maps)) return false;
        return File.ReadLines(maps).Any(l => l.Contains("libtorch_cpu", StringComparison.Ordinal) || l.Contains("libgomp", StringComparison.Ordinal));
    }

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int SetEnv(string name, string value, int overwrite);

    /// <summary>
    /// Raises libtorch's C++ log threshold to ERROR. libtorch reads <c>TORCH_CPP_LOG_LEVEL</c> only when Python initialises
    /// it, so this sets the exported flag <c>FLAGS_caffe2_log_level</c> of <c>libc10</c> directly. Returns false (and
    /// changes nothing) when the flag cannot be found.
    /// </summary>
    private static bool SilenceNativeWarnings()
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
}
