namespace Interpretability.LearningDynamics;

/// <summary>
/// Numbers read off recorded mode trajectories: when a mode is learned, how far a simulated trajectory is from the
/// theory, and whether modes are learned in the order of their singular values.
/// </summary>
public static class TrajectoryAnalysis
{
    /// <summary>
    /// The first time a sampled curve reaches <paramref name="level"/> from below, linearly interpolated between the two
    /// samples around the crossing; null when it never does.
    /// </summary>
    /// <param name="times">Sample times, increasing.</param>
    /// <param name="values">Values at those times.</param>
    /// <param name="level">The level.</param>
    public static double? CrossingTime(IReadOnlyList<double> times, IReadOnlyList<double> values, double level)
    {
        ArgumentNullException.ThrowIfNull(times);
        ArgumentNullException.ThrowIfNull(values);
        if (times.Count != values.Count) throw new ArgumentException($"times ({times.Count}) and values ({values.Count}) differ in length.", nameof(values));
        if (times.Count == 0) return null;
        if (values[0] >= level) return times[0];
        for (int k = 1; k < times.Count; k++)
            if (values[k - 1] < level && values[k] >= level)
                return times[k - 1] + (level - values[k - 1]) / (values[k] - values[k - 1]) * (times[k] - times[k - 1]);
        return null;
    }

    /// <summary>Every mode's simulated half-learning time (when its strength first reaches <c>s_α/2</c>), or null for a
    /// mode not learned within the run.</summary>
    public static double?[] HalfLearningTimes(SimulationResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var s = result.Modes.SingularValues;
        return Enumerable.Range(0, s.Count).Select(a => CrossingTime(result.Times, result.Strength(a), s[a] / 2)).ToArray();
    }

    /// <summary>
    /// The largest relative error <c>|u_sim(t) − u_theory(t)| / u_theory(t)</c> over the part of a trajectory where the
    /// simulated strength lies between <paramref name="from"/> and <paramref name="to"/> of its final value (by default
    /// the 10%–90% window, our choice: the rise, where timing errors show; the plateau before it is dominated by the
    /// initial condition).
    /// </summary>
    /// <param name="times">Sample times.</param>
    /// <param name="simulated">Simulated strengths.</param>
    /// <param name="theory">The theory as a function of time.</param>
    /// <param name="from">Lower edge of the window as a fraction of the final strength.</param>
    /// <param name="to">Upper edge.</param>
    /// <returns>The error, or null when no sample falls in the window.</returns>
    public static double? MaxRelativeError(IReadOnlyList<double> times, IReadOnlyList<double> simulated, Func<double, double> theory,
        double from = 0.1, double to = 0.9)
    {
        ArgumentNullException.ThrowIfNull(times);
        ArgumentNullException.ThrowIfNull(simulated);
        ArgumentNullException.ThrowIfNull(theory);
        if (times.Count != simulated.Count) throw new ArgumentException($"times ({times.Count}) and simulated ({simulated.Count}) differ in length.", nameof(simulated));
        if (!(from >= 0 && from < to && to <= 1)) throw new ArgumentOutOfRangeException(nameof(from), $"need 0 ≤ from < to ≤ 1; got {from}, {to}.");
        if (times.Count == 0) return null;
        var final = simulated[^1];
        double? worst = null;
        for (int k = 0; k < times.Count; k++)
        {
            var u = simulated[k];
            if (u < from * final || u > to * final) continue;
            var th = theory(times[k]);
            var e = Math.Abs(u - th) / Math.Abs(th);
            worst = worst is null ? e : Math.Max(worst.Value, e);
        }
        return worst;
    }

