using MathNet.Numerics;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.RootFinding;

namespace Interpretability.LearningDynamics;

/// <summary>
/// The exact dynamics of one mode of a deep linear network from small balanced (decoupled) initial conditions (Saxe,
/// McClelland &amp; Ganguli 2014, arXiv:1312.6120, eqs. 5–8 and §3). With white inputs, aligned weights and <c>D</c>
/// weight matrices each mode's strength obeys <c>τ du/dt = D u^{2 − 2/D} (s − u)</c>; for <c>D = 2</c> this is
/// <c>τ du/dt = 2u(s − u)</c>, solved by <c>u(t) = s e^{2st/τ} / (e^{2st/τ} − 1 + s/u0)</c>. Time is in units of τ (see
/// <see cref="DynamicsConventions"/>). For <c>D = 1</c> the solution is exponential, for <c>D ≥ 3</c> the time to reach
/// a strength is an integral computed by adaptive Gauss–Kronrod quadrature and inverted by Brent's method (double
/// precision, relative error ≈ 1e-10).
/// </summary>
public static class ModeDynamics
{
    /// <summary>The right-hand side <c>τ du/dt = D u^{2 − 2/D} (s − u)</c>.</summary>
    /// <param name="u">Mode strength ≥ 0.</param>
    /// <param name="s">Singular value of the mode.</param>
    /// <param name="depth">Number of weight matrices D ≥ 1.</param>
    public static double Rate(double u, double s, int depth = 2)
    {
        RequireDepth(depth);
        return depth * Math.Pow(Math.Max(u, 0), 2 - 2.0 / depth) * (s - u);
    }

    /// <summary>The mode strength at time <paramref name="t"/> (units of τ) from <c>u(0) = u0</c>.</summary>
    /// <param name="t">Time ≥ 0 in units of τ.</param>
    /// <param name="s">Singular value s &gt; 0.</param>
    /// <param name="u0">Initial strength in (0, s) (the product <c>a·b</c> of the mode's initial factors).</param>
    /// <param name="depth">Number of weight matrices D ≥ 1.</param>
    public static double Strength(double t, double s, double u0, int depth = 2)
    {
        Require(s, u0, depth);
        if (!(t >= 0) || double.IsInfinity(t)) throw new ArgumentOutOfRangeException(nameof(t), t, "t must be a finite time ≥ 0 (units of τ).");
        switch (depth)
        {
            case 1:
                return s - (s - u0) * Math.Exp(-t);
            case 2:
                {
                    // u = s / (1 + (s/u0 − 1) e^{−2st}), the same as the paper's form but stable for large t.
                    var e = Math.Exp(-2 * s * t);
                    return s / (1 + (s / u0 - 1) * e);
                }
            default:
                {
                    if (t == 0) return u0;
                    // Invert t(w) in the logit w = ln(u/(s − u)); t(w) is increasing, so bracket and use Brent.
                    var w0 = Logit(u0, s);
                    double F(double w) => TimeBetweenLogits(w0, w, s, depth) - t;
                    double hi = w0 + 1;
                    while (F(hi) < 0) hi = w0 + 2 * (hi - w0);
                    var w = Brent.FindRoot(F, w0, hi, 1e-12, 200);
                    return s / (1 + Math.Exp(-w));
                }
        }
    }

    /// <summary>
    /// The time (units of τ) to go from <paramref name="u0"/> to <paramref name="uf"/>; for <c>D = 2</c>
    /// <c>t = (1/(2s)) ln[uf (s − u0) / (u0 (s − uf))]</c>.
    /// </summary>
    /// <param name="s">Singular value s &gt; 0.</param>
    /// <param name="u0">Initial strength in (0, s).</param>
    /// <param name="uf">Final strength in [u0, s).</param>
    /// <param name="depth">Number of weight matrices D ≥ 1.</param>
    public static double TimeToReach(double s, double u0, double uf, int depth = 2)
    {
        Require(s, u0, depth);
        if (!(uf >= u0 && uf < s)) throw new ArgumentOutOfRangeException(nameof(uf), uf, $"the final strength must be in [u0, s) = [{u0}, {s}).");
        return depth switch
        {
            1 => Math.Log((s - u0) / (s - uf)),
            2 => (Logit(uf, s) - Logit(u0, s)) / (2 * s),
            _ => TimeBetweenLogits(Logit(u0, s), Logit(uf, s), s, depth),
        };
    }

    /// <summary>
    /// The half-learning time, when <c>u = s/2</c>: for <c>D = 2</c>, <c>t_half = (1/(2s)) ln(s/u0 − 1)</c> (the "(τ/s)
    /// ln(s/ε)" of Saxe et al. 2014, arXiv:1312.6120, is the time from ε to s − ε, twice the logarithm).
    /// </summary>
    public static double HalfLearningTime(double s, double u0, int depth = 2)
    {
        Require(s, u0, depth);
        if (u0 >= s / 2) return 0;
        return TimeToReach(s, u0, s / 2, depth);
    }

    /// <summary>
    /// The exact ratio of half-learning times of two modes from the same u0 (two layers):
    /// <c>t_half(s1)/t_half(s2) = (s2/s1) · ln(s1/u0 − 1) / ln(s2/u0 − 1)</c> — only approximately <c>s2/s1</c>.
    /// </summary>
    public static double HalfLearningTimeRatio(double s1, double s2, double u0)
    {
        Require(s1, u0, 2);
        Require(s2, u0, 2);
        return HalfLearningTime(s1, u0) / HalfLearningTime(s2, u0);
    }

