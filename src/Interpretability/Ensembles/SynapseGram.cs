using Interpretability.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Ensembles;

/// <summary>
/// The Gram matrix of synapse effect maps: <c>G[s, t] = Σ_p m(p) Σ_c J[p, c, s] J[p, c, t]</c> — how much two synapses
/// change the same pixels in the same way (synapse similarity; with a region mask, the quadratic form of the
/// region's change under a weight direction: <c>‖ΔO_R‖² ≈ Δwᵀ G_R Δw</c>). Accumulated over chunks of pixels, each
/// chunk's Jacobian columns built from the factors and multiplied out.
/// </summary>
public static class SynapseGram
{
    private static readonly Scalar TinyDenominator = 1e-300.ToScalar();   // a floor for the norm products, alive for the process

    /// <summary>Gram matrix over the pixels of a picture.</summary>
    /// <param name="network">The network.</param>
    /// <param name="grid">The pixel grid.</param>
    /// <param name="weights">Optional <c>[H, W]</c> or <c>[P]</c> pixel weights in [0, 1] (a region); default every pixel.</param>
    /// <param name="synapses">Restrict to these synapses (default all), in this order.</param>
    /// <param name="chunkPixels">Pixels per chunk (default: about 8 million Jacobian entries per chunk).</param>
    /// <returns><c>[k, k]</c> float64 on the CPU.</returns>
    public static Tensor Compute(CoordinateNetwork network, PixelGrid grid, Tensor? weights = null, IReadOnlyList<int>? synapses = null, int chunkPixels = 0)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(grid);
        using var scope = NewDisposeScope();
        var coords = grid.Coordinates(network.DType, network.Device);
        Tensor? m = null;
        if (weights is not null)
        {
            var ok = weights.numel() == grid.PixelCount && (weights.dim() == 1 || (weights.dim() == 2 && weights.shape[0] == grid.Height && weights.shape[1] == grid.Width));
            if (!ok) throw new ArgumentException($"weights must be [{grid.Height}, {grid.Width}] or [{grid.PixelCount}]; got [{string.Join(", ", weights.shape)}].", nameof(weights));
            m = weights.reshape(-1);
        }
        return Compute(network, coords, m, synapses, chunkPixels).MoveToOuterDisposeScope();
    }

    /// <summary>Gram matrix over a batch of points.</summary>
    /// <param name="network">The network.</param>
    /// <param name="coords"><c>[P, I]</c>.</param>
    /// <param name="weights">Optional <c>[P]</c> non-negative weights.</param>
    /// <param name="synapses">Restrict to these synapses (default all).</param>
    /// <param name="chunkPixels">Pixels per chunk (0 = automatic).</param>
    /// <returns><c>[k, k]</c> float64 on the CPU.</returns>
    public static Tensor Compute(CoordinateNetwork network, Tensor coords, Tensor? weights, IReadOnlyList<int>? synapses = null, int chunkPixels = 0)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(coords);
        var t = network.Topology;
        synapses ??= Enumerable.Range(0, t.SynapseCount).ToArray();
        if (synapses.Count == 0) throw new ArgumentException("At least one synapse is required.", nameof(synapses));
        foreach (var s in synapses)
            if (s < 0 || s >= t.SynapseCount) throw new ArgumentOutOfRangeException(nameof(synapses), s, $"Synapses are numbered 0…{t.SynapseCount - 1}.");
        long P = coords.shape[0];
        if (weights is not null && weights.numel() != P)
            throw new ArgumentException($"weights must hold one value per point ({P}); got [{string.Join(", ", weights.shape)}].", nameof(weights));
        int k = synapses.Count;
        if (chunkPixels <= 0) chunkPixels = (int)Math.Clamp(8_000_000L / (t.OutputCount * (long)k), 256, 1 << 20);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var src = tensor(synapses.Select(s => (long)t.Sources[s]).ToArray(), device: network.Device);
        var tgt = tensor(synapses.Select(s => (long)(t.Targets[s] - t.InputCount)).ToArray(), device: network.Device);
        var w = weights?.reshape(-1).to(network.DType, network.Device);
        var gram = zeros(k, k, dtype: ScalarType.Float64, device: network.Device);
        for (long start = 0; start < P; start += chunkPixels)
        {
            using var chunkScope = NewDisposeScope();
            var n = Math.Min(chunkPixels, P - start);
            var (a, d, _) = SynapseJacobian.ComputeRaw(network, coords.narrow(0, start, n));
            var rows = d.permute(0, 2, 1).contiguous().index_select(1, tgt) * a.t().contiguous().index_select(0, src).unsqueeze(0);   // [O, k, n]
            var weighted = w is null ? rows : rows * w.narrow(0, start, n);
            gram.add_(weighted.matmul(rows.transpose(1, 2)).sum(dim: 0).to(ScalarType.Float64));                // Σ_c J_c diag(m) J_cᵀ
        }
        return gram.cpu().MoveToOuterDisposeScope();
    }

    /// <summary>Cosine similarity of effect maps from a Gram matrix: <c>G[s,t] / sqrt(G[s,s] G[t,t])</c> (0 for silent synapses).</summary>
    /// <param name="gram"><c>[k, k]</c>.</param>
    /// <returns><c>[k, k]</c> float64 in [−1, 1].</returns>
    public static Tensor Cosine(Tensor gram)
    {
        ArgumentNullException.ThrowIfNull(gram);
        if (gram.dim() != 2 || gram.shape[0] != gram.shape[1]) throw new ArgumentException($"gram must be square; got [{string.Join(", ", gram.shape)}].", nameof(gram));
        using var scope = NewDisposeScope();
        var g = gram.to(ScalarType.Float64);
        var norm = g.diagonal().clamp_min(Scalars.IntZero).sqrt();
        var denom = norm.unsqueeze(1) * norm.unsqueeze(0);
        return where(denom > Scalars.IntZero, g / denom.clamp_min(TinyDenominator), zeros_like(g)).clamp(Scalars.IntMinusOne, Scalars.IntOne).MoveToOuterDisposeScope();
    }
}

