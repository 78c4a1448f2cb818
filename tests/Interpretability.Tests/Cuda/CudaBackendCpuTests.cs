using Interpretability.Cuda;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Tests.Cuda;

/// <summary>The parts of the CUDA backend that run (and must behave) on a machine without a GPU.</summary>
public class CudaBackendCpuTests
{
    [Fact]
    public void Batch_sizer_halves_on_out_of_memory_and_remembers_what_fit()
    {
        var sizer = new AutoBatchSizer();
        var tried = new List<int>();
        // A device that fits at most 12 items per batch.
        var result = sizer.Run("model:3x64x64", 64, b =>
        {
            tried.Add(b);
            if (b > 12) throw new ExternalLikeException("CUDA out of memory. Tried to allocate 2.00 GiB");
            return b * 10;
        });
        Assert.Equal(new[] { 64, 32, 16, 8 }, tried);
        Assert.Equal(80, result);
        Assert.Equal(8, sizer.Remembered("model:3x64x64"));
        tried.Clear();
        sizer.Run("model:3x64x64", 64, b => { tried.Add(b); return 0; });
        Assert.Equal(new[] { 8 }, tried); // starts from the remembered size
        Assert.Null(sizer.Remembered("other"));
    }

    [Fact]
    public void Batch_sizer_lets_other_errors_through_and_gives_up_below_one()
    {
        var sizer = new AutoBatchSizer();
        Assert.Throws<ArgumentException>(() => sizer.Run<int>("k", 8, _ => throw new ArgumentException("shape mismatch")));
        var e = Assert.Throws<InsufficientMemoryException>(() => sizer.Run<int>("k2", 4, _ => throw new ExternalLikeException("out of memory")));
        Assert.Contains("batch size 1", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => sizer.Run("k3", 0, b => b));
    }

    [Fact]
    public void Work_splitter_keeps_input_order_across_devices_and_reports_failures()
    {
        var items = Enumerable.Range(0, 23).ToList();
        var devices = new[] { CPU, CPU, CPU };
        var seen = new System.Collections.Concurrent.ConcurrentBag<int>();
        var results = WorkSplitter.Map(items, devices, (i, d) =>
        {
            seen.Add(Environment.CurrentManagedThreadId);
            using var t = tensor((float)i, device: d);
            return (t * 2).item<float>();
        });
        Assert.Equal(items.Select(i => 2f * i), results);
        Assert.True(seen.Distinct().Count() >= 2, "work ran on one thread only");
        var error = Assert.Throws<AggregateException>(() => WorkSplitter.Map(items, devices, (i, d) => i == 7 ? throw new InvalidOperationException("item 7") : i));
        Assert.Contains(error.InnerExceptions, x => x.Message == "item 7");
    }

    [Fact]
    public void Discovery_fails_soft_without_a_gpu()
    {
        var inventory = CudaDevices.Discover();
        if (inventory.TorchCudaAvailable) return; // on a GPU machine there is nothing soft to check
        Assert.Equal(0, inventory.TorchDeviceCount);
        Assert.False(string.IsNullOrEmpty(inventory.Note));
    }

    [Theory]
    [InlineData("cpu", true)]
    [InlineData("cuda", true)]
    [InlineData("cuda:3", true)]
    [InlineData("gpu", false)]
    [InlineData("cuda:", false)]
    [InlineData("CPU", false)]
    public void Device_names_are_validated(string name, bool valid) => Assert.Equal(valid, DevicePolicy.IsValidDeviceName(name));

    [Fact]
    public void Resolving_cuda_without_a_gpu_says_what_is_missing()
    {
        if (DevicePolicy.CudaAvailable) return;
        var e = Assert.Throws<CudaUnavailableException>(() => DevicePolicy.Resolve("cuda:0"));
        Assert.Contains("TorchBackend=cuda", e.Message);
        Assert.Equal(DeviceType.CPU, DevicePolicy.Resolve("cpu").Device.type);
    }

    [Fact]
    public void Loading_libtorch_from_a_folder_that_is_not_one_names_the_missing_library()
    {
        var dir = Directory.CreateTempSubdirectory("not-libtorch-").FullName;
        try
        {
            var e = Assert.Throws<FileNotFoundException>(() => NativeLibtorch.LoadFrom(dir));
            Assert.Contains("libc10.so", e.Message);
            Assert.Throws<DirectoryNotFoundException>(() => NativeLibtorch.LoadFrom(Path.Combine(dir, "nope")));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>Stands in for libtorch's ExternalException carrying an allocator message.</summary>
    private sealed class ExternalLikeException(string message) : System.Runtime.InteropServices.ExternalException(message);
}
