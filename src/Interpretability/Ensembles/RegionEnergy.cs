using Interpretability.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Ensembles;

/// <summary>
/// How strongly every synapse acts inside and outside a region of the picture (our measure):
/// <c>E_R(s) = Σ_{p∈R} Σ_c (∂O_c(p)/∂w_s)²</c> (with a soft mask m, <c>Σ_p m(p) …</c>), per-pixel density
/// <c>e_R(s) = E_R(s)/|R|</c> and selectivity <c>ρ(s) = e_R(s) / e_{¬R}(s)</c>.
/// </summary>
public sealed class RegionEnergies
{
    /// <summary>Creates the record (arrays in synapse numbering).</summary>
    /// <param name="inside">Energy inside the region, per synapse.</param>
    /// <param name="outside">Energy outside the region, per synapse.</param>
    /// <param name="insidePixels">|R| (sum of the mask weights).</param>
    /// <param name="outsidePixels">|¬R| (sum of 1 − mask).</param>
    public RegionEnergies(IReadOnlyList<double> inside, IReadOnlyList<double> outside, double insidePixels, double outsidePixels)
    {
        ArgumentNullException.ThrowIfNull(inside);
        ArgumentNullException.ThrowIfNull(outside);
        if (inside.Count != outside.Count) throw new ArgumentException($"inside ({inside.Count}) and outside ({outside.Count}) differ in length.", nameof(outside));
        if (!(insidePixels > 0)) throw new ArgumentOutOfRangeException(nameof(insidePixels), insidePixels, "The region is empty.");
        if (!(outsidePixels > 0)) throw new ArgumentOutOfRangeException(nameof(outsidePixels), outsidePixels, "The region covers everything; there is no outside.");
        Inside = inside.ToArray();
        Outside = outside.ToArray();
        InsidePixels = insidePixels;
        OutsidePixels = outsidePixels;
    }

    /// <summary><c>E_R(s)</c> per synapse.</summary>
    public IReadOnlyList<double> Inside { get; }

    /// <summary><c>E_¬R(s)</c> per synapse.</summary>
    public IReadOnlyList<double> Outside { get; }

    /// <summary>|R|: pixels (mask weight) inside.</summary>
    public double InsidePixels { get; }

    /// <summary>|¬R|: pixels outside.</summary>
    public double OutsidePixels { get; }

    /// <summary>Number of synapses.</summary>
    public int Count => Inside.Count;

    /// <summary><c>Σ_s E_R(s)</c>.</summary>
    public double TotalInside => Inside.Sum();

    /// <summary><c>Σ_s E_¬R(s)</c>.</summary>
    public double TotalOutside => Outside.Sum();

    /// <summary>
    /// Selectivity <c>ρ(s) = (E_R(s)/|R|) / (E_¬R(s)/|¬R|)</c>; +∞ where a synapse acts only inside, 0 where it acts nowhere.
    /// </summary>
    public double Selectivity(int synapse)
    {
        double din = Inside[synapse] / InsidePixels, dout = Outside[synapse] / OutsidePixels;
        if (dout > 0) return din / dout;
        return din > 0 ? double.PositiveInfinity : 0;
    }

    /// <summary><see cref="Selectivity"/> of every synapse.</summary>
    public double[] Selectivities() => Enumerable.Range(0, Count).Select(Selectivity).ToArray();
}

/// <summary>
/// Region energies of all synapses at once, as matrix products over pixels: with <c>Q(p, j) = Σ_c δ_{c,j}(p)²</c>,
/// <c>E_R(s = i→j) = [ (m ⊙ Q)ᵀ (a ⊙ a) ]_{j,i}</c> — one <c>[N, P] × [P, I+N]</c> product per region gives every synapse,
/// and the pixels are processed in chunks so the Jacobian is never materialised (and large pictures fit).
/// </summary>
public static class RegionEnergy
{
    /// <summary>Default pixels per chunk.</summary>
    public const int DefaultChunkPixels = 16384;

