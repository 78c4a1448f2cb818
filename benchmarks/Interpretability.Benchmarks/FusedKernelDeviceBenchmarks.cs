using System.ComponentModel;
using BenchmarkDotNet.Attributes;
using Interpretability.Cuda;
using Interpretability.Ensembles;
using Interpretability.Nn;

namespace Interpretability.Benchmarks;

/// <summary>
/// The fused synapse kernel on plain arrays (no libtorch needed, so it runs on a GPU machine with only the driver):
/// ILGPU's CPU accelerator as the baseline against the first CUDA GPU. Where ILGPU sees no GPU the GPU method falls back
/// to the CPU accelerator and its ratio is 1 — RESULTS.md then says so in the accelerator column.
/// </summary>
[Config(typeof(BenchConfig))]
[Description("Fused synapse kernel on plain arrays (runs with the NVIDIA driver alone): ILGPU CPU accelerator (baseline) vs the CUDA GPU (Auto; falls back to the CPU accelerator where no GPU is visible).")]
public class FusedKernelDeviceBenchmarks : ISmokeTestable
{
    private FusedSynapseKernel cpu = null!, device = null!;
    private (SynapseTopology Topology, double[] Weights, double[] Biases, float[] Coords, float[] Masks, int Points) problem;

    /// <summary>Side of the square picture.</summary>
    [Params(64, 256)]
    public int Size { get; set; }

    /// <inheritdoc />
    public void UseTinySizes() => Size = 8;

    /// <summary>Compiles the kernel on both accelerators.</summary>
    [GlobalSetup]
    public void Setup()
    {
        problem = GpuSelfCheck.Problem(Size);
        cpu = new FusedSynapseKernel(KernelAccelerator.Cpu);
        device = new FusedSynapseKernel(KernelAccelerator.Auto);
        Console.WriteLine($"// fused kernel device: {device.AcceleratorName} (GPU: {device.IsGpu})");
        CpuAccelerator();
        Device();
    }

    /// <summary>ILGPU's CPU accelerator.</summary>
    [Benchmark(Baseline = true)]
    public double CpuAccelerator() => Run(cpu);

    /// <summary>The first CUDA GPU (or the CPU accelerator where none is visible).</summary>
    [Benchmark]
    public double Device() => Run(device);

    private double Run(FusedSynapseKernel k) =>
        k.RegionEnergies(problem.Topology, problem.Weights, problem.Biases, problem.Coords, problem.Masks, problem.Points, 2)[0];

    /// <summary>Frees the accelerators.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        cpu.Dispose();
        device.Dispose();
    }
}
