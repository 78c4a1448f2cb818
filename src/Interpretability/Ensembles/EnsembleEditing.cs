using Interpretability.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Ensembles;

/// <summary>A weight direction for editing a region.</summary>
/// <param name="Label">What it is (e.g. "ensemble eigen-direction", "best single synapse s21").</param>
/// <param name="Synapses">The synapses it may move.</param>
/// <param name="Direction">Unit-norm direction over all synapses (length S; zero outside <paramref name="Synapses"/>).</param>
/// <param name="Eigenvalue">Generalised Rayleigh quotient <c>dᵀ G_R d / dᵀ (G_¬R + εI) d</c>.</param>
/// <param name="LinearSelectivity">Linearised selectivity: mean squared change per pixel inside over outside, <c>(dᵀG_R d/|R|) / (dᵀG_¬R d/|¬R|)</c>.</param>
public sealed record EditDirection(string Label, IReadOnlyList<int> Synapses, IReadOnlyList<double> Direction, double Eigenvalue, double LinearSelectivity);

/// <summary>What an edit did to the picture.</summary>
public sealed class EditOutcome : IDisposable
{
    internal EditOutcome(Tensor before, Tensor after, double insideRms, double outsideRms, double scale, IReadOnlyList<double> delta)
    {
        Before = before;
        After = after;
        InsideRms = insideRms;
        OutsideRms = outsideRms;
        Scale = scale;
        Delta = delta;
    }

    /// <summary>
    /// The picture before, <c>[O, H, W]</c> (O = 3 for r, g, b) in [0, 1], in the network's dtype, on the CPU.
    /// </summary>
    public Tensor Before { get; }

    /// <summary>The picture after the edit, like <see cref="Before"/>.</summary>
    public Tensor After { get; }

    /// <summary>RMS colour change inside the region, colours in [0, 1].</summary>
    public double InsideRms { get; }

    /// <summary>RMS colour change outside the region, colours in [0, 1].</summary>
    public double OutsideRms { get; }

    /// <summary>Selectivity of the actual (not linearised) edit: mean squared change inside over outside.</summary>
    public double Selectivity => OutsideRms > 0 ? InsideRms * InsideRms / (OutsideRms * OutsideRms) : double.PositiveInfinity;

    /// <summary>Step length applied along the unit direction.</summary>
    public double Scale { get; }

    /// <summary>The weight change applied (length S).</summary>
    public IReadOnlyList<double> Delta { get; }

    /// <summary>Euclidean norm of the weight change.</summary>
    public double DeltaNorm => Math.Sqrt(Delta.Sum(v => v * v));

    /// <inheritdoc />
    public void Dispose()
    {
        Before.Dispose();
        After.Dispose();
    }
}

/// <summary>
/// Editing a region (our method): the weight direction that changes region R most while changing the rest least, the
/// top generalised eigenvector of <c>G_R d = λ (G_¬R + εI) d</c> with <c>G</c> the Gram matrices of the effect maps
/// inside and outside R (<see cref="SynapseGram"/>), optionally restricted to an ensemble; the best single synapse by
/// the same criterion; and the actual edit, re-rendered, with its selectivity.
/// </summary>
public static class EnsembleEditing
{
    /// <summary>Default regularisation: ε = 1e−3 × the mean outside energy of a synapse (mean diagonal of G_¬R).</summary>
    public const double DefaultRegularization = 1e-3;

