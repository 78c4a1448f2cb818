using MathNet.Numerics.LinearAlgebra;

namespace Interpretability.LearningDynamics;

/// <summary>
/// The initial condition of one mode read off the initial weights, and the mode's dynamics from it — the "u0 estimated
/// per mode" of a random initialisation: <c>u_α(0) = u_αᵀ W_D ⋯ W_1 v_α</c>, the initial map projected on mode α.
/// <para>
/// For two layers the mode's input and output weight vectors in the hidden layer are <c>b = W1 v_α</c> and
/// <c>a = W2ᵀ u_α</c>, and <c>u_α(0) = a·b</c>. Ignoring the coupling to other modes (small while everything is small),
/// the vector dynamics <c>τ ȧ = (s − a·b) b</c>, <c>τ ḃ = (s − a·b) a</c> split into <c>p = (a + b)/2</c>, which grows,
/// and <c>q = (a − b)/2</c>, which decays; <c>P = |p|²</c>, <c>Q = |q|²</c> keep <c>P·Q = c</c> and <c>u = P − c/P</c>
/// with <c>τ dP/dt = 2(sP − P² + c)</c>, a Riccati equation solved in closed form below. With balanced aligned weights
/// (Q = 0) it is exactly the sigmoid of Saxe, McClelland &amp; Ganguli 2014 (arXiv:1312.6120) with <c>u0 = u_α(0)</c>;
/// for random weights it also covers a negative or tiny <c>u_α(0)</c> (the product of two random vectors), where that
/// sigmoid cannot start. Our derivation, following the decoupled-mode analysis of Saxe et al. 2014 §2; not a result of
/// the paper.
/// </para>
/// For other depths there is no such split; <see cref="Strength"/> then uses the balanced solution from <c>|u_α(0)|</c>
/// (a rough estimate, reported as such).
/// </summary>
/// <param name="Product">The initial strength <c>u_α(0) = u_αᵀ W_D ⋯ W_1 v_α</c> (any sign).</param>
/// <param name="P0">Two layers: <c>|a + b|²/4</c>; otherwise NaN.</param>
/// <param name="Q0">Two layers: <c>|a − b|²/4</c>; otherwise NaN.</param>
/// <param name="Depth">Number of weight matrices.</param>
public sealed record ModeInitialCondition(double Product, double P0, double Q0, int Depth)
{
    /// <summary>
    /// The effective u0 of this mode: the start of the balanced sigmoid (<see cref="ModeDynamics.Strength"/>) that reaches
    /// <c>s/2</c> at the same time as this condition does. Two layers: <c>s / (1 + e^{2 s t_half})</c>; other depths: the
    /// clamped <c>|u_α(0)|</c>.
    /// </summary>
    /// <param name="s">The mode's singular value.</param>
    public double EquivalentBalancedStrength(double s)
    {
        if (Depth != 2) return ClampedProduct(s);
        return s / (1 + Math.Exp(2 * s * HalfLearningTime(s)));
    }

    /// <summary>The predicted mode strength at time <paramref name="t"/> (units of τ).</summary>
    /// <param name="t">Time ≥ 0.</param>
    /// <param name="s">The mode's singular value &gt; 0.</param>
    public double Strength(double t, double s)
    {
        if (!(s > 0)) throw new ArgumentOutOfRangeException(nameof(s), s, "s must be > 0.");
        if (!(t >= 0) || double.IsInfinity(t)) throw new ArgumentOutOfRangeException(nameof(t), t, "t must be a finite time ≥ 0.");
        if (Depth != 2) return ModeDynamics.Strength(t, s, ClampedProduct(s), Depth);
        var (pMinus, pPlus, r, c) = Roots(s);
        var k0 = (P0 - pMinus) / (pPlus - P0);
        if (!(k0 > 0)) return s;                    // started at or beyond the fixed point
        // ln((P − P−)/(P+ − P)) = 2 r t + ln k0  ⇒  P = (P− + P+ E)/(1 + E), E = k0 e^{2rt}; written stably.
        var logE = Math.Log(k0) + 2 * r * t;
        double p = logE > 0 ? (pMinus * Math.Exp(-logE) + pPlus) / (Math.Exp(-logE) + 1) : (pMinus + pPlus * Math.Exp(logE)) / (1 + Math.Exp(logE));
        return p - c / p;
    }

