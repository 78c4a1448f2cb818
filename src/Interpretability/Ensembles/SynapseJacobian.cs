using Interpretability.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Ensembles;

/// <summary>
/// The exact Jacobian of every output at every pixel with respect to every synapse weight, in factored form (the
/// back-propagation factorisation of Rumelhart, Hinton &amp; Williams 1986, "Learning representations by
/// back-propagating errors", Nature 323, doi:10.1038/323533a0): for synapse <c>s = (i → j)</c>,
/// <c>∂O_c(p)/∂w_s = δ_{c,j}(p) · a_i(p)</c>, with <c>δ_{c,j}(p) = ∂O_c(p)/∂z_j(p)</c> the output-to-neuron gradient
/// and <c>a_i(p)</c> the presynaptic activation. One forward sweep gives every <c>a</c>, one backward sweep batched
/// over the output channels gives every <c>δ</c>; the <c>P × O × S</c> Jacobian is never needed as a whole (energies,
/// Gram matrices and linear effects are matrix products of the factors), though
/// <see cref="JacobianFactors.Materialize"/> writes it out when it fits. The bias gradient is <c>δ</c> itself.
/// </summary>
public static class SynapseJacobian
{
    /// <summary>Computes the factors at a batch of points.</summary>
    /// <param name="network">The network (its dtype decides the precision; use float64 for checks).</param>
    /// <param name="coords"><c>[P, I]</c> on the network's device (e.g. <see cref="PixelGrid.Coordinates"/>).</param>
    /// <returns>The factors; the caller disposes them.</returns>
    public static JacobianFactors Compute(CoordinateNetwork network, Tensor coords)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(coords);
        if (coords.dim() != 2)
            throw new ArgumentException($"coords must be [P, {network.Topology.InputCount}]; got [{string.Join(", ", coords.shape)}].", nameof(coords));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (activations, deltas, outputs) = ComputeRaw(network, coords);
        return new JacobianFactors(network.Topology, activations.MoveToOuterDisposeScope(), deltas.MoveToOuterDisposeScope(), outputs.MoveToOuterDisposeScope());
    }

    /// <summary>Computes the factors for every pixel of <paramref name="grid"/>.</summary>
    public static JacobianFactors Compute(CoordinateNetwork network, PixelGrid grid)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(grid);
        using var coords = grid.Coordinates(network.DType, network.Device);
        return Compute(network, coords);
    }

    /// <summary>
    /// The Jacobian by central finite differences, one pair of forward passes per synapse:
    /// <c>(O(w + h e_s) − O(w − h e_s)) / 2h</c>. The naive reference the factored form is checked against.
    /// </summary>
    /// <param name="network">The network (float64 recommended).</param>
    /// <param name="coords"><c>[P, I]</c> on the network's device.</param>
    /// <param name="step">The step h (default 1e−4; at that step a float64 network's factored Jacobian agrees with it
    /// to better than 1e−6 relative in the library's tests).</param>
    /// <param name="synapses">Which synapses (default all).</param>
    /// <returns><c>[P, O, k]</c> for the k synapses asked for, in the network's dtype and on its device.</returns>
    public static Tensor CentralDifferences(CoordinateNetwork network, Tensor coords, double step = 1e-4, IReadOnlyList<int>? synapses = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(coords);
        if (!(step > 0) || !double.IsFinite(step)) throw new ArgumentOutOfRangeException(nameof(step), step, "step must be positive and finite.");
        synapses ??= Enumerable.Range(0, network.Topology.SynapseCount).ToArray();
        using var scope = NewDisposeScope();
        var columns = new List<Tensor>();
        foreach (var s in synapses)
        {
            Tensor plus, minus;
            using (network.Perturb(s, step)) using (var t = network.Trace(coords)) plus = t.Outputs.clone();
            using (network.Perturb(s, -step)) using (var t = network.Trace(coords)) minus = t.Outputs.clone();
            columns.Add((plus - minus) / (2 * step));
        }
        return stack(columns, 2).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The Jacobian by forward differences, one forward pass per synapse: <c>(O(w + h e_s) − O(w)) / h</c> — the naive
    /// baseline of the benchmark ("one finite-difference forward pass per synapse").
    /// </summary>
    /// <param name="network">The network.</param>
    /// <param name="coords"><c>[P, I]</c> on the network's device.</param>
    /// <param name="step">The step h.</param>
    /// <returns><c>[P, O, S]</c>, in the network's dtype and on its device.</returns>
    public static Tensor ForwardDifferences(CoordinateNetwork network, Tensor coords, double step = 1e-3)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(coords);
        using var scope = NewDisposeScope();
        Tensor baseOut;
        using (var t = network.Trace(coords)) baseOut = t.Outputs.clone();
        var columns = new List<Tensor>(network.Topology.SynapseCount);
        for (int s = 0; s < network.Topology.SynapseCount; s++)
        {
            using var _ = network.Perturb(s, step);
            using var t = network.Trace(coords);
            columns.Add((t.Outputs - baseOut) / step);
        }
        return stack(columns, 2).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The largest relative error of the factored Jacobian against central finite differences, per synapse column:
    /// <c>max_s ‖J_s − FD_s‖ / max(‖FD_s‖, floor)</c>, with norms over all pixels and channels and
    /// <c>floor = 1e−8 · max_s ‖FD_s‖</c> (a dead synapse compares in absolute terms instead of dividing by zero).
    /// </summary>
    /// <param name="network">The network (float64 recommended).</param>
    /// <param name="coords"><c>[P, I]</c> on the network's device.</param>
    /// <param name="step">The finite-difference step h.</param>
    public static double MaxRelativeError(CoordinateNetwork network, Tensor coords, double step = 1e-4)
    {
        using var scope = NewDisposeScope();
        using var factors = Compute(network, coords);
        return MaxRelativeError(factors.Materialize(), CentralDifferences(network, coords, step));
    }

    /// <summary>
    /// The per-column relative error of a Jacobian against a reference (same formula as the overload above).
    /// </summary>
    /// <param name="jacobian"><c>[P, O, S]</c>, any floating dtype (compared in float64).</param>
    /// <param name="reference"><c>[P, O, S]</c>, e.g. <see cref="CentralDifferences"/>.</param>
    public static double MaxRelativeError(Tensor jacobian, Tensor reference)
    {
        ArgumentNullException.ThrowIfNull(jacobian);
        ArgumentNullException.ThrowIfNull(reference);
        if (jacobian.dim() != 3 || !jacobian.shape.SequenceEqual(reference.shape))
            throw new ArgumentException($"jacobian and reference must both be [P, O, S]; got [{string.Join(", ", jacobian.shape)}] and [{string.Join(", ", reference.shape)}].", nameof(reference));
        using var scope = NewDisposeScope();
        var exact = jacobian.to(ScalarType.Float64);
        var fd = reference.to(ScalarType.Float64, exact.device);
        var diff = (exact - fd).pow(Scalars.IntTwo).sum(new long[] { 0, 1 }).sqrt();
        var norm = fd.pow(Scalars.IntTwo).sum(new long[] { 0, 1 }).sqrt();
        using var floor = Math.Max(norm.max().ToDouble() * 1e-8, double.Epsilon).ToScalar();
        return (diff / norm.clamp_min(floor)).max().ToDouble();
    }

    internal static (Tensor Activations, Tensor Deltas, Tensor Outputs) ComputeRaw(CoordinateNetwork network, Tensor coords)
    {
        var t = network.Topology;
        if (coords.shape[1] != t.InputCount)
            throw new ArgumentException($"coords must be [P, {t.InputCount}]; got [{string.Join(", ", coords.shape)}].", nameof(coords));
        if (coords.device.type != network.Device.type || coords.device.index != network.Device.index)
            throw new ArgumentException($"coords are on {coords.device} but the network is on {network.Device}.", nameof(coords));
        var x = coords.dtype == network.DType ? coords : coords.to(network.DType);
        var index = network.IndexOn(x.device);
        var a = network.ForwardPositions(x, index, null);                               // [P, T] positions
        var d = network.BackwardPositions(a, index);                                    // [O·P, N] positions
        long P = x.shape[0];
        var layout = network.Positions;
        var activations = CoordinateNetwork.SelectColumns(a, layout.NodePosition, index.NodePositions).contiguous();                  // [P, T] node order
        var deltas = CoordinateNetwork.SelectColumns(d.view(t.OutputCount, P, t.NeuronCount), layout.NeuronPosition, index.NeuronPositions).contiguous();  // [O, P, N]
        var outputs = CoordinateNetwork.SelectColumns(a, layout.OutputPositions, index.OutputPositions).contiguous();
        return (activations, deltas, outputs);
    }
}

