using FsCheck;
using FsCheck.Xunit;
using Interpretability.Ensembles;
using Interpretability.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Tests.Ensembles;

public class EnsembleTests
{
    /// <summary>A 1-input chain x → n0 → n1 … so synapses have known targets (synapse s ends at neuron s).</summary>
    private static SynapseTopology Chain(int n) =>
        new(1, n, Enumerable.Range(0, n).Select(j => (j, j + 1)).ToArray(), new[] { n - 1 });

    [Fact]
    public void The_ensemble_is_the_smallest_selective_prefix_reaching_the_share()
    {
        // Energies inside: 50, 30, 10, 6, 4 (total 100); synapse 1 is not selective (outside density too high).
        var e = new RegionEnergies(new[] { 50.0, 30, 10, 6, 4 }, new[] { 1.0, 300, 1, 1, 1 }, insidePixels: 10, outsidePixels: 10);
        var ens = RegionEnsemble.Find(Chain(5), e, new EnsembleOptions(Share: 0.6, MinSelectivity: 2));
        // Candidates by energy: 0 (50), 2 (10), 3 (6), 4 (4): 50 → 60 reaches 60% after two.
        Assert.Equal(new[] { 0, 2 }, ens.Synapses);
        Assert.True(ens.Reached);
        Assert.Equal(0.6, ens.Coverage, 12);
        Assert.Equal(2.0 / 304, ens.Leakage, 12);
        Assert.Equal(new[] { 0, 2 }, ens.TargetNeurons);
        Assert.Equal(new[] { 1 }, ens.SourceNeurons);          // synapse 2 is n1→n2; synapse 0 starts at the input
        Assert.Equal(0.4, ens.Fraction, 12);
        Assert.Equal(4, ens.CandidateCount);
    }

    [Fact]
    public void When_the_candidates_cannot_reach_the_share_all_are_returned_and_flagged()
    {
        var e = new RegionEnergies(new[] { 50.0, 30, 20 }, new[] { 1.0, 300, 300 }, 10, 10);
        var ens = RegionEnsemble.Find(Chain(3), e);          // q = 0.8, only synapse 0 is selective
        Assert.Equal(new[] { 0 }, ens.Synapses);
        Assert.False(ens.Reached);
        Assert.Equal(0.5, ens.Coverage, 12);
    }

    [Fact]
    public void A_region_no_synapse_touches_has_no_ensemble()
    {
        var e = new RegionEnergies(new[] { 0.0, 0.0 }, new[] { 1.0, 1.0 }, 10, 10);
        Assert.Contains("zero", Assert.Throws<ArgumentException>(() => RegionEnsemble.Find(Chain(2), e)).Message);
    }

    [Fact]
    public void The_gram_matrix_equals_jacobian_transpose_times_jacobian_with_pixel_weights()
    {
        using var net = new CoordinateNetwork(PlainNetwork.SmallDag(5), seed: 2, dtype: ScalarType.Float64);
        var g = PixelGrid.Square(7);
        using var coords = g.Coordinates(ScalarType.Float64);
        using var w = rand(new long[] { 49 }, dtype: float64, generator: new Generator(4));
        using var gram = SynapseGram.Compute(net, coords, w, chunkPixels: 10);
        using var j = SynapseJacobian.CentralDifferences(net, coords, 1e-5);           // [P, O, S], independent of the factors
        using var expected = einsum("pcs,p,pct->st", j, w, j);
        Assert.True((gram - expected).abs().max().ToDouble() < 1e-7 * expected.abs().max().ToDouble());
        // A subset is the sub-matrix.
        using var sub = SynapseGram.Compute(net, coords, w, new[] { 3, 0, 7 });
        var idx = tensor(new long[] { 3, 0, 7 });
        Assert.True((sub - expected.index_select(0, idx).index_select(1, idx)).abs().max().ToDouble() < 1e-7 * expected.abs().max().ToDouble());
    }

    [Fact]
    public void Agglomerative_clustering_recovers_blocks_of_similar_effect_maps()
    {
        // Six synapses whose effect maps are two groups of near-parallel vectors (one sign-flipped: same pixels).
        var maps = new double[,]
        {
            { 1, 0.1, 0, 0 }, { -1, -0.05, 0, 0.02 }, { 2, 0.3, 0.01, 0 },
            { 0, 0, 1, 0.9 }, { 0, 0.02, -2, -2 }, { 0.01, 0, 0.5, 0.4 },
        };
        using var m = tensor(maps, dtype: float64);
        using var gram = m.matmul(m.t());
        var clusters = SynapseClustering.Agglomerative(Chain(6), gram, 2);
        var sets = clusters.Select(c => c.Synapses.Order().ToArray()).OrderBy(s => s[0]).ToList();
        Assert.Equal(new[] { 0, 1, 2 }, sets[0]);
        Assert.Equal(new[] { 3, 4, 5 }, sets[1]);
        Assert.True(clusters.All(c => c.MeanAbsCosine > 0.95));
    }

    [Fact]
    public void The_generalised_eigenproblem_of_diagonal_matrices_has_the_ratios_as_eigenvalues()
    {
        using var a = diag(tensor(new[] { 1.0, 6.0, 2.0 }, dtype: float64));
        using var b = diag(tensor(new[] { 1.0, 2.0, 4.0 }, dtype: float64));
        var (values, vectors) = EnsembleEditing.Generalized(a, b, 1e-12);
        Assert.Equal(3.0, values[0], 9);
        Assert.Equal(1.0, values[1], 9);
        Assert.Equal(0.5, values[2], 9);
        Assert.Equal(1.0, Math.Abs(vectors[1, 0].ToDouble()), 9);                       // the top direction is axis 1
        vectors.Dispose();
    }

    [Property(MaxTest = 25)]
    public bool The_top_generalised_eigenvector_solves_the_problem_and_beats_every_random_direction(int seed)
    {
        using var scope = NewDisposeScope();
        using var gen = new Generator((ulong)seed);
        var x = randn(new long[] { 30, 6 }, dtype: float64, generator: gen);
        var y = randn(new long[] { 30, 6 }, dtype: float64, generator: gen);
        var a = x.t().matmul(x);
        var b = y.t().matmul(y);
        const double eps = 1e-3;
        var (values, vectors) = EnsembleEditing.Generalized(a, b, eps);
        var bEps = b + eye(6, dtype: float64) * eps;
        var d = vectors[TensorIndex.Colon, 0];
        var residual = (a.matmul(d) - bEps.matmul(d) * values[0]).abs().max().ToDouble();
        if (residual > 1e-8 * values[0] * bEps.abs().max().ToDouble()) return false;
        for (int k = 0; k < 50; k++)
        {
            var r = randn(new long[] { 6 }, dtype: float64, generator: gen);
            var q = r.dot(a.matmul(r)).ToDouble() / r.dot(bEps.matmul(r)).ToDouble();
            if (q > values[0] * (1 + 1e-9)) return false;
        }
        return values.Zip(values.Skip(1), (p, n) => p >= n).All(v => v);
    }
}
