using Interpretability.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Ensembles;

/// <summary>The verdict of one thought experiment.</summary>
/// <param name="Name">Which experiment.</param>
/// <param name="Passed">True when every checked input gave the expected answer.</param>
/// <param name="Checked">Inputs checked.</param>
/// <param name="Correct">Inputs answered as expected.</param>
/// <param name="Detail">What was checked, for a person.</param>
public sealed record ThoughtExperimentResult(string Name, bool Passed, int Checked, int Correct, string Detail);

/// <summary>
/// The four thought experiments of the Habr article on synapse ensembles (2015, https://habr.com/ru/articles/249031/)
/// as small tanh networks. The article gives the logic; the weights are our choice. Each is built as a
/// <see cref="CoordinateNetwork"/> (so every tool of this folder applies to them) and verified on all of its inputs or
/// on a grid. Logistic units <c>σ(z) = (1 + tanh(z/2))/2</c> (experiment 4) are rewritten exactly as tanh units with
/// halved weights, and the affine map folded into the next layer.
/// </summary>
public static class ThoughtExperiments
{
    /// <summary>
    /// 1. Line classifier, one neuron over (x, y): <c>tanh(−k x + y)</c>, positive above the line <c>y = kx</c>
    /// (y upwards). Synapse 0 is x→n0 (weight −k), synapse 1 is y→n0 (weight 1); the ratio of the two is the slope.
    /// </summary>
    public static CoordinateNetwork LineClassifier(double k = 0.5) =>
        new(new SynapseTopology(2, 1, new[] { (0, 2), (1, 2) }, new[] { 0 }, outputNames: new[] { "above" }),
            new[] { -k, 1.0 }, new[] { 0.0 }, ScalarType.Float64);

    /// <summary>
    /// 2. 4-bit comparator, one neuron over inputs a3 a2 a1 a0 b3 b2 b1 b0 ∈ {0, 1}:
    /// <c>z = Σ 2^i a_i − k Σ 2^i b_i − 0.5</c>; with k = 1, <c>z &gt; 0 ⇔ A &gt; B</c>. Synapses 0–3 (A) and 4–7 (B) are
    /// two disjoint ensembles inside one neuron.
    /// </summary>
    public static CoordinateNetwork Comparator(double k = 1)
    {
        var synapses = Enumerable.Range(0, 8).Select(i => (i, 8)).ToArray();
        double[] weights = { 8, 4, 2, 1, -8 * k, -4 * k, -2 * k, -k };
        return new CoordinateNetwork(new SynapseTopology(8, 1, synapses, new[] { 0 },
            new[] { "a3", "a2", "a1", "a0", "b3", "b2", "b1", "b0" }, new[] { "a_gt_b" }), weights, new[] { -0.5 }, ScalarType.Float64);
    }

    /// <summary>
    /// 3. Range detector, three neurons over one input: <c>h1 = tanh(β(x − L))</c> (excites), <c>h2 = tanh(β(x − U))</c>
    /// (inhibits), <c>out = tanh(γ(h1 − h2 − 1))</c>; <c>out &gt; 0 ⇔ x ∈ (L, U)</c>. h1's bias alone moves L, h2's alone moves U.
    /// </summary>
    public static CoordinateNetwork RangeDetector(double lower = -0.3, double upper = 0.4, double beta = 20, double gamma = 5)
    {
        var topology = new SynapseTopology(1, 3, new[] { (0, 1), (0, 2), (1, 3), (2, 3) }, new[] { 2 }, new[] { "x" }, new[] { "inside" });
        return new CoordinateNetwork(topology, new[] { beta, beta, gamma, -gamma }, new[] { -beta * lower, -beta * upper, -gamma }, ScalarType.Float64);
    }

    /// <summary>
    /// 4. Two-interval detector, four neurons over one input (our weights: <c>h1 = σ(40(x+0.6))</c>, <c>h2 = σ(6x)</c>,
    /// <c>h3 = σ(40(x−0.1))</c>, <c>out = tanh(5(h1 − 2h2 + h3 − 0.25))</c>), written with tanh units:
    /// <c>h1' = tanh(20x + 12)</c>, <c>h2' = tanh(3x)</c>, <c>h3' = tanh(20x − 2)</c>,
    /// <c>out = tanh(2.5h1' − 5h2' + 2.5h3' − 1.25)</c> — the same function. Positive on
    /// <c>(−0.6, ln 0.6/6) ∪ (0.1, ln 7/6)</c>.
    /// </summary>
    public static CoordinateNetwork TwoIntervalDetector()
    {
        var topology = new SynapseTopology(1, 4, new[] { (0, 1), (0, 2), (0, 3), (1, 4), (2, 4), (3, 4) }, new[] { 3 }, new[] { "x" }, new[] { "inside" });
        return new CoordinateNetwork(topology, new[] { 20.0, 3.0, 20.0, 2.5, -5.0, 2.5 }, new[] { 12.0, 0.0, -2.0, -1.25 }, ScalarType.Float64);
    }