/// <summary>
/// The factors of the synapse Jacobian at P points: activations <c>a</c> and output-to-neuron gradients <c>δ</c>
/// (<see cref="SynapseJacobian"/>). Every tensor is in the network's dtype and on its device. Owns its tensors; dispose
/// it.
/// </summary>
public sealed class JacobianFactors : IDisposable
{
    private Tensor? sourceIndex;
    private Tensor? targetIndex;

    internal JacobianFactors(SynapseTopology topology, Tensor activations, Tensor deltas, Tensor outputs)
    {
        Topology = topology;
        Activations = activations;
        Deltas = deltas;
        Outputs = outputs;
    }

    /// <summary>The wiring.</summary>
    public SynapseTopology Topology { get; }

    /// <summary><c>[P, I + N]</c> node order: inputs, then neuron activations <c>a</c>.</summary>
    public Tensor Activations { get; }

    /// <summary><c>[O, P, N]</c>: <c>δ_{c,j}(p) = ∂O_c(p)/∂z_j(p)</c> (also the bias Jacobian).</summary>
    public Tensor Deltas { get; }

    /// <summary><c>[P, O]</c>: the outputs at the points.</summary>
    public Tensor Outputs { get; }

    /// <summary>Number of points P.</summary>
    public long PointCount => Activations.shape[0];

