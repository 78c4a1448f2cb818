using Interpretability.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Ensembles;

/// <summary>
/// What one synapse does to the picture when its weight changes by Δw: linearised, <c>J[:, :, s] · Δw</c> from the
/// factored Jacobian (no extra pass), and actual, <c>O(w + Δw e_s) − O(w)</c> from a re-render.
/// </summary>
public static class EffectMaps
{
    /// <summary>
    /// The linearised effect of changing synapse <paramref name="synapse"/> by <paramref name="deltaWeight"/>.
    /// </summary>
    /// <returns><c>[P, O]</c>, change of the outputs (colours in (−1, 1)), in the factors' dtype and on their
    /// device.</returns>
    public static Tensor Linear(JacobianFactors factors, int synapse, double deltaWeight)
    {
        ArgumentNullException.ThrowIfNull(factors);
        using var scope = NewDisposeScope();
        return (factors.Column(synapse) * deltaWeight).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The actual effect: the outputs with the weight moved minus the outputs without (weights restored after).
    /// </summary>
    /// <param name="network">The network.</param>
    /// <param name="coords"><c>[P, I]</c> on the network's device.</param>
    /// <param name="synapse">The synapse.</param>
    /// <param name="deltaWeight">Δw.</param>
    /// <returns><c>[P, O]</c>, in the network's dtype and on its device.</returns>
    public static Tensor Actual(CoordinateNetwork network, Tensor coords, int synapse, double deltaWeight)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(coords);
        using var scope = NewDisposeScope();
        using var before = network.Trace(coords);
        using var perturbed = network.Perturb(synapse, deltaWeight);
        using var after = network.Trace(coords);
        return (after.Outputs - before.Outputs).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// How far the linearised effect is from the actual one, per synapse: <c>‖actual − linear‖ / ‖actual‖</c> over all
    /// pixels and channels, for every synapse at the same Δw (one re-render per synapse).
    /// </summary>
    /// <param name="network">The network.</param>
    /// <param name="coords"><c>[P, I]</c> on the network's device.</param>
    /// <param name="deltaWeight">Δw, the same for every synapse.</param>
    /// <returns>Length S (0 where a synapse has no effect at all).</returns>
    public static double[] LinearizationErrors(CoordinateNetwork network, Tensor coords, double deltaWeight)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(coords);
        using var scope = NewDisposeScope();
        using var factors = SynapseJacobian.Compute(network, coords);
        var result = new double[network.Topology.SynapseCount];
        for (int s = 0; s < result.Length; s++)
        {
            using var inner = NewDisposeScope();
            var actual = Actual(network, coords, s, deltaWeight).to(ScalarType.Float64);
            var linear = Linear(factors, s, deltaWeight).to(ScalarType.Float64);
            var norm = actual.norm().ToDouble();
            result[s] = norm > 0 ? (actual - linear).norm().ToDouble() / norm : 0;
        }
        return result;
    }
}