    /// <summary>The predicted half-learning time (units of τ): when the strength reaches <c>s/2</c>; 0 if it starts there.</summary>
    /// <param name="s">The mode's singular value &gt; 0.</param>
    public double HalfLearningTime(double s)
    {
        if (!(s > 0)) throw new ArgumentOutOfRangeException(nameof(s), s, "s must be > 0.");
        if (Depth != 2) return ModeDynamics.HalfLearningTime(s, ClampedProduct(s), Depth);
        if (Product >= s / 2) return 0;
        var (pMinus, pPlus, r, c) = Roots(s);
        var pHalf = (s / 2 + Math.Sqrt(s * s / 4 + 4 * c)) / 2;   // P − c/P = s/2
        var k0 = (P0 - pMinus) / (pPlus - P0);
        var kHalf = (pHalf - pMinus) / (pPlus - pHalf);
        return Math.Max(0, Math.Log(kHalf / k0) / (2 * r));
    }

    /// <summary>Reads every mode's initial condition off the weights.</summary>
    /// <param name="modes">The dataset's modes.</param>
    /// <param name="weights">The weight matrices in forward order, <c>W_l</c> of shape <c>[n_l, n_{l−1}]</c> (first
    /// <c>[hidden, N1]</c>, last <c>[N3, hidden]</c>).</param>
    /// <param name="projectLearnedDirections">Two layers: remove from each mode's hidden vectors their components along
    /// the growing directions of modes with a larger singular value (see the remarks in the code); false gives the plain
    /// decoupled estimate.</param>
    public static ModeInitialCondition[] FromWeights(InputOutputModes modes, IReadOnlyList<Matrix<double>> weights, bool projectLearnedDirections = true)
    {
        ArgumentNullException.ThrowIfNull(modes);
        ArgumentNullException.ThrowIfNull(weights);
        if (weights.Count == 0) throw new ArgumentException("At least one weight matrix is needed.", nameof(weights));
        if (weights[0].ColumnCount != modes.ObjectAnalysers.RowCount)
            throw new ArgumentException($"The first weight matrix must have N1 = {modes.ObjectAnalysers.RowCount} columns; got {weights[0].ColumnCount}.", nameof(weights));
        if (weights[^1].RowCount != modes.FeatureSynthesisers.RowCount)
            throw new ArgumentException($"The last weight matrix must have N3 = {modes.FeatureSynthesisers.RowCount} rows; got {weights[^1].RowCount}.", nameof(weights));
        var product = weights[0];
        for (int l = 1; l < weights.Count; l++) product = weights[l] * product;
        var result = new ModeInitialCondition[modes.Count];
        var growing = new List<Vector<double>>();                            // p_β of every mode so far
        for (int a = 0; a < modes.Count; a++)
        {
            var u = modes.FeatureSynthesisers.Column(a);
            var v = modes.ObjectAnalysers.Column(a);
            var u0 = u * product * v;
            if (weights.Count != 2)
            {
                result[a] = new ModeInitialCondition(u0, double.NaN, double.NaN, weights.Count);
                continue;
            }
            var b = weights[0] * v;
            var av = weights[1].TransposeThisAndMultiply(u);
            var p = (av + b) / 2;
            var q = (av - b) / 2;
            growing.Add(p);
            // Modes with a larger singular value are learned first and take their hidden directions p_β with them: the
            // coupling term −a_β (a_β · b_α) removes mode α's component along them while α is still small, so only the
            // rest of p_α (and q_α) drives α. Our approximation: on the 8-item data from a random start it brought the
            // predicted half times from ≈ 10% to ≈ 5% of the simulated ones with 16 hidden units, below 1% with 64.
            if (projectLearnedDirections)
            {
                var earlier = Enumerable.Range(0, a).Where(β => modes.SingularValues[β] > modes.SingularValues[a] * (1 + 1e-9)).Select(β => growing[β]).ToList();
                if (earlier.Count > 0)
                {
                    var basis = Matrix<double>.Build.DenseOfColumnVectors(earlier);
                    var svd = basis.Svd(computeVectors: true);
                    var rank = svd.S.Count(x => x > 1e-12 * Math.Max(svd.S[0], 1e-300));
                    var o = svd.U.SubMatrix(0, basis.RowCount, 0, rank);
                    p -= o * o.TransposeThisAndMultiply(p);
                    q -= o * o.TransposeThisAndMultiply(q);
                }
            }
            result[a] = new ModeInitialCondition(u0, p.DotProduct(p), q.DotProduct(q), 2);
        }
        return result;
    }

    private double ClampedProduct(double s) => Math.Clamp(Math.Abs(Product), 1e-12 * s, 0.5 * s);

    private (double PMinus, double PPlus, double R, double C) Roots(double s)
    {
        if (!(P0 > 0)) throw new InvalidOperationException("P0 must be > 0 for the two-layer solution (the mode has no growing component).");
        var c = P0 * Q0;
        var r = Math.Sqrt(s * s + 4 * c);
        return ((s - r) / 2, (s + r) / 2, r, c);
    }
}
