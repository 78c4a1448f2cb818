using System.ComponentModel;
using BenchmarkDotNet.Attributes;
using Interpretability.Ensembles;
using Interpretability.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Benchmarks;

/// <summary>
/// The exact synapse Jacobian of the 460-synapse article network over a whole picture: one forward sweep and one
/// backward sweep batched over the output channels give the factors δ and a (every entry is δ·a), against the naive
/// baseline of one finite-difference forward pass per synapse. Also the factored form written out as the full
/// P × 3 × 460 tensor, for scale (it is memory-bound: 22.6 million numbers at 128×128).
/// </summary>
[Config(typeof(BenchConfig))]
[Description("Exact synapse Jacobian of CoordNet-37/460 over a Size×Size picture, one libtorch thread: factored (one forward + one channel-batched backward sweep) and factored then materialised [P, 3, 460], vs one forward-difference pass per synapse (461 forwards).")]
public class SynapseJacobianBenchmarks : ISmokeTestable
{
    private CoordinateNetwork network = null!;
    private Tensor coords = null!;
    private IDisposable? threads;

    /// <summary>Side of the square picture (P = Size²).</summary>
    [Params(32, 128)]
    public int Size { get; set; }

    /// <inheritdoc />
    public void UseTinySizes() => Size = 4;

    /// <summary>Builds the network and the pixel coordinates.</summary>
    [GlobalSetup]
    public void Setup()
    {
        threads = BenchSession.OneThread();
        network = new CoordinateNetwork(SynapseTopology.Article(), seed: 1);
        coords = PixelGrid.Square(Size).Coordinates();
    }

    /// <summary>Naive: one forward pass per synapse with its weight nudged, plus one unperturbed.</summary>
    [Benchmark(Baseline = true)]
    public long FiniteDifferencesOnePassPerSynapse()
    {
        using var j = SynapseJacobian.ForwardDifferences(network, coords);
        return j.shape[2];
    }

    /// <summary>The library: the factors δ [3, P, 37] and a [P, 39], from which any entry is one product.</summary>
    [Benchmark]
    public long Factored()
    {
        using var f = SynapseJacobian.Compute(network, coords);
        return f.PointCount;
    }

    /// <summary>The factors, then every entry written out: [P, 3, 460].</summary>
    [Benchmark]
    public long FactoredAndMaterialized()
    {
        using var f = SynapseJacobian.Compute(network, coords);
        using var j = f.Materialize();
        return j.shape[2];
    }

    /// <summary>Frees the tensors.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        coords.Dispose();
        network.Dispose();
        threads?.Dispose();
    }
}
