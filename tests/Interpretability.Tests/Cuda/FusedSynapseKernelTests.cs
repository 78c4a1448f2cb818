using Interpretability.Cuda;
using Interpretability.Ensembles;
using Interpretability.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Tests.Cuda;

/// <summary>
/// The fused ILGPU kernel (run on ILGPU's CPU accelerator here) against the TorchSharp implementation: two independent
/// implementations of the same region energies that must agree.
/// </summary>
public class FusedSynapseKernelTests
{
    private static Tensor DiscMask(PixelGrid grid, double cx, double cy, double r)
    {
        var c = grid.Coordinates(ScalarType.Float64);
        var d2 = (c.select(1, 0) - cx).pow(2) + (c.select(1, 1) - cy).pow(2);
        return (d2 < r * r).to(ScalarType.Float64);
    }

    [Theory]
    [InlineData("article", 20)]
    [InlineData("dense", 16)]
    [InlineData("random", 12)]
    public void Fused_kernel_region_energies_agree_with_the_TorchSharp_path(string preset, int size)
    {
        var topology = preset switch
        {
            "article" => SynapseTopology.Article(),
            "dense" => SynapseTopology.Dense(),
            _ => SynapseTopology.RandomDag(hidden: 20, outputs: 3, synapses: 150, seed: 4),
        };
        using var network = new CoordinateNetwork(topology, seed: 7, dtype: ScalarType.Float64);
        var grid = PixelGrid.Square(size);
        var coords = grid.Coordinates(ScalarType.Float64);
        var inside = DiscMask(grid, 0.2, -0.1, 0.45);
        var weights = stack(new[] { inside, 1 - inside });                                      // [2, P]
        var reference = RegionEnergy.Compute(network, coords, weights);                         // [2, S] float64
        using var kernel = new FusedSynapseKernel(KernelAccelerator.Cpu);
        var fused = kernel.RegionEnergies(network, coords, weights);
        Assert.Equal(reference.shape, fused.shape);
        // float32 activations in the kernel against float64: relative to each region's total energy.
        var scale = reference.sum(1, keepdim: true);
        var err = ((fused - reference).abs() / scale).max().item<double>();
        Assert.True(err < 1e-5, $"max |fused - torch| / total = {err:E2}");
        // Per synapse, where the energy is not negligible.
        var big = reference > scale * 1e-4;
        var rel = ((fused - reference).abs() / reference.clamp_min(1e-30)).masked_select(big).max().item<double>();
        Assert.True(rel < 2e-3, $"max relative error on significant synapses = {rel:E2}");
    }

    [Fact]
    public void Shared_and_global_accumulation_agree()
    {
        // Many weightings push the accumulators out of shared memory into global atomics.
        var topology = SynapseTopology.Article();
        using var network = new CoordinateNetwork(topology, seed: 3, dtype: ScalarType.Float64);
        var grid = PixelGrid.Square(10);
        var coords = grid.Coordinates(ScalarType.Float64);
        using var gen = new Generator(5);
        var many = rand(new long[] { 12, grid.PixelCount }, generator: gen, dtype: ScalarType.Float64);   // 12 × 460 × 8 B > 40 KB
        using var kernel = new FusedSynapseKernel(KernelAccelerator.Cpu);
        var all = kernel.RegionEnergies(network, coords, many);
        var first = kernel.RegionEnergies(network, coords, many.narrow(0, 0, 2));              // fits in shared memory
        Assert.True(all.narrow(0, 0, 2).allclose(first, rtol: 1e-9, atol: 1e-12));
    }

    [Fact]
    public void Bad_inputs_are_named()
    {
        using var network = new CoordinateNetwork(SynapseTopology.Article(), seed: 1);
        using var kernel = new FusedSynapseKernel(KernelAccelerator.Cpu);
        var coords = PixelGrid.Square(4).Coordinates();
        var e = Assert.Throws<ArgumentException>(() => kernel.RegionEnergies(network, coords, ones(2, 15)));
        Assert.Contains("[K, 16]", e.Message);
        Assert.Throws<ArgumentException>(() => kernel.RegionEnergies(network, ones(16, 3), ones(16)));
    }
}
