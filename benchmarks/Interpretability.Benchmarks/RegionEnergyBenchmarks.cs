using System.ComponentModel;
using BenchmarkDotNet.Attributes;
using Interpretability.Ensembles;
using Interpretability.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Benchmarks;

/// <summary>
/// Region energies of all 460 synapses for a region mask: one <c>[N, P] × [P, T]</c> matrix product of the factors
/// (δ² summed over channels, weighted by the mask, against a²), against a per-synapse loop that builds each synapse's
/// Jacobian column δ_j·a_i and sums its squares over the region. Both start from the same precomputed factors.
/// </summary>
[Config(typeof(BenchConfig))]
[Description("Region energies E_R(s) of all 460 synapses of CoordNet-37/460 over a Size×Size picture from precomputed factors, one libtorch thread: one matrix product over pixels vs a per-synapse loop over Jacobian columns.")]
public class RegionEnergyBenchmarks : ISmokeTestable
{
    private CoordinateNetwork network = null!;
    private JacobianFactors factors = null!;
    private Tensor mask = null!;
    private IDisposable? threads;

    /// <summary>Side of the square picture (P = Size²).</summary>
    [Params(32, 128)]
    public int Size { get; set; }

    /// <inheritdoc />
    public void UseTinySizes() => Size = 4;

    /// <summary>Computes the factors and a disc-shaped region.</summary>
    [GlobalSetup]
    public void Setup()
    {
        threads = BenchSession.OneThread();
        network = new CoordinateNetwork(SynapseTopology.Article(), seed: 1);
        using var coords = PixelGrid.Square(Size).Coordinates();
        factors = SynapseJacobian.Compute(network, coords);
        mask = (coords.pow(2).sum(dim: 1) < 0.25f).to(ScalarType.Float32);
    }

    /// <summary>Naive: for each synapse, its Jacobian column and the sum of its squares over the region.</summary>
    [Benchmark(Baseline = true)]
    public double PerSynapseLoop()
    {
        using var e = RegionEnergy.PerSynapseLoop(factors, mask);
        return e[0].ToDouble();
    }

    /// <summary>The library: all synapses in one matrix product.</summary>
    [Benchmark]
    public double MatrixProduct()
    {
        using var e = RegionEnergy.FromFactors(factors, mask);
        return e[0, 0].ToDouble();
    }

    /// <summary>Frees the tensors.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        mask.Dispose();
        factors.Dispose();
        network.Dispose();
        threads?.Dispose();
    }
}