    /// <summary>
    /// The most region-selective direction among <paramref name="synapses"/> (default all).
    /// </summary>
    /// <param name="network">The network.</param>
    /// <param name="grid">The picture's pixel grid.</param>
    /// <param name="mask"><c>[H, W]</c> (or <c>[P]</c>) region, boolean or soft in [0, 1], any device.</param>
    /// <param name="synapses">Synapses allowed to move (an ensemble); default all.</param>
    /// <param name="regularization">ε relative to the mean outside energy of all synapses.</param>
    /// <param name="label">Label of the result.</param>
    public static EditDirection MostSelective(CoordinateNetwork network, PixelGrid grid, Tensor mask, IReadOnlyList<int>? synapses = null,
        double regularization = DefaultRegularization, string? label = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(grid);
        if (!(regularization > 0) || !double.IsFinite(regularization))
            throw new ArgumentOutOfRangeException(nameof(regularization), regularization, "regularization must be positive.");
        var t = network.Topology;
        synapses ??= Enumerable.Range(0, t.SynapseCount).ToArray();
        if (synapses.Count == 0) throw new ArgumentException("At least one synapse is required.", nameof(synapses));
        using var scope = NewDisposeScope();
        var m = grid.RegionWeights(mask, nameof(mask));
        var coords = grid.Coordinates(network.DType, network.Device);
        var energies = RegionEnergy.Compute(network, coords, stack(new[] { m, 1 - m }), RegionEnergy.DefaultChunkPixels);   // [2, S]
        var eps = regularization * energies[1].mean().ToDouble();
        if (!(eps > 0)) eps = regularization;
        var gIn = SynapseGram.Compute(network, coords, m, synapses);
        var gOut = SynapseGram.Compute(network, coords, 1 - m, synapses);
        var (values, vectors) = Generalized(gIn, gOut, eps);
        var v = vectors[TensorIndex.Colon, 0];
        var direction = new double[t.SynapseCount];
        var local = v.data<double>().ToArray();
        // Sign: the direction that darkens/brightens is arbitrary; fix it so the largest component is positive.
        var sign = local[Array.IndexOf(local, local.MaxBy(Math.Abs))] < 0 ? -1 : 1;
        for (int i = 0; i < synapses.Count; i++) direction[synapses[i]] = sign * local[i];
        double qIn = Quadratic(gIn, local), qOut = Quadratic(gOut, local);
        var selectivity = qOut > 0 ? (qIn / m.sum().ToDouble()) / (qOut / (1 - m).sum().ToDouble()) : double.PositiveInfinity;
        return new EditDirection(label ?? $"eigen-direction over {synapses.Count} synapses", synapses.ToArray(), direction, values[0], selectivity);
    }

    /// <summary>
    /// The single synapse with the largest <c>E_R(s) / (E_¬R(s) + ε)</c> — the best one-synapse edit by the criterion of
    /// <see cref="MostSelective"/> (same ε).
    /// </summary>
    public static EditDirection BestSingleSynapse(SynapseTopology topology, RegionEnergies energies, double regularization = DefaultRegularization)
    {
        ArgumentNullException.ThrowIfNull(topology);
        ArgumentNullException.ThrowIfNull(energies);
        var eps = regularization * energies.TotalOutside / energies.Count;
        if (!(eps > 0)) eps = regularization;
        int best = Enumerable.Range(0, energies.Count).MaxBy(s => energies.Inside[s] / (energies.Outside[s] + eps));
        var direction = new double[energies.Count];
        direction[best] = 1;
        return new EditDirection($"best single synapse {topology.Describe(best)}", new[] { best }, direction,
            energies.Inside[best] / (energies.Outside[best] + eps), energies.Selectivity(best));
    }

