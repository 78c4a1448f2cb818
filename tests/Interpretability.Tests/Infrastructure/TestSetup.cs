using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;

namespace Interpretability.Tests.Infrastructure;

/// <summary>
/// The test run's <see cref="TorchSession"/>, started once before any test: one intra-op thread per operation (xunit runs
/// test classes side by side, one per core, so more threads would only oversubscribe the cores), quiet libtorch, and the
/// CPU convolution check at once.
/// </summary>
internal static class TestSession
{
    /// <summary>The session.</summary>
    public static TorchSession Instance { get; private set; } = null!;

    [ModuleInitializer]
    internal static void Initialize() =>
        Instance = TorchSession.Start(new TorchSessionOptions(Threads: 1, CheckCpuConvolution: true));
}

/// <summary>
/// The tests that run alone, never beside other tests: memory measurements (another test's allocations would be counted)
/// and the tests of the oneDNN switch (a process-wide setting, which the session scopes).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RunsAloneCollection
{
    /// <summary>Collection name.</summary>
    public const string Name = "Runs alone: memory measurements and the oneDNN switch";
}

/// <summary>What a memory measurement found over the measured repeats.</summary>
/// <param name="NativeBytes">Growth of the bytes the C allocator has handed out and not taken back (all arenas, mmapped
/// chunks included), read after a full garbage collection with finalizers and <c>malloc_trim</c>.</param>
/// <param name="LiveTensors">Growth of the number of live TorchSharp tensors.</param>
public sealed record MemoryGrowth(long NativeBytes, long LiveTensors)
{
    /// <summary>Deconstructs into (native bytes, live tensors).</summary>
    public void Deconstruct(out long nativeBytes, out long liveTensors) => (nativeBytes, liveTensors) = (NativeBytes, LiveTensors);
}

/// <summary>
/// Measures what cannot be noise: live tensors, and the bytes in use of the C allocator (<c>mallinfo2</c>: libtorch's CPU
/// tensors live there) after the managed garbage is collected and its finalizers have run. The resident set is not used:
/// it also counts glibc's free lists and the garbage the GC has not collected yet, whose size follows the host (its gen-0
/// budget follows the cache size), so an RSS bound passes on one host and fails on another.
/// </summary>
public static class MemoryProbe
{
    /// <summary>The growth per third a memory test allows: below a leak of one [1, 3, 64, 64] float32 image per repeat
    /// over 100 repeats (4.7 MiB), above the allocator's bookkeeping (below 0.3 MiB per third here, once the one-time
    /// steps are taken out).</summary>
    public const long LeakThresholdBytes = 4L << 20;

    /// <summary>Bytes in use by the C allocator after a full collection with finalizers and <c>malloc_trim(0)</c>.</summary>
    public static long NativeBytesInUse()
    {
        Settle();
        if (!OperatingSystem.IsLinux()) return GC.GetTotalMemory(true);
        var info = MallInfo2();
        return (long)(info.Uordblks + info.Hblkhd);
    }

    /// <summary>
    /// Runs <paramref name="action"/> <paramref name="warmup"/> times (caches, pools, lazily built constants, the JIT's
    /// first tiers), then three times <paramref name="repeats"/> times, reading the native bytes in use before, between
    /// and after. A leak grows every third alike; what happens once (the JIT promoting a method to its next tier, a cache
    /// reaching its size, an allocator keeping or dropping a larger buffer) moves one third only, by steps of up to 4 MiB
    /// seen here, in either direction. So <see cref="MemoryGrowth.NativeBytes"/> is the median of the three thirds'
    /// growths, which one such step cannot move past the others, and <see cref="MemoryGrowth.LiveTensors"/> the growth of
    /// live tensors over all three.
    /// </summary>
    public static MemoryGrowth Measure(Action action, int repeats, int warmup = 30)
    {
        for (int i = 0; i < warmup; i++) action();
        var bytes = new long[4];
        bytes[0] = NativeBytesInUse();
        var tensors0 = torch.Tensor.TotalCount;
        for (int third = 1; third <= 3; third++)
        {
            for (int i = 0; i < repeats; i++) action();
            bytes[third] = NativeBytesInUse();
        }
        var growths = new[] { bytes[1] - bytes[0], bytes[2] - bytes[1], bytes[3] - bytes[2] }.Order().ToArray();
        return new MemoryGrowth(growths[1], torch.Tensor.TotalCount - tensors0);
    }

    /// <summary>The live tensor count after the garbage (and the tensors it owned) is collected.</summary>
    public static long LiveTensors()
    {
        Settle();
        return torch.Tensor.TotalCount;
    }

    private static void Settle()
    {
        for (int i = 0; i < 3; i++)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }
        if (OperatingSystem.IsLinux()) MallocTrim(0);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MallInfo
    {
        public nuint Arena, Ordblks, Smblks, Hblks, Hblkhd, Usmblks, Fsmblks, Uordblks, Fordblks, Keepcost;
    }

    [DllImport("libc", EntryPoint = "mallinfo2")]
    private static extern MallInfo MallInfo2();

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);
}
