using System.Diagnostics;
using Interpretability.Ensembles;
using Interpretability.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Cuda;

/// <summary>Outcome of one GPU check.</summary>
public enum CheckStatus
{
    /// <summary>The check ran and its result held.</summary>
    Passed,

    /// <summary>The check ran and its result did not hold.</summary>
    Failed,

    /// <summary>The check could not run here (the reason is in the detail).</summary>
    Skipped,
}

/// <summary>One check's result.</summary>
/// <param name="Name">Check name (kebab-case).</param>
/// <param name="Status">Passed, failed or skipped.</param>
/// <param name="Detail">What was measured, or why it was skipped.</param>
/// <param name="Seconds">Wall-clock time.</param>
public sealed record CheckResult(string Name, CheckStatus Status, string Detail, double Seconds);

/// <summary>
/// Correctness of every GPU kernel against its CPU result, runnable without the .NET SDK (the GPU archive of
/// <c>./build.sh publish-gpu</c> runs it) and from xunit (<c>tests/Interpretability.Cuda.Tests</c>). Each check is
/// skipped, with the reason, where its prerequisite (a CUDA device for ILGPU, libtorch with CUDA) is missing.
/// </summary>
public static class GpuSelfCheck
{
    /// <summary>Relative tolerance of GPU against CPU energies (float32 kernel, float64 accumulation).</summary>
    public const double EnergyTolerance = 1e-5;

    /// <summary>Runs every check.</summary>
    public static IReadOnlyList<CheckResult> RunAll() => new[]
    {
        Timed("ilgpu-cuda-device", IlgpuCudaDevice),
        Timed("fused-kernel-gpu-vs-ilgpu-cpu", FusedKernelGpuVersusCpu),
        Timed("torch-cuda-matmul-vs-cpu", TorchCudaMatmul),
        Timed("fused-kernel-gpu-vs-torch-cpu", FusedKernelGpuVersusTorch),
        Timed("torch-cuda-out-of-memory-is-clear", TorchCudaOutOfMemory),
    };

    /// <summary>ILGPU finds a CUDA device (the NVIDIA driver is present).</summary>
    public static CheckResult IlgpuCudaDevice() => Timed("ilgpu-cuda-device", () =>
    {
        using var k = new FusedSynapseKernel(KernelAccelerator.Cuda);
        return (CheckStatus.Passed, $"ILGPU runs on {k.AcceleratorName}");
    });

    /// <summary>The fused kernel on the GPU equals the same kernel on ILGPU's CPU accelerator (plain arrays; no libtorch needed).</summary>
    public static CheckResult FusedKernelGpuVersusCpu() => Timed("fused-kernel-gpu-vs-ilgpu-cpu", () =>
    {
        var (topology, w, b, coords, masks, P) = Problem(48);
        using var gpu = new FusedSynapseKernel(KernelAccelerator.Cuda);
        using var cpu = new FusedSynapseKernel(KernelAccelerator.Cpu);
        var eg = gpu.RegionEnergies(topology, w, b, coords, masks, P, 2);
        var ec = cpu.RegionEnergies(topology, w, b, coords, masks, P, 2);
        var err = MaxRelative(eg, ec, topology.SynapseCount);
        return (err < EnergyTolerance ? CheckStatus.Passed : CheckStatus.Failed,
            $"max |gpu − cpu| / region total = {err:E2} over {topology.SynapseCount} synapses × {P} pixels on {gpu.AcceleratorName}");
    });

    /// <summary>A TorchSharp matrix product on CUDA equals the CPU's.</summary>
    public static CheckResult TorchCudaMatmul() => Timed("torch-cuda-matmul-vs-cpu", () =>
    {
        RequireTorchCuda();
        using var scope = NewDisposeScope();
        using var gen = new Generator(1);
        var a = randn(new long[] { 256, 256 }, generator: gen);
        var cpu = a.matmul(a);
        var gpu = a.cuda().matmul(a.cuda()).cpu();
        var err = (cpu - gpu).abs().max().item<float>() / cpu.abs().max().item<float>();
        return (err < 1e-3 ? CheckStatus.Passed : CheckStatus.Failed, $"max relative difference {err:E2}");
    });

    /// <summary>The fused kernel on the GPU equals TorchSharp's op-by-op region energies in float64 on the CPU.</summary>
    public static CheckResult FusedKernelGpuVersusTorch() => Timed("fused-kernel-gpu-vs-torch-cpu", () =>
    {
        RequireTorch();
        using var scope = NewDisposeScope();
        using var network = new CoordinateNetwork(SynapseTopology.Article(), seed: 2, dtype: ScalarType.Float64);
        var grid = PixelGrid.Square(64);
        var coords = grid.Coordinates(ScalarType.Float64);
        var d2 = (coords.select(1, 0) + 0.1).pow(2) + (coords.select(1, 1) - 0.3).pow(2);
        var inside = (d2 < 0.16).to(ScalarType.Float64);
        var weights = stack(new[] { inside, 1 - inside });
        var reference = RegionEnergy.Compute(network, coords, weights);
        using var kernel = new FusedSynapseKernel(KernelAccelerator.Cuda);
        var fused = kernel.RegionEnergies(network, coords, weights);
        var err = ((fused - reference).abs() / reference.sum(1, keepdim: true)).max().item<double>();
        return (err < EnergyTolerance ? CheckStatus.Passed : CheckStatus.Failed, $"max |gpu − torch| / region total = {err:E2} on {kernel.AcceleratorName}");
    });

