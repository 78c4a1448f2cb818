using System.Runtime.InteropServices;
using TorchSharp;

namespace Interpretability.Tests.Infrastructure;

/// <summary>The memory probe sees a real leak, of native bytes or of tensors, and not the garbage the GC has yet to collect.</summary>
[Collection(RunsAloneCollection.Name)]
public sealed class MemoryProbeTests
{
    [Fact]
    public void A_leak_of_native_bytes_is_caught()
    {
        // 64 KiB malloc'd and never freed per repeat, as a missing Dispose of a [128, 128] float32 tensor would leak.
        var leaked = new List<IntPtr>();
        try
        {
            var growth = MemoryProbe.Measure(() => leaked.Add(Marshal.AllocHGlobal(64 << 10)), repeats: 150, warmup: 0);
            Assert.True(growth.NativeBytes >= 150L * (64 << 10), $"the probe saw {growth.NativeBytes / 1024} KiB of a 9600 KiB leak");
            Assert.True(growth.NativeBytes > MemoryProbe.LeakThresholdBytes);
        }
        finally
        {
            foreach (var p in leaked) Marshal.FreeHGlobal(p);
        }
    }

    [Fact]
    public void A_leak_of_tensors_is_caught_in_both_counts()
    {
        var kept = new List<torch.Tensor>();
        try
        {
            var growth = MemoryProbe.Measure(() => kept.Add(torch.ones(128, 128)), repeats: 150, warmup: 0);
            Assert.Equal(450, growth.LiveTensors);
            Assert.True(growth.NativeBytes > MemoryProbe.LeakThresholdBytes, $"the probe saw {growth.NativeBytes / 1024} KiB of a 9600 KiB leak");
        }
        finally
        {
            foreach (var t in kept) t.Dispose();
        }
    }

    [Fact]
    public void Garbage_that_the_collector_has_not_yet_collected_is_not_a_leak()
    {
        // Undisposed tensors that nothing references are freed by their finalizers: no growth, whatever gen 0's budget.
        var growth = MemoryProbe.Measure(() => { _ = torch.ones(128, 128) * 2; }, repeats: 300, warmup: 10);
        Assert.Equal(0, growth.LiveTensors);
        Assert.True(growth.NativeBytes < MemoryProbe.LeakThresholdBytes, $"{growth.NativeBytes / 1024} KiB");
    }
}