    /// <summary>
    /// True when every mode with a clearly larger singular value (by a relative <paramref name="tolerance"/>) is learned
    /// strictly earlier; equal singular values may be learned in any order. A mode never learned counts as learned last.
    /// </summary>
    public static bool OrderMatchesSingularValues(IReadOnlyList<double> singularValues, IReadOnlyList<double?> learningTimes, double tolerance = 1e-6)
    {
        ArgumentNullException.ThrowIfNull(singularValues);
        ArgumentNullException.ThrowIfNull(learningTimes);
        if (singularValues.Count != learningTimes.Count) throw new ArgumentException("One learning time per singular value is needed.", nameof(learningTimes));
        for (int a = 0; a < singularValues.Count; a++)
            for (int b = 0; b < singularValues.Count; b++)
            {
                if (!(singularValues[a] > singularValues[b] * (1 + tolerance))) continue;
                var ta = learningTimes[a] ?? double.PositiveInfinity;
                var tb = learningTimes[b] ?? double.PositiveInfinity;
                if (!(ta < tb)) return false;                                   // also when neither was learned
            }
        return true;
    }

    /// <summary>
    /// How far apart a split holds its groups in the first hidden layer: the mean distance between items of different
    /// groups that share a parent group, minus the mean distance between items of the same group (0 when the split is
    /// invisible). Euclidean distance grows with the strength of the modes (the square of a split's distance is
    /// proportional to its mode strength for aligned weights); correlation distance <c>1 − r</c> ignores scale and so
    /// shows a split as soon as its mode outgrows the others, long before it is learned.
    /// </summary>
    /// <param name="hidden"><c>[P, H]</c> hidden vectors.</param>
    /// <param name="parent">Group of each item one level up (e.g. all items one group for the kingdom split).</param>
    /// <param name="child">Group of each item at the split's level (e.g. the kingdom).</param>
    /// <param name="correlation">Use correlation distance instead of Euclidean distance.</param>
    public static double SplitSeparation(double[,] hidden, IReadOnlyList<int> parent, IReadOnlyList<int> child, bool correlation = false)
    {
        ArgumentNullException.ThrowIfNull(hidden);
        ArgumentNullException.ThrowIfNull(parent);
        ArgumentNullException.ThrowIfNull(child);
        int p = hidden.GetLength(0);
        if (parent.Count != p || child.Count != p) throw new ArgumentException($"parent and child need one group per item ({p}).", nameof(child));
        var d = correlation ? RepresentationalSimilarity.CorrelationDistance(RepresentationalSimilarity.Correlation(hidden)) : RepresentationalSimilarity.EuclideanDistances(hidden);
        double between = 0, within = 0;
        int nb = 0, nw = 0;
        for (int i = 0; i < p; i++)
            for (int j = i + 1; j < p; j++)
            {
                if (parent[i] != parent[j]) continue;
                if (child[i] == child[j]) { within += d[i, j]; nw++; }
                else { between += d[i, j]; nb++; }
            }
        if (nb == 0) throw new ArgumentException("The child partition does not split any parent group.", nameof(child));
        return between / nb - (nw == 0 ? 0 : within / nw);
    }

    /// <summary>
    /// When a split appears in the hidden layer: the first checkpoint time at which its Euclidean
    /// <see cref="SplitSeparation"/> reaches half of its value at the last checkpoint (linearly interpolated); null if the
    /// split never separates (final separation ≤ 0).
    /// </summary>
    /// <param name="checkpoints">Checkpoints of a run, in time order.</param>
    /// <param name="parent">Group of each item one level up.</param>
    /// <param name="child">Group of each item at the split's level.</param>
    public static double? SeparationTime(IReadOnlyList<SimulationCheckpoint> checkpoints, IReadOnlyList<int> parent, IReadOnlyList<int> child)
    {
        ArgumentNullException.ThrowIfNull(checkpoints);
        var ordered = checkpoints.OrderBy(c => c.Time).ToList();
        if (ordered.Count == 0) return null;
        var times = ordered.Select(c => c.Time).ToList();
        var sep = ordered.Select(c => SplitSeparation(c.Hidden, parent, child)).ToList();
        if (!(sep[^1] > 0)) return null;
        return CrossingTime(times, sep, sep[^1] / 2);
    }
}
