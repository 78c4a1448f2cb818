namespace Interpretability.LearningDynamics;

/// <summary>
/// The conventions every part of <c>LearningDynamics</c> uses, stated once (Saxe, McClelland &amp; Ganguli 2014, "Exact
/// solutions to the nonlinear dynamics of learning in deep linear neural networks", ICLR 2014, arXiv:1312.6120, eqs.
/// 1–3; the ½ in the loss and the time unit are our choice):
/// <list type="bullet">
/// <item>Loss <c>L = ½ Σ_μ |y^μ − ŷ(x^μ)|²</c>, a <b>sum</b> over the P items, not a mean.</item>
/// <item>Correlations are sums too: <c>Σ11 = Σ_μ x^μ x^μᵀ</c>, <c>Σ31 = Σ_μ y^μ x^μᵀ</c>, <c>Σ33 = Σ_μ y^μ y^μᵀ</c>.</item>
/// <item>Full-batch gradient descent with step λ: <c>W ← W − λ ∂L/∂W</c>. The time constant is <c>τ = 1/λ</c> and time
/// is measured in units of τ: after k steps, <c>t = k·λ</c>. (A mean loss would multiply τ by P; never mix.)</item>
/// <item>The theory assumes white inputs, <c>Σ11 = I</c> (exact for one-hot items);
/// <see cref="DynamicsDataset.Whitened"/> makes any full-rank input white,
/// <see cref="InputOutputModes.InputWhitenessDeviation"/> says how far a dataset is from it.</item>
/// <item>Depth <c>D</c> = the number of weight matrices (<c>N_l − 1</c> in the paper's count of layers of units). Mode
/// strength <c>u_α = u_αᵀ (W_D ⋯ W_1) v_α</c>; aligned balanced initialisation puts <c>u0^{1/D}</c> into each
/// factor.</item>
/// <item>The time to learn a mode is its half-learning time <c>t_half</c>: the time at which <c>u_α = s_α/2</c>.</item>
/// </list>
/// </summary>
public static class DynamicsConventions
{
    /// <summary>The time constant <c>τ = 1/λ</c> of gradient descent with learning rate λ (in steps).</summary>
    /// <param name="learningRate">λ &gt; 0.</param>
    public static double Tau(double learningRate)
    {
        RequireLearningRate(learningRate);
        return 1.0 / learningRate;
    }

    /// <summary>Time in units of τ after <paramref name="step"/> full-batch steps: <c>t = step·λ</c>.</summary>
    public static double TimeOfStep(long step, double learningRate)
    {
        RequireLearningRate(learningRate);
        return step * learningRate;
    }

    /// <summary>The number of steps needed to reach time <paramref name="time"/> (in units of τ): <c>⌈t/λ⌉</c>.</summary>
    public static long StepsFor(double time, double learningRate)
    {
        RequireLearningRate(learningRate);
        if (!(time >= 0) || double.IsInfinity(time)) throw new ArgumentOutOfRangeException(nameof(time), time, "time must be a finite number ≥ 0 (in units of τ).");
        return (long)Math.Ceiling(time / learningRate - 1e-9);
    }

    /// <summary>
    /// The default learning rate for a dataset whose largest singular value is <paramref name="largestSingularValue"/>:
    /// <c>λ = 0.005 / s_max</c>. Discrete gradient descent grows a mode by <c>(1 + λs)²</c> per step instead of
    /// <c>e^{2λs}</c>, which delays it by a relative <c>λs/2</c>; at 0.005 that is 0.25% (our choice: small enough for
    /// the discrete run to follow the continuous-time solution).
    /// </summary>
    public static double DefaultLearningRate(double largestSingularValue)
    {
        if (!(largestSingularValue > 0) || double.IsInfinity(largestSingularValue))
            throw new ArgumentOutOfRangeException(nameof(largestSingularValue), largestSingularValue, "the largest singular value must be a finite number > 0.");
        return 0.005 / largestSingularValue;
    }

    /// <summary>Throws unless <paramref name="learningRate"/> is a finite number &gt; 0.</summary>
    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming <paramref name="name"/> unless the learning rate is finite and positive.</summary>
    /// <param name="learningRate">The learning rate λ of full-batch gradient descent.</param>
    /// <param name="name">The caller's parameter name, for the error.</param>
    public static void RequireLearningRate(double learningRate, string name = "learningRate")
    {
        if (!(learningRate > 0) || double.IsInfinity(learningRate))
            throw new ArgumentOutOfRangeException(name, learningRate, $"the learning rate λ must be a finite number > 0 (τ = 1/λ); got {learningRate}.");
    }
}