    /// <summary>
    /// Solves the symmetric-definite generalised eigenproblem <c>A d = λ (B + εI) d</c> by Cholesky reduction
    /// (<c>B + εI = L Lᵀ</c>, <c>C = L⁻¹ A L⁻ᵀ</c>, <c>d = L⁻ᵀ v</c>).
    /// </summary>
    /// <param name="a"><c>[k, k]</c> symmetric (any floating dtype or device; solved in float64 on the CPU).</param>
    /// <param name="b"><c>[k, k]</c> symmetric positive semi-definite.</param>
    /// <param name="epsilon">ε &gt; 0 (absolute).</param>
    /// <returns>Eigenvalues in descending order and the eigenvectors as the columns of a <c>[k, k]</c> float64 CPU
    /// tensor, each of unit Euclidean norm.</returns>
    public static (double[] Values, Tensor Vectors) Generalized(Tensor a, Tensor b, double epsilon)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.dim() != 2 || a.shape[0] != a.shape[1] || !a.shape.SequenceEqual(b.shape))
            throw new ArgumentException($"a and b must be square and of the same size; got [{string.Join(", ", a.shape)}] and [{string.Join(", ", b.shape)}].", nameof(b));
        if (!(epsilon > 0)) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "epsilon must be positive.");
        using var scope = NewDisposeScope();
        var k = a.shape[0];
        var A = a.to(ScalarType.Float64).cpu();
        A = (A + A.t()) / 2;
        var B = b.to(ScalarType.Float64).cpu();
        B = (B + B.t()) / 2 + eye(k, dtype: ScalarType.Float64) * epsilon;
        var L = linalg.cholesky(B);
        var left = linalg.solve_triangular(L, A, upper: false, left: true, unitriangular: false);               // L⁻¹ A
        var c = linalg.solve_triangular(L, left.t(), upper: false, left: true, unitriangular: false);          // L⁻¹ (L⁻¹ A)ᵀ = L⁻¹ A L⁻ᵀ
        c = (c + c.t()) / 2;
        var (values, vectors) = linalg.eigh(c);                                                                 // ascending
        var d = linalg.solve_triangular(L.t(), vectors, upper: true, left: true, unitriangular: false);        // L⁻ᵀ v
        d = d / linalg.vector_norm(d, dims: new long[] { 0 }, keepdim: true);
        using var last = (k - 1).ToScalar();
        var order = arange(last, Scalars.IntMinusOne, Scalars.IntMinusOne, dtype: ScalarType.Int64);
        var sorted = values.index_select(0, order).data<double>().ToArray();
        return (sorted, d.index_select(1, order).contiguous().MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Applies a weight change along a unit direction, scaled so that the linearised RMS colour change inside the
    /// region is <paramref name="insideRms"/> (colours in [0, 1]), renders before and after, and measures the actual
    /// change inside and outside. The network's weights are restored afterwards.
    /// </summary>
    /// <param name="network">The network.</param>
    /// <param name="grid">The pixel grid.</param>
    /// <param name="mask"><c>[H, W]</c> (or <c>[P]</c>) region, boolean or soft in [0, 1], any device.</param>
    /// <param name="direction">Weight direction (length S).</param>
    /// <param name="insideRms">Linearised RMS colour change inside the region to aim for ([0, 1] units).</param>
    public static EditOutcome Apply(CoordinateNetwork network, PixelGrid grid, Tensor mask, IReadOnlyList<double> direction, double insideRms = 0.15)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(grid);
        ArgumentNullException.ThrowIfNull(direction);
        if (direction.Count != network.Topology.SynapseCount)
            throw new ArgumentException($"direction must hold one value per synapse ({network.Topology.SynapseCount}); got {direction.Count}.", nameof(direction));
        if (!(insideRms > 0)) throw new ArgumentOutOfRangeException(nameof(insideRms), insideRms, "insideRms must be positive.");
        using var scope = NewDisposeScope();
        var m = grid.RegionWeights(mask, nameof(mask)).cpu();
        var coords = grid.Coordinates(network.DType, network.Device);
        var d = tensor(direction.ToArray(), dtype: ScalarType.Float64);
        double scale;
        using (var factors = SynapseJacobian.Compute(network, coords))
        {
            var change = factors.LinearEffect(d).to(ScalarType.Float64).cpu();                  // [P, O], (−1, 1) units
            var msInside = (change.pow(Scalars.IntTwo).mean(new long[] { 1 }) * m).sum().ToDouble() / m.sum().ToDouble();
            if (!(msInside > 0)) throw new ArgumentException("The direction does not change the region at all (to first order).", nameof(direction));
            scale = 2 * insideRms / Math.Sqrt(msInside);                                        // [0, 1] units → (−1, 1) units
        }
        var delta = d * scale;
        var before = network.Render(grid).cpu();
        Tensor after;
        using (network.Perturb(delta)) after = network.Render(grid).cpu();
        var sq = (after - before).to(ScalarType.Float64).pow(Scalars.IntTwo).mean(new long[] { 0 }).reshape(-1).cpu();   // [P], [0, 1] units
        var inside = Math.Sqrt((sq * m).sum().ToDouble() / m.sum().ToDouble());
        var outside = Math.Sqrt((sq * (1 - m)).sum().ToDouble() / (1 - m).sum().ToDouble());
        return new EditOutcome(before.MoveToOuterDisposeScope(), after.MoveToOuterDisposeScope(), inside, outside, scale,
            delta.data<double>().ToArray());
    }

    private static double Quadratic(Tensor g, double[] v)
    {
        using var scope = NewDisposeScope();
        var x = tensor(v, dtype: ScalarType.Float64);
        return x.dot(g.to(ScalarType.Float64).cpu().matmul(x)).ToDouble();
    }
}
