using System.ComponentModel;
using BenchmarkDotNet.Attributes;
using Interpretability.Cuda;
using Interpretability.Ensembles;
using Interpretability.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Benchmarks;

/// <summary>
/// Region energies of all 460 synapses of the article network over a picture: the fused ILGPU kernel (one thread per
/// pixel: forward, per-channel deltas, energies in one launch) against the TorchSharp op-by-op path. On a machine without
/// a GPU the kernel runs on ILGPU's CPU accelerator, which emulates GPU thread groups with CPU threads.
/// </summary>
[Config(typeof(BenchConfig))]
[Description("Fused per-pixel synapse kernel (ILGPU; CPU accelerator here, CUDA where a GPU is present) vs the TorchSharp op-by-op region energies, article network (460 synapses), inside/outside a disc.")]
public class FusedSynapseKernelBenchmarks : ISmokeTestable
{
    private CoordinateNetwork network = null!;
    private Tensor coords = null!;
    private Tensor weights = null!;
    private FusedSynapseKernel kernel = null!;

    /// <summary>Side of the square picture.</summary>
    [Params(64, 128)]
    public int Size { get; set; }

    /// <summary>Which accelerator the fused kernel uses.</summary>
    [Params(KernelAccelerator.Auto)]
    public KernelAccelerator Accelerator { get; set; }

    /// <inheritdoc />
    public void UseTinySizes()
    {
        Size = 8;
        Accelerator = KernelAccelerator.Cpu;
    }

    /// <summary>Builds the network, the pixels and the masks, and compiles the kernel.</summary>
    [GlobalSetup]
    public void Setup()
    {
        network = new CoordinateNetwork(SynapseTopology.Article(), seed: 1);
        var grid = PixelGrid.Square(Size);
        coords = grid.Coordinates();
        var d2 = (coords.select(1, 0) - 0.2f).pow(2) + coords.select(1, 1).pow(2);
        var inside = (d2 < 0.2f).to(ScalarType.Float32);
        weights = stack(new[] { inside, 1 - inside });
        kernel = new FusedSynapseKernel(Accelerator);
        kernel.RegionEnergies(network, coords, weights).Dispose();   // compile outside the measurement
    }

    /// <summary>The TorchSharp path: factored Jacobian and matrix products over pixels.</summary>
    [Benchmark(Baseline = true)]
    public double TorchSharpOpByOp()
    {
        using var e = RegionEnergy.Compute(network, coords, weights);
        return e[0, 0].ToDouble();
    }

    /// <summary>The fused ILGPU kernel.</summary>
    [Benchmark]
    public double FusedKernel()
    {
        using var e = kernel.RegionEnergies(network, coords, weights);
        return e[0, 0].ToDouble();
    }

    /// <summary>Frees everything.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        kernel.Dispose();
        network.Dispose();
        coords.Dispose();
        weights.Dispose();
    }
}