    /// <summary>Energies of every synapse inside and outside a region of a picture.</summary>
    /// <param name="network">The network.</param>
    /// <param name="grid">The picture's pixel grid.</param>
    /// <param name="mask"><c>[H, W]</c> region, boolean or soft in [0, 1]; must be neither empty nor everything.</param>
    /// <param name="chunkPixels">Pixels evaluated at once.</param>
    /// <exception cref="ArgumentException">The mask has the wrong size, values outside [0, 1], or an empty region.</exception>
    public static RegionEnergies Compute(CoordinateNetwork network, PixelGrid grid, Tensor mask, int chunkPixels = DefaultChunkPixels)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(grid);
        using var scope = NewDisposeScope();
        var m = grid.RegionWeights(mask, nameof(mask));                             // [P] float64
        var coords = grid.Coordinates(network.DType, network.Device);
        var e = Compute(network, coords, stack(new[] { m, 1 - m }), chunkPixels);    // [2, S]
        var inside = e[0].data<double>().ToArray();
        var outside = e[1].data<double>().ToArray();
        return new RegionEnergies(inside, outside, m.sum().ToDouble(), (1 - m).sum().ToDouble());
    }

    /// <summary>Energies of every synapse for several pixel weightings at once.</summary>
    /// <param name="network">The network.</param>
    /// <param name="coords"><c>[P, I]</c> points on the network's device.</param>
    /// <param name="weights"><c>[K, P]</c> (or <c>[P]</c>) non-negative pixel weights (masks), any dtype and
    /// device.</param>
    /// <param name="chunkPixels">Pixels evaluated at once.</param>
    /// <returns><c>[K, S]</c> float64 on the CPU: <c>E_k(s) = Σ_p weights[k, p] Σ_c J[p, c, s]²</c>.</returns>
    public static Tensor Compute(CoordinateNetwork network, Tensor coords, Tensor weights, int chunkPixels = DefaultChunkPixels)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(coords);
        ArgumentNullException.ThrowIfNull(weights);
        if (chunkPixels < 1) throw new ArgumentOutOfRangeException(nameof(chunkPixels), chunkPixels, "chunkPixels must be at least 1.");
        long P = coords.shape[0];
        var w2 = weights.dim() == 1 ? weights.unsqueeze(0) : weights;
        if (w2.dim() != 2 || w2.shape[1] != P)
            throw new ArgumentException($"weights must be [K, {P}] (one weight per point); got [{string.Join(", ", weights.shape)}].", nameof(weights));
        var t = network.Topology;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var mw = w2.to(network.DType, network.Device);
        var dense = zeros(w2.shape[0], t.NeuronCount, t.NodeCount, dtype: ScalarType.Float64, device: network.Device);
        for (long start = 0; start < P; start += chunkPixels)
        {
            using var chunkScope = NewDisposeScope();
            var n = Math.Min(chunkPixels, P - start);
            var (a, d, _) = SynapseJacobian.ComputeRaw(network, coords.narrow(0, start, n));
            var q = d.pow(Scalars.IntTwo).sum(dim: 0);                                    // [n, N]
            var a2 = a.pow(Scalars.IntTwo);                                          // [n, T]
            var m = mw.narrow(1, start, n);                                          // [K, n]
            // [K, N, n] x [n, T]: every synapse of every region in one batched product.
            var part = (q.t().unsqueeze(0) * m.unsqueeze(1)).matmul(a2);            // [K, N, T]
            dense.add_(part.to(ScalarType.Float64));
        }
        var flat = tensor(Enumerable.Range(0, t.SynapseCount).Select(s => (long)(t.Targets[s] - t.InputCount) * t.NodeCount + t.Sources[s]).ToArray(), device: network.Device);
        return dense.reshape(w2.shape[0], -1).index_select(1, flat).cpu().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Energies from factors already computed: <c>[K, S]</c> float64 on the factors' device (same formula, one chunk).
    /// </summary>
    /// <param name="factors">The Jacobian factors at P points.</param>
    /// <param name="weights"><c>[K, P]</c> or <c>[P]</c> pixel weights.</param>
    public static Tensor FromFactors(JacobianFactors factors, Tensor weights)
    {
        ArgumentNullException.ThrowIfNull(factors);
        ArgumentNullException.ThrowIfNull(weights);
        var w2 = weights.dim() == 1 ? weights.unsqueeze(0) : weights;
        if (w2.dim() != 2 || w2.shape[1] != factors.PointCount)
            throw new ArgumentException($"weights must be [K, {factors.PointCount}]; got [{string.Join(", ", weights.shape)}].", nameof(weights));
        var t = factors.Topology;
        using var scope = NewDisposeScope();
        var q = factors.Deltas.pow(Scalars.IntTwo).sum(dim: 0);                           // [P, N]
        var m = w2.to(q.dtype, q.device);
        var dense = (q.t().unsqueeze(0) * m.unsqueeze(1)).matmul(factors.Activations.pow(Scalars.IntTwo));   // [K, N, T]
        return dense.reshape(w2.shape[0], -1).index_select(1, factors.TargetIndex * t.NodeCount + factors.SourceIndex)
            .to(ScalarType.Float64).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The naive reference: one synapse at a time, its Jacobian column <c>δ_j ⊙ a_i</c> squared and summed over the
    /// weighted pixels. Same numbers as <see cref="FromFactors"/>, S small operations instead of one product.
    /// </summary>
    /// <param name="factors">The Jacobian factors at P points.</param>
    /// <param name="weights">A single weighting: <c>[P]</c> (or any shape with P elements) pixel weights.</param>
    /// <returns><c>[S]</c> float64 on the CPU.</returns>
    public static Tensor PerSynapseLoop(JacobianFactors factors, Tensor weights)
    {
        ArgumentNullException.ThrowIfNull(factors);
        ArgumentNullException.ThrowIfNull(weights);
        var t = factors.Topology;
        using var scope = NewDisposeScope();
        var m = weights.reshape(-1).to(factors.Activations.dtype, factors.Activations.device);
        var result = new double[t.SynapseCount];
        for (int s = 0; s < t.SynapseCount; s++)
        {
            using var inner = NewDisposeScope();
            var column = factors.Deltas.select(2, t.Targets[s] - t.InputCount) * factors.Activations.select(1, t.Sources[s]).unsqueeze(0);   // [O, P]
            result[s] = (column.pow(Scalars.IntTwo) * m.unsqueeze(0)).sum().ToDouble();
        }
        return tensor(result, dtype: ScalarType.Float64).MoveToOuterDisposeScope();
    }
}
