using Interpretability;

namespace Interpretability.Benchmarks;

/// <summary>
/// The benchmark process's <see cref="TorchSession"/>. BenchmarkDotNet runs every benchmark in a process of its own whose
/// entry point it generates, so each <c>[GlobalSetup]</c> asks for the session here; one intra-op thread by default, so
/// that ratios are not thread-pool noise.
/// </summary>
public static class BenchSession
{
    private static readonly object Gate = new();

    /// <summary>The open session, started with one thread if none is open (inside the test run, the tests' session).</summary>
    public static TorchSession Current
    {
        get
        {
            lock (Gate) return TorchSession.Current ?? TorchSession.Start(new TorchSessionOptions(Threads: 1, CheckCpuConvolution: true));
        }
    }

    /// <summary>One intra-op thread until disposed (a no-op where the session already runs one).</summary>
    public static IDisposable OneThread() => Current.UseThreads(1);
}