    /// <summary>Running out of GPU memory is an exception the batch sizer recognises, never a native crash.</summary>
    public static CheckResult TorchCudaOutOfMemory() => Timed("torch-cuda-out-of-memory-is-clear", () =>
    {
        RequireTorchCuda();
        var sizer = new AutoBatchSizer();
        // Ask for batches of 64 GiB-sized float32 buffers on a device that cannot hold them; the sizer must halve down.
        var fitted = sizer.Run("oom-check", 1 << 16, batch =>
        {
            using var scope = NewDisposeScope();
            var t = empty(new long[] { batch, 1L << 18 }, device: CUDA);   // batch × 1 MiB
            return batch;
        });
        return (CheckStatus.Passed, $"largest batch of 1 MiB rows that fit: {fitted} (started at 65536 = 64 GiB); out-of-memory surfaced as a catchable exception");
    });

    private static void RequireTorch()
    {
        try { _ = torch.get_num_threads(); }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or NotSupportedException)
        {
            throw new SkipException($"libtorch is not loaded ({e.GetType().Name}); set {NativeLibtorch.DirectoryVariable} to a libtorch 2.10 lib folder");
        }
    }

    private static void RequireTorchCuda()
    {
        RequireTorch();
        if (!DevicePolicy.CudaAvailable) throw new SkipException("TorchSharp sees no CUDA device (CPU natives, or no GPU)");
    }

    private sealed class SkipException(string reason) : Exception(reason);

    private static CheckResult Timed(string name, Func<CheckResult> check) => check();

    private static CheckResult Timed(string name, Func<(CheckStatus, string)> check)
    {
        var watch = Stopwatch.StartNew();
        try
        {
            var (status, detail) = check();
            return new CheckResult(name, status, detail, watch.Elapsed.TotalSeconds);
        }
        catch (SkipException e)
        {
            return new CheckResult(name, CheckStatus.Skipped, e.Message, watch.Elapsed.TotalSeconds);
        }
        catch (InvalidOperationException e) when (e.Message.Contains("No CUDA device is visible to ILGPU"))
        {
            return new CheckResult(name, CheckStatus.Skipped, e.Message, watch.Elapsed.TotalSeconds);
        }
        catch (Exception e)
        {
            return new CheckResult(name, CheckStatus.Failed, $"{e.GetType().Name}: {e.Message}", watch.Elapsed.TotalSeconds);
        }
    }

    /// <summary>The article network with seeded random weights, a square picture and an inside/outside disc mask, as plain arrays.</summary>
    internal static (SynapseTopology Topology, double[] Weights, double[] Biases, float[] Coords, float[] Masks, int Points) Problem(int size)
    {
        var topology = SynapseTopology.Article();
        var rng = new Random(5);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        var w = Enumerable.Range(0, topology.SynapseCount).Select(s => Normal() / Math.Sqrt(topology.FanIn(topology.TargetNeuron(s)))).ToArray();
        var b = Enumerable.Range(0, topology.NeuronCount).Select(_ => 0.3 * Normal()).ToArray();
        int P = size * size;
        var coords = new float[2 * P];
        var masks = new float[2 * P];
        for (int r = 0; r < size; r++)
            for (int c = 0; c < size; c++)
            {
                int p = r * size + c;
                float x = -1f + (2f * c + 1f) / size, y = -1f + (2f * r + 1f) / size;   // pixel centres in (−1, 1)
                coords[2 * p] = x;
                coords[2 * p + 1] = y;
                var inside = (x - 0.2f) * (x - 0.2f) + y * y < 0.2f ? 1f : 0f;
                masks[p] = inside;
                masks[P + p] = 1 - inside;
            }
        return (topology, w, b, coords, masks, P);
    }

    private static double MaxRelative(double[] a, double[] b, int S)
    {
        double worst = 0;
        for (int k = 0; k < a.Length / S; k++)
        {
            double total = 0;
            for (int s = 0; s < S; s++) total += Math.Abs(b[k * S + s]);
            for (int s = 0; s < S; s++) worst = Math.Max(worst, Math.Abs(a[k * S + s] - b[k * S + s]) / Math.Max(total, 1e-300));
        }
        return worst;
    }
}