    /// <summary>Every mode's strength at time <paramref name="t"/>.</summary>
    /// <param name="t">Time ≥ 0 (units of τ).</param>
    /// <param name="singularValues">s_α.</param>
    /// <param name="initialStrengths">u0 per mode (same length).</param>
    /// <param name="depth">Number of weight matrices.</param>
    public static double[] Strengths(double t, IReadOnlyList<double> singularValues, IReadOnlyList<double> initialStrengths, int depth = 2)
    {
        ArgumentNullException.ThrowIfNull(singularValues);
        ArgumentNullException.ThrowIfNull(initialStrengths);
        if (singularValues.Count != initialStrengths.Count)
            throw new ArgumentException($"{singularValues.Count} singular values but {initialStrengths.Count} initial strengths.", nameof(initialStrengths));
        return singularValues.Select((s, a) => Strength(t, s, initialStrengths[a], depth)).ToArray();
    }

    /// <summary>
    /// The training loss for mode strengths <paramref name="strengths"/> of aligned weights with white inputs:
    /// <c>L = ½ tr Σ33 − Σ_α (s_α u_α − u_α²/2)</c>; each learned mode lowers it by <c>s_α²/2</c> — the staircase.
    /// </summary>
    public static double Loss(InputOutputModes modes, IReadOnlyList<double> strengths)
    {
        ArgumentNullException.ThrowIfNull(modes);
        ArgumentNullException.ThrowIfNull(strengths);
        if (strengths.Count != modes.Count) throw new ArgumentException($"strengths must have one entry per mode ({modes.Count}); got {strengths.Count}.", nameof(strengths));
        double loss = 0.5 * modes.TraceSigma33;
        for (int a = 0; a < modes.Count; a++) loss -= modes.SingularValues[a] * strengths[a] - 0.5 * strengths[a] * strengths[a];
        return loss;
    }

    /// <summary>
    /// The network's prediction for aligned weights: <c>Ŵ = Σ_α u_α(t) u_α v_αᵀ</c>, <c>[N3, N1]</c> (for one-hot
    /// items, column i is the predicted feature vector of item i; it shows the transient "semantic illusions" of Saxe,
    /// McClelland &amp; Ganguli 2019, "A mathematical theory of semantic development in deep neural networks", PNAS,
    /// doi:10.1073/pnas.1820226116).
    /// </summary>
    public static Matrix<double> Prediction(InputOutputModes modes, IReadOnlyList<double> strengths)
    {
        ArgumentNullException.ThrowIfNull(modes);
        ArgumentNullException.ThrowIfNull(strengths);
        if (strengths.Count != modes.Count) throw new ArgumentException($"strengths must have one entry per mode ({modes.Count}); got {strengths.Count}.", nameof(strengths));
        return modes.FeatureSynthesisers * Matrix<double>.Build.DenseOfDiagonalArray(strengths.ToArray()) * modes.ObjectAnalysers.Transpose();
    }

    /// <summary>
    /// The first hidden layer's item Gram matrix for aligned balanced weights:
    /// <c>h_i · h_j = Σ_α u_α^{2/D} v_α(i) v_α(j)</c> (for D = 2, <c>Σ_α u_α v_α v_αᵀ</c>, the hidden similarity
    /// structure of Saxe, McClelland &amp; Ganguli 2019, PNAS, doi:10.1073/pnas.1820226116), <c>[N1, N1]</c>.
    /// </summary>
    public static Matrix<double> HiddenGram(InputOutputModes modes, IReadOnlyList<double> strengths, int depth = 2)
    {
        ArgumentNullException.ThrowIfNull(modes);
        ArgumentNullException.ThrowIfNull(strengths);
        RequireDepth(depth);
        if (strengths.Count != modes.Count) throw new ArgumentException($"strengths must have one entry per mode ({modes.Count}); got {strengths.Count}.", nameof(strengths));
        var d = Matrix<double>.Build.DenseOfDiagonalArray(strengths.Select(u => Math.Pow(Math.Max(u, 0), 2.0 / depth)).ToArray());
        return modes.ObjectAnalysers * d * modes.ObjectAnalysers.Transpose();
    }

    /// <summary>∫ dt between two logits: <c>dt = u^{2/D − 1} / (s D) dw</c> with <c>u = s/(1 + e^{−w})</c>.</summary>
    private static double TimeBetweenLogits(double w0, double w1, double s, int depth)
    {
        if (w1 == w0) return 0;
        double G(double w) => Math.Pow(s / (1 + Math.Exp(-w)), 2.0 / depth - 1) / (s * depth);
        return Integrate.GaussKronrod(G, w0, w1, 1e-12, 20, 31);
    }

    private static double Logit(double u, double s) => Math.Log(u / (s - u));

    private static void Require(double s, double u0, int depth)
    {
        RequireDepth(depth);
        if (!(s > 0) || double.IsInfinity(s)) throw new ArgumentOutOfRangeException(nameof(s), s, "the singular value s must be a finite number > 0.");
        if (!(u0 > 0 && u0 < s)) throw new ArgumentOutOfRangeException(nameof(u0), u0, $"the initial strength u0 must be in (0, s) = (0, {s}); the closed form describes learning from a small positive start.");
    }

    private static void RequireDepth(int depth)
    {
        if (depth < 1) throw new ArgumentOutOfRangeException(nameof(depth), depth, "depth (number of weight matrices) must be at least 1.");
    }
}