/// <summary>A cluster of synapses with similar effect maps: a candidate ensemble.</summary>
/// <param name="Synapses">Members, by decreasing energy.</param>
/// <param name="Energy">Σ of the members' total effect energy (diagonal of the Gram matrix).</param>
/// <param name="MeanAbsCosine">Mean |cosine| between members (1 for a single synapse).</param>
/// <param name="TargetNeurons">Neurons the members end at.</param>
/// <param name="SourceNeurons">Neurons the members start at (inputs excluded).</param>
public sealed record SynapseCluster(IReadOnlyList<int> Synapses, double Energy, double MeanAbsCosine,
    IReadOnlyList<int> TargetNeurons, IReadOnlyList<int> SourceNeurons);

/// <summary>
/// Agglomerative clustering of synapses on the Gram matrix of their effect maps (average linkage on the distance
/// <c>1 − |cos|</c>: a synapse and its sign-flipped twin act on the same pixels, so sign is ignored).
/// </summary>
public static class SynapseClustering
{
    /// <summary>Clusters the synapses into <paramref name="clusters"/> groups.</summary>
    /// <param name="topology">The wiring (for the neurons each cluster touches).</param>
    /// <param name="gram"><c>[S, S]</c> Gram matrix of all synapses (<see cref="SynapseGram"/>).</param>
    /// <param name="clusters">Number of clusters (at least 1, at most S).</param>
    /// <param name="synapses">The synapse index of each Gram row (default 0…S−1).</param>
    /// <returns>Clusters by decreasing energy.</returns>
    public static IReadOnlyList<SynapseCluster> Agglomerative(SynapseTopology topology, Tensor gram, int clusters, IReadOnlyList<int>? synapses = null)
    {
        ArgumentNullException.ThrowIfNull(topology);
        ArgumentNullException.ThrowIfNull(gram);
        int n = (int)gram.shape[0];
        synapses ??= Enumerable.Range(0, n).ToArray();
        if (synapses.Count != n) throw new ArgumentException($"synapses has {synapses.Count} entries for a {n}×{n} Gram matrix.", nameof(synapses));
        if (clusters < 1 || clusters > n) throw new ArgumentOutOfRangeException(nameof(clusters), clusters, $"clusters must be in [1, {n}].");
        double[] cos, energy;
        using (var c = SynapseGram.Cosine(gram)) cos = c.abs().contiguous().data<double>().ToArray();
        using (var g = gram.to(ScalarType.Float64).cpu()) energy = g.diagonal().contiguous().data<double>().ToArray();

        // Average linkage with the Lance–Williams update on a dense distance matrix: O(n³) for n ≈ 500 is fine.
        var dist = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) dist[i, j] = 1 - cos[i * n + j];
        var members = Enumerable.Range(0, n).Select(i => new List<int> { i }).ToArray();
        var alive = Enumerable.Repeat(true, n).ToArray();
        for (int count = n; count > clusters; count--)
        {
            int bi = -1, bj = -1;
            double best = double.PositiveInfinity;
            for (int i = 0; i < n; i++)
            {
                if (!alive[i]) continue;
                for (int j = i + 1; j < n; j++)
                    if (alive[j] && dist[i, j] < best) { best = dist[i, j]; bi = i; bj = j; }
            }
            double ni = members[bi].Count, nj = members[bj].Count;
            for (int k = 0; k < n; k++)
            {
                if (!alive[k] || k == bi || k == bj) continue;
                var d = (ni * dist[bi, k] + nj * dist[bj, k]) / (ni + nj);
                dist[bi, k] = dist[k, bi] = d;
            }
            members[bi].AddRange(members[bj]);
            alive[bj] = false;
        }
        var result = new List<SynapseCluster>();
        for (int i = 0; i < n; i++)
        {
            if (!alive[i]) continue;
            var m = members[i].OrderByDescending(r => energy[r]).ToList();
            double cosSum = 0;
            int pairs = 0;
            for (int a = 0; a < m.Count; a++)
                for (int b = a + 1; b < m.Count; b++) { cosSum += cos[m[a] * n + m[b]]; pairs++; }
            var ids = m.Select(r => synapses[r]).ToArray();
            result.Add(new SynapseCluster(ids, m.Sum(r => energy[r]), pairs > 0 ? cosSum / pairs : 1,
                ids.Select(topology.TargetNeuron).Distinct().Order().ToArray(),
                ids.Select(topology.SourceNeuron).Where(v => v >= 0).Distinct().Order().ToArray()));
        }
        return result.OrderByDescending(c => c.Energy).ToList();
    }
}