    /// <summary>Source node of each synapse as an index tensor <c>[S]</c> on the factors' device.</summary>
    internal Tensor SourceIndex => sourceIndex ??= tensor(Topology.Sources.Select(v => (long)v).ToArray(), device: Activations.device).DetachFromDisposeScope();

    /// <summary>Target neuron of each synapse as an index tensor <c>[S]</c>.</summary>
    internal Tensor TargetIndex => targetIndex ??= tensor(Topology.Targets.Select(v => (long)(v - Topology.InputCount)).ToArray(), device: Activations.device).DetachFromDisposeScope();

    /// <summary>
    /// The whole Jacobian, <c>[P, O, S]</c> (a strided view of an <c>[O, S, P]</c> product): entry <c>(p, c, s)</c> is
    /// <c>∂O_c(p)/∂w_s</c>, in the factors' dtype and on their device. Needs <c>P·O·S</c> numbers; the energies and
    /// Gram matrices never call it.
    /// </summary>
    public Tensor Materialize()
    {
        using var scope = NewDisposeScope();
        // Gather whole rows (pixel-contiguous layouts), which is far faster than gathering along the last dimension.
        var deltaRows = Deltas.permute(0, 2, 1).contiguous();                      // [O, N, P]
        var activationRows = Activations.t().contiguous();                         // [T, P]
        var product = deltaRows.index_select(1, TargetIndex) * activationRows.index_select(0, SourceIndex).unsqueeze(0);  // [O, S, P]
        return product.permute(2, 0, 1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The Jacobian columns of some synapses: <c>[P, O, k]</c>, in the factors' dtype and on their device.
    /// </summary>
    /// <param name="synapses">The k synapses, in the order of the columns.</param>
    public Tensor Columns(IReadOnlyList<int> synapses)
    {
        ArgumentNullException.ThrowIfNull(synapses);
        foreach (var s in synapses)
            if (s < 0 || s >= Topology.SynapseCount) throw new ArgumentOutOfRangeException(nameof(synapses), s, $"Synapses are numbered 0…{Topology.SynapseCount - 1}.");
        using var scope = NewDisposeScope();
        // One column at a time: a few synapses never pay for re-laying out the whole factors.
        var columns = synapses.Select(s => Deltas.select(2, Topology.Targets[s] - Topology.InputCount) * Activations.select(1, Topology.Sources[s]).unsqueeze(0)).ToList();   // [O, P] each
        return stack(columns, 2).permute(1, 0, 2).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// One synapse's effect map: <c>[P, O]</c>, the change of every output per unit change of its weight (the factors'
    /// dtype and device).
    /// </summary>
    /// <param name="synapse">The synapse.</param>
    public Tensor Column(int synapse)
    {
        using var scope = NewDisposeScope();
        return Columns(new[] { synapse }).select(2, 0).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The linearised change of the outputs for a weight change: <c>ΔO_c(p) ≈ Σ_s J[p, c, s] Δw_s</c>, computed as
    /// <c>Σ_j δ_{c,j}(p) (Σ_{i→j} Δw_{ij} a_i(p))</c> (one matrix product, no Jacobian).
    /// </summary>
    /// <param name="deltaWeights"><c>[S]</c> (any shape with S elements), any dtype and device.</param>
    /// <returns><c>[P, O]</c>, in the factors' dtype and on their device.</returns>
    public Tensor LinearEffect(Tensor deltaWeights)
    {
        ArgumentNullException.ThrowIfNull(deltaWeights);
        if (deltaWeights.numel() != Topology.SynapseCount)
            throw new ArgumentException($"deltaWeights must hold one value per synapse ({Topology.SynapseCount}); got [{string.Join(", ", deltaWeights.shape)}].", nameof(deltaWeights));
        using var scope = NewDisposeScope();
        var dw = deltaWeights.reshape(-1).to(Activations.dtype, Activations.device);
        var dense = zeros(Topology.NeuronCount * (long)Topology.NodeCount, dtype: Activations.dtype, device: Activations.device)
            .index_copy(0, TargetIndex * Topology.NodeCount + SourceIndex, dw).view(Topology.NeuronCount, Topology.NodeCount);
        var dz = Activations.matmul(dense.t());                                     // [P, N]: Σ_i Δw_ij a_i
        return (Deltas * dz.unsqueeze(0)).sum(2).t().contiguous().MoveToOuterDisposeScope();   // [P, O]
    }

    /// <summary>
    /// The size of every synapse's effect at every point: <c>sqrt(Σ_c J[p, c, s]²)</c>, <c>[S, P]</c>, in the factors'
    /// dtype and on their device.
    /// </summary>
    public Tensor EffectNorms()
    {
        using var scope = NewDisposeScope();
        var q = Deltas.pow(Scalars.IntTwo).sum(dim: 0).t().contiguous();                   // [N, P]
        var a2 = Activations.pow(Scalars.IntTwo).t().contiguous();                          // [T, P]
        return (q.index_select(0, TargetIndex) * a2.index_select(0, SourceIndex)).sqrt().MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Activations.Dispose();
        Deltas.Dispose();
        Outputs.Dispose();
        sourceIndex?.Dispose();
        targetIndex?.Dispose();
    }
}
