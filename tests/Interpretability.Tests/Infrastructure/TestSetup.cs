using System.Runtime.CompilerServices;
using TorchSharp;

namespace Interpretability.Tests.Infrastructure;

/// <summary>Process-wide set-up of the test run: quiet libtorch, deterministic thread count.</summary>
internal static class TestSetup
{
    [ModuleInitializer]
    internal static void Initialize()
    {
        TorchRuntime.SilenceNativeWarnings();
        TorchRuntime.ApplyCpuWorkarounds();
        torch.set_num_threads(Math.Min(2, Environment.ProcessorCount));
    }
}

/// <summary>Tests that measure process memory run alone, never beside other tests.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryCollection
{
    /// <summary>Collection name.</summary>
    public const string Name = "Memory (runs alone)";
}

/// <summary>
/// Tests that change process-wide switches (oneDNN on or off) or would be disturbed by them (retraining ShapesNet with
/// oneDNN re-enabled for its verified layers) run alone, never beside other tests.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessSwitchCollection
{
    /// <summary>Collection name.</summary>
    public const string Name = "Process-wide switches (runs alone)";
}

/// <summary>Helpers to measure native memory growth.</summary>
public static class MemoryProbe
{
    /// <summary>Resident set size of this process, in bytes (from /proc/self/status on Linux).</summary>
    public static long ResidentBytes()
    {
        const string status = "/proc/self/status";
        if (File.Exists(status))
            foreach (var line in File.ReadLines(status))
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        using var p = System.Diagnostics.Process.GetCurrentProcess();
        p.Refresh();
        return p.WorkingSet64;
    }

    /// <summary>
    /// Runs <paramref name="action"/> <paramref name="warmup"/> times, then <paramref name="repeats"/> times, and returns
    /// the growth of the resident set and of the live tensor count over the measured repeats.
    /// </summary>
    public static (long RssGrowthBytes, long LiveTensorGrowth) Measure(Action action, int repeats, int warmup = 50)
    {
        for (int i = 0; i < warmup; i++) action();
        Settle();
        var rss0 = ResidentBytes();
        var tensors0 = torch.Tensor.TotalCount;
        for (int i = 0; i < repeats; i++) action();
        Settle();
        return (ResidentBytes() - rss0, torch.Tensor.TotalCount - tensors0);
    }

    private static void Settle()
    {
        for (int i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
    }
}