    /// <summary>
    /// The two-interval detector's boundaries B1…B4 in closed form: B1 = −0.6, B2 = ln(0.6)/6, B3 = 0.1, B4 = ln(7)/6.
    /// B2 and B4 are the exact sign changes; B1 and B3 neglect h2's small value there, and the exact sign changes lie
    /// at ≈ −0.621 and ≈ 0.104 (inside the 0.03 margin <see cref="VerifyTwoIntervalDetector"/> leaves around each
    /// boundary).
    /// </summary>
    public static double[] TwoIntervalBoundaries => new[] { -0.6, Math.Log(0.6) / 6, 0.1, Math.Log(7) / 6 };

    /// <summary>Outputs of a one-output network at points.</summary>
    /// <param name="network">The network.</param>
    /// <param name="points">One row per point, one column per input.</param>
    /// <returns>The output at each point.</returns>
    public static double[] Evaluate(CoordinateNetwork network, double[,] points)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(points);
        using var scope = NewDisposeScope();
        using var trace = network.Trace(tensor(points, dtype: network.DType));
        return trace.Outputs.select(1, 0).to(ScalarType.Float64).data<double>().ToArray();
    }

    /// <summary>Outputs of a one-input network along <paramref name="xs"/>.</summary>
    public static double[] Evaluate(CoordinateNetwork network, IReadOnlyList<double> xs)
    {
        ArgumentNullException.ThrowIfNull(xs);
        var points = new double[xs.Count, 1];
        for (int i = 0; i < xs.Count; i++) points[i, 0] = xs[i];
        return Evaluate(network, points);
    }

    /// <summary>Where a one-input network's output changes sign on [from, to] (bisection to 1e−9 between the samples).</summary>
    public static IReadOnlyList<double> Crossings(CoordinateNetwork network, double from = -1, double to = 1, int samples = 4001)
    {
        var xs = Enumerable.Range(0, samples).Select(i => from + (to - from) * i / (samples - 1)).ToArray();
        var ys = Evaluate(network, xs);
        var result = new List<double>();
        for (int i = 1; i < xs.Length; i++)
        {
            if (Math.Sign(ys[i - 1]) == Math.Sign(ys[i])) continue;
            double lo = xs[i - 1], hi = xs[i], ylo = ys[i - 1];
            for (int it = 0; it < 60 && hi - lo > 1e-9; it++)
            {
                var mid = (lo + hi) / 2;
                var ym = Evaluate(network, new[] { mid })[0];
                if (Math.Sign(ym) == Math.Sign(ylo)) { lo = mid; ylo = ym; } else hi = mid;
            }
            result.Add((lo + hi) / 2);
        }
        return result;
    }

    /// <summary>
    /// Checks experiment 1: six hand-picked points for k = 0.5 ((0,1)+, (0,−1)−, (1,0.4)−, (1,0.6)+, (−1,−0.4)+,
    /// (−1,−0.6)−) and a 41×41 grid of [−1, 1]² (points within 0.05 of the line skipped): sign(out) = sign(y − kx).
    /// </summary>
    public static ThoughtExperimentResult VerifyLineClassifier(double k = 0.5)
    {
        using var net = LineClassifier(k);
        var cases = new List<(double X, double Y, bool Above)>();
        if (k == 0.5)
            cases.AddRange(new[] { (0.0, 1.0, true), (0.0, -1.0, false), (1.0, 0.4, false), (1.0, 0.6, true), (-1.0, -0.4, true), (-1.0, -0.6, false) });
        for (int i = 0; i <= 40; i++)
            for (int j = 0; j <= 40; j++)
            {
                double x = -1 + i * 0.05, y = -1 + j * 0.05;
                if (Math.Abs(y - k * x) / Math.Sqrt(1 + k * k) < 0.05) continue;
                cases.Add((x, y, y - k * x > 0));
            }
        var points = new double[cases.Count, 2];
        for (int i = 0; i < cases.Count; i++) { points[i, 0] = cases[i].X; points[i, 1] = cases[i].Y; }
        var outs = Evaluate(net, points);
        int correct = cases.Where((c, i) => (outs[i] > 0) == c.Above).Count();
        return new ThoughtExperimentResult("line classifier", correct == cases.Count, cases.Count, correct,
            $"one neuron tanh({-k}·x + 1·y): positive above y = {k}x; 6 hand-picked points and a 41×41 grid (points within 0.05 of the line skipped)");
    }

    /// <summary>Checks experiment 2 on all 256 pairs (A, B): <c>out &gt; 0 ⇔ A − kB &gt; 0.5</c> (for k = 1: A &gt; B).</summary>
    public static ThoughtExperimentResult VerifyComparator(double k = 1)
    {
        using var net = Comparator(k);
        var points = new double[256, 8];
        for (int a = 0; a < 16; a++)
            for (int b = 0; b < 16; b++)
                for (int bit = 0; bit < 4; bit++)
                {
                    points[a * 16 + b, bit] = (a >> (3 - bit)) & 1;
                    points[a * 16 + b, 4 + bit] = (b >> (3 - bit)) & 1;
                }
        var outs = Evaluate(net, points);
        int correct = 0;
        for (int a = 0; a < 16; a++)
            for (int b = 0; b < 16; b++)
                if ((outs[a * 16 + b] > 0) == (a - k * b > 0.5)) correct++;
        return new ThoughtExperimentResult("4-bit comparator", correct == 256, 256, correct,
            $"one neuron, weights 8:4:2:1 on A and −{k}·(8:4:2:1) on B, bias −0.5: out > 0 exactly when A > B, all 256 pairs");
    }

    /// <summary>
    /// Checks experiment 3: on a 401-point grid of [−1, 1] (points within 0.05 of L or U skipped) <c>out &gt; 0 ⇔ x ∈ (L, U)</c>;
    /// and moving h1's bias by −0.2β moves L to L + 0.2 while U stays (both sign changes located to 1e−3).
    /// </summary>
    public static ThoughtExperimentResult VerifyRangeDetector(double lower = -0.3, double upper = 0.4, double beta = 20, double gamma = 5)
    {
        using var net = RangeDetector(lower, upper, beta, gamma);
        var xs = Enumerable.Range(0, 401).Select(i => -1 + i * 0.005).Where(x => Math.Abs(x - lower) >= 0.05 && Math.Abs(x - upper) >= 0.05).ToArray();
        var outs = Evaluate(net, xs);
        int correct = xs.Where((x, i) => (outs[i] > 0) == (x > lower && x < upper)).Count();
        int checkedCount = xs.Length;
        // Moving h1's bias alone moves only the lower boundary.
        var before = Crossings(net);
        var biases = net.GetBiases();
        biases[0] -= 0.2 * beta;
        net.SetBiases(biases);
        var after = Crossings(net);
        bool boundariesOk = before.Count == 2 && after.Count == 2 && Math.Abs(before[0] - lower) < 1e-3 && Math.Abs(before[1] - upper) < 1e-3
                            && Math.Abs(after[0] - (lower + 0.2)) < 1e-3 && Math.Abs(after[1] - upper) < 1e-3;
        checkedCount++;
        if (boundariesOk) correct++;
        return new ThoughtExperimentResult("range detector", correct == checkedCount, checkedCount, correct,
            $"h1 = tanh({beta}(x−{lower})), h2 = tanh({beta}(x−{upper})), out = tanh({gamma}(h1−h2−1)): positive exactly on ({lower}, {upper}) on a 401-point grid; " +
            $"shifting h1's bias moves only L (boundaries {Fmt(before)} → {Fmt(after)})");
    }

    /// <summary>
    /// Checks experiment 4: on a 401-point grid of [−1, 1] (points within 0.03 of a boundary skipped)
    /// <c>out &gt; 0 ⇔ x ∈ (B1, B2) ∪ (B3, B4)</c>, plus five hand-checked points x = −1 −, −0.3 +, 0 −, 0.2 +, 0.5 −.
    /// </summary>
    public static ThoughtExperimentResult VerifyTwoIntervalDetector()
    {
        using var net = TwoIntervalDetector();
        var b = TwoIntervalBoundaries;
        bool Inside(double x) => (x > b[0] && x < b[1]) || (x > b[2] && x < b[3]);
        var xs = Enumerable.Range(0, 401).Select(i => -1 + i * 0.005).Where(x => b.All(v => Math.Abs(x - v) >= 0.03)).ToList();
        var expected = xs.Select(Inside).ToList();
        foreach (var (x, sign) in new[] { (-1.0, false), (-0.3, true), (0.0, false), (0.2, true), (0.5, false) }) { xs.Add(x); expected.Add(sign); }
        var outs = Evaluate(net, xs);
        int correct = expected.Where((e, i) => (outs[i] > 0) == e).Count();
        return new ThoughtExperimentResult("two-interval detector", correct == xs.Count, xs.Count, correct,
            $"h1 = σ(40(x+0.6)), h2 = σ(6x), h3 = σ(40(x−0.1)), out = tanh(5(h1 − 2h2 + h3 − 0.25)): positive exactly on ({b[0]:0.###}, {b[1]:0.####}) ∪ ({b[2]:0.###}, {b[3]:0.####}); " +
            "B1 depends only on n1, B3 only on n3, B2 and B4 both on n2");
    }

    /// <summary>Runs all four checks.</summary>
    public static IReadOnlyList<ThoughtExperimentResult> VerifyAll() => new[]
    {
        VerifyLineClassifier(), VerifyComparator(), VerifyRangeDetector(), VerifyTwoIntervalDetector(),
    };

    private static string Fmt(IReadOnlyList<double> v) => "[" + string.Join(", ", v.Select(x => x.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture))) + "]";
}
