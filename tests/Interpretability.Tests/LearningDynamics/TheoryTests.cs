using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Interpretability.LearningDynamics;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.OdeSolvers;

namespace Interpretability.Tests.LearningDynamics;

/// <summary>The closed-form theory against independent truths: the brief's EXPECT numbers, a numerical ODE solver
/// (MathNet's Runge–Kutta), explicit eigen-decompositions and random-matrix results.</summary>
public class TheoryTests
{
    [Fact]
    public void Semantic_data_has_the_expected_singular_values_and_levels()
    {
        var data = SemanticData.Eight();
        var modes = InputOutputModes.Of(data);
        double[] expected = { Math.Sqrt(29), Math.Sqrt(13), Math.Sqrt(5), Math.Sqrt(5), 1, 1, 1, 1 };
        Assert.Equal(8, modes.Count);
        for (int a = 0; a < 8; a++) Assert.Equal(expected[a], modes.SingularValues[a], 12);
        var (levels, purity) = modes.Levels(data);
        Assert.Equal(new[] { 0, 1, 2, 2, 3, 3, 3, 3 }, levels);
        Assert.All(purity, p => Assert.Equal(1, p, 9));
        // Item Gram of the brief: self 7, sibling 6, same kingdom 4, other kingdom 2.
        var gram = data.Targets.TransposeThisAndMultiply(data.Targets);
        Assert.Equal(7, gram[0, 0]); Assert.Equal(6, gram[0, 1]); Assert.Equal(4, gram[0, 2]); Assert.Equal(2, gram[0, 4]);
        // Mode 2 separates animals from plants.
        var v2 = modes.ObjectAnalysers.Column(1);
        Assert.True(Enumerable.Range(0, 4).All(i => Math.Sign(v2[i]) == Math.Sign(v2[0])) && Enumerable.Range(4, 4).All(i => Math.Sign(v2[i]) == -Math.Sign(v2[0])));
        Assert.Equal(0, modes.InputWhitenessDeviation, 12);
        Assert.Equal(8, modes.ModesCarrying(0.99));
    }

    [Fact]
    public void Toy_data_has_singular_values_sqrt7_sqrt3_1_1_and_the_expected_item_vectors()
    {
        var modes = InputOutputModes.Of(SemanticData.Toy());
        double[] expected = { Math.Sqrt(7), Math.Sqrt(3), 1, 1 };
        for (int a = 0; a < 4; a++) Assert.Equal(expected[a], modes.SingularValues[a], 12);
        var v = modes.ObjectAnalysers;
        for (int i = 0; i < 4; i++) Assert.Equal(0.5, v[i, 0], 12);                      // (1,1,1,1)/2
        for (int i = 0; i < 4; i++) Assert.Equal(0.5, Math.Abs(v[i, 1]), 12);         // (1,1,−1,−1)/2 up to sign
        Assert.Equal(Math.Sign(v[0, 1]), Math.Sign(v[1, 1]));
        Assert.NotEqual(Math.Sign(v[0, 1]), Math.Sign(v[2, 1]));
    }

    [Fact]
    public void Whitening_makes_correlated_inputs_white_and_keeps_the_targets()
    {
        var rng = new Random(5);
        var x = Matrix<double>.Build.Dense(3, 6, (_, _) => rng.NextDouble() - 0.3);
        var data = new DynamicsDataset("correlated", x, SemanticData.Toy().Targets.SubMatrix(0, 7, 0, 4).Append(Matrix<double>.Build.Random(7, 2, 9)));
        Assert.True(InputOutputModes.Of(data).InputWhitenessDeviation > 0.1);
        var white = data.Whitened();
        var s11 = white.Inputs * white.Inputs.Transpose();
        Assert.True((s11 - Matrix<double>.Build.DenseIdentity(3)).FrobeniusNorm() < 1e-10);
        Assert.Equal(0, InputOutputModes.Of(white).InputWhitenessDeviation, 10);
        Assert.Equal(data.Targets, white.Targets);
        // Fewer items than input dimensions: Σ11 is singular and cannot be whitened.
        var wide = new DynamicsDataset("wide", Matrix<double>.Build.Dense(5, 3, (i, j) => i == j ? 1 : 0.1 * i), Matrix<double>.Build.Random(2, 3, 1));
        Assert.Throws<InvalidOperationException>(() => wide.Whitened());
    }

    [Theory]
    [InlineData(29, 0.7977)]
    [InlineData(13, 1.1357)]
    [InlineData(5, 1.7245)]
    [InlineData(1, 3.4534)]
    public void Half_learning_times_match_the_brief(double sSquared, double expected)
    {
        var s = Math.Sqrt(sSquared);
        Assert.Equal(expected, ModeDynamics.HalfLearningTime(s, 1e-3), 4);
        // and the formula t_half = (1/(2s)) ln(s/u0 − 1), written out independently
        Assert.Equal(Math.Log(s / 1e-3 - 1) / (2 * s), ModeDynamics.HalfLearningTime(s, 1e-3), 12);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Closed_form_matches_a_numerical_ODE_solution(int depth)
    {
        const double s = 2.5, u0 = 1e-2;
        var end = ModeDynamics.TimeToReach(s, u0, 0.99 * s, depth) * 1.3;
        const int n = 8001;                                    // output points; step end/(n − 1)
        // MathNet's classical Runge–Kutta on τ du/dt = D u^{2−2/D}(s − u), independent of our quadrature and closed form.
        var path = RungeKutta.FourthOrder(u0, 0, end, n, (t, u) => depth * Math.Pow(u, 2 - 2.0 / depth) * (s - u));
        for (int k = 0; k < n; k += (n - 1) / 20)
        {
            var t = end * k / (n - 1);
            Assert.True(Math.Abs(ModeDynamics.Strength(t, s, u0, depth) - path[k]) < 1e-7 * s, $"depth {depth}, t = {t}: closed form {ModeDynamics.Strength(t, s, u0, depth)}, RK4 {path[k]}");
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    public void Time_to_reach_inverts_the_trajectory(int depth)
    {
        const double s = 1.7, u0 = 1e-3;
        foreach (var frac in new[] { 0.01, 0.1, 0.5, 0.9, 0.999 })
        {
            var t = ModeDynamics.TimeToReach(s, u0, frac * s, depth);
            Assert.Equal(frac * s, ModeDynamics.Strength(t, s, u0, depth), 8);
        }
    }

    [Fact]
    public void Learning_time_ratio_is_the_exact_expression_not_the_inverse_ratio_of_singular_values()
    {
        double s1 = Math.Sqrt(29), s2 = 1, u0 = 1e-3;
        var exact = s2 / s1 * Math.Log(s1 / u0 - 1) / Math.Log(s2 / u0 - 1);
        Assert.Equal(exact, ModeDynamics.HalfLearningTimeRatio(s1, s2, u0), 12);
        Assert.Equal(0.7977 / 3.4534, ModeDynamics.HalfLearningTimeRatio(s1, s2, u0), 4);
        // s2/s1 = 0.186, the exact ratio 0.231: "only approximately s2/s1".
        Assert.True(Math.Abs(ModeDynamics.HalfLearningTimeRatio(s1, s2, u0) - s2 / s1) > 0.04);
    }

    [Fact]
    public void Loss_formula_equals_the_loss_of_the_predicted_map()
    {
        var data = SemanticData.Eight();
        var modes = InputOutputModes.Of(data);
        var u = new[] { 5.0, 3.0, 1.0, 2.0, 0.5, 0.1, 0.9, 0.3 };
        var w = ModeDynamics.Prediction(modes, u);
        var residual = data.Targets - w * data.Inputs;
        var direct = 0.5 * residual.Enumerate().Sum(x => x * x);
        Assert.Equal(direct, ModeDynamics.Loss(modes, u), 10);
    }

    [Fact]
    public void Illusory_correlation_peaks_at_0377_at_t_1337()
    {
        var data = SemanticData.Eight();
        var modes = InputOutputModes.Of(data);
        int gills = data.FeatureNames.ToList().IndexOf("gills");
        double best = double.NegativeInfinity, bestT = 0;
        for (double t = 0; t <= 4; t += 0.0005)
        {
            var y = ModeDynamics.Prediction(modes, ModeDynamics.Strengths(t, modes.SingularValues, Enumerable.Repeat(1e-3, 8).ToArray()))[gills, 0];
            if (y > best) { best = y; bestT = t; }
        }
        Assert.Equal(0.377, best, 3);
        Assert.Equal(1.337, bestT, 2);
        // Written out by hand from the brief: 0.25 u1/s1 + 0.25 u2/s2 − 0.5 u3/s3 (the degenerate pair sums to this).
        double U(double s, double t) => ModeDynamics.Strength(t, s, 1e-3);
        var byHand = 0.25 * U(Math.Sqrt(29), bestT) / Math.Sqrt(29) + 0.25 * U(Math.Sqrt(13), bestT) / Math.Sqrt(13) - 0.5 * U(Math.Sqrt(5), bestT) / Math.Sqrt(5);
        Assert.Equal(byHand, best, 10);
    }

    [Fact]
    public void Unbalanced_mode_solution_matches_a_numerical_solution_of_the_vector_dynamics()
    {
        // τ ȧ = (s − a·b) b, τ ḃ = (s − a·b) a for 3-dimensional a, b, integrated by RK4; u = a·b.
        var a0 = new[] { 0.02, -0.01, 0.015 };
        var b0 = new[] { -0.005, 0.03, 0.01 };
        const double s = 2.0;
        var p = a0.Zip(b0, (x, y) => (x + y) / 2).ToArray();
        var q = a0.Zip(b0, (x, y) => (x - y) / 2).ToArray();
        var ic = new ModeInitialCondition(a0.Zip(b0, (x, y) => x * y).Sum(), p.Sum(x => x * x), q.Sum(x => x * x), 2);
        var y0 = Vector<double>.Build.DenseOfArray(a0.Concat(b0).ToArray());
        const double end = 5;
        const int n = 10001;                                   // output points; step end/(n − 1)
        var path = RungeKutta.FourthOrder(y0, 0, end, n, (t, y) =>
        {
            var a = y.SubVector(0, 3); var b = y.SubVector(3, 3);
            var e = s - a.DotProduct(b);
            return Vector<double>.Build.DenseOfEnumerable((b * e).Concat(a * e));
        });
        double halfNumeric = double.NaN;
        for (int k = 0; k < n; k++)
        {
            var t = end * k / (n - 1);
            var u = path[k].SubVector(0, 3).DotProduct(path[k].SubVector(3, 3));
            if (k % 200 == 0) Assert.True(Math.Abs(ic.Strength(t, s) - u) < 1e-7 * s, $"t = {t}: {ic.Strength(t, s)} vs {u}");
            if (double.IsNaN(halfNumeric) && u >= s / 2) halfNumeric = t;
        }
        Assert.Equal(halfNumeric, ic.HalfLearningTime(s), 3);
        // Balanced (Q = 0) reduces to the brief's sigmoid.
        var balanced = new ModeInitialCondition(1e-3, 1e-3, 0, 2);
        Assert.Equal(ModeDynamics.HalfLearningTime(s, 1e-3), balanced.HalfLearningTime(s), 12);
        Assert.Equal(ModeDynamics.Strength(1.3, s, 1e-3), balanced.Strength(1.3, s), 12);
        Assert.Equal(1e-3, balanced.EquivalentBalancedStrength(s), 12);
    }

    [Theory]
    [InlineData(3, 2, 0.1)]
    [InlineData(2, 3, 0.15)]
    [InlineData(4, 2, 0.05)]
    public void Branching_diffusion_spectrum_matches_the_eigenvalues_of_the_exact_covariance(int depth, int branching, double eps)
    {
        // C_ij = (1 − 2ε)^{2(D − m)} with m the depth of the lowest common ancestor of leaves i and j, built explicitly.
        int p = (int)Math.Pow(branching, depth);
        int Lca(int i, int j) { int m = depth; while (i != j) { i /= branching; j /= branching; m--; } return m; }
        var c = Matrix<double>.Build.Dense(p, p, (i, j) => Math.Pow(1 - 2 * eps, 2.0 * (depth - Lca(i, j))));
        var eig = c.Evd(Symmetricity.Symmetric).EigenValues.Select(z => z.Real).OrderByDescending(x => x).ToArray();
        var predicted = BranchingDiffusion.PredictedSpectrum(depth, branching, eps, 1)
            .SelectMany(l => Enumerable.Repeat(l.Eigenvalue, l.Multiplicity)).OrderByDescending(x => x).ToArray();
        Assert.Equal(p, predicted.Length);
        for (int k = 0; k < p; k++) Assert.Equal(eig[k], predicted[k], 9);
    }

    [Fact]
    public void Sampled_branching_data_has_levels_ordered_by_singular_value_with_tree_sizes()
    {
        var data = BranchingDiffusion.Generate(4, 2, 0.1, 800, seed: 3);
        var modes = InputOutputModes.Of(data);
        var (levels, purity) = modes.Levels(data);
        Assert.Equal(16, modes.Count);
        for (int a = 1; a < levels.Length; a++) Assert.True(levels[a] >= levels[a - 1], $"mode {a} at level {levels[a]} after level {levels[a - 1]}");
        Assert.Equal(new[] { 1, 1, 2, 4, 8 }, Enumerable.Range(0, 5).Select(l => levels.Count(x => x == l)).ToArray());
        Assert.True(purity.Min() > 0.8);
        var predicted = BranchingDiffusion.PredictedSpectrum(4, 2, 0.1, 800);
        for (int l = 0; l <= 4; l++)
        {
            var mean = Enumerable.Range(0, 16).Where(a => levels[a] == l).Average(a => modes.SingularValues[a]);
            Assert.True(Math.Abs(mean / predicted[l].SingularValue - 1) < 0.1, $"level {l}: mean s {mean}, predicted {predicted[l].SingularValue}");
        }
        // Same seed, same data; another seed, other data.
        Assert.Equal(data.Targets, BranchingDiffusion.Generate(4, 2, 0.1, 800, seed: 3).Targets);
        Assert.NotEqual(data.Targets, BranchingDiffusion.Generate(4, 2, 0.1, 800, seed: 4).Targets);
    }

    [Fact]
    public void Category_in_noise_matches_the_brief_random_matrix_numbers()
    {
        // Brief §2.4: N_o = 200, N_f = 400, σ = 1, threshold area 282.8; K = 40×40 → ŝ ≈ 47.4, overlap² ≈ 0.85;
        // K = 10×10 → top singular value at the bulk edge 34.14, overlap² ≈ 0.
        Assert.Equal(282.84, CategoryInNoise.ThresholdArea(200, 400, 1), 2);
        Assert.Equal(34.142, CategoryInNoise.BulkEdge(200, 400, 1), 3);
        Assert.Equal(47.43, CategoryInNoise.PredictedTopSingularValue(200, 400, 40, 1), 2);
        Assert.Equal(0.861, CategoryInNoise.PredictedItemOverlap(200, 400, 40, 1), 3);
        // At this size one draw's top singular value scatters by ≈ ±3%: the mean over seeds is within 2%, each within 5%.
        var tops = new List<double>();
        foreach (var seed in new[] { 1, 2, 3, 4, 5, 6 })
        {
            var big = CategoryInNoise.Generate(200, 400, 40, 40, 1, 1, seed);
            var svd = big.Dataset.Targets.Svd(true);
            tops.Add(svd.S[0]);
            Assert.True(Math.Abs(svd.S[0] / 47.43 - 1) < 0.05, $"s1 = {svd.S[0]}");
            Assert.True(Math.Pow(svd.VT.Row(0).DotProduct(big.ItemIndicator()), 2) > 0.5);
            var small = CategoryInNoise.Generate(200, 400, 10, 10, 1, 1, seed);
            var svd2 = small.Dataset.Targets.Svd(true);
            Assert.True(Math.Abs(svd2.S[0] / 34.14 - 1) < 0.05, $"s1 = {svd2.S[0]}");
            Assert.True(Math.Pow(svd2.VT.Row(0).DotProduct(small.ItemIndicator()), 2) < 0.1);
        }
        Assert.True(Math.Abs(tops.Average() / 47.43 - 1) < 0.02, $"mean s1 = {tops.Average()}");
        // The square case's overlap formula 1 − A*/area.
        Assert.Equal(1 - 200.0 / 400, CategoryInNoise.PredictedItemOverlap(200, 200, 20, 1), 12);
        Assert.Equal(0, CategoryInNoise.PredictedItemOverlap(200, 200, 14, 1));
    }

    [Fact]
    public void Threshold_fit_recovers_the_threshold_of_an_exact_overlap_curve()
    {
        var results = new[] { 250.0, 300, 400, 500, 700, 1000 }.Select(a =>
        {
            int k = (int)Math.Round(Math.Sqrt(a));
            var area = (double)k * k;
            var point = new CategorySweepPoint(k, k, 1);
            return new CategorySweepResult(point, new[] { 1.0, 0.5 }, 1 - 180 / area, 0, 1, 0.5, 1, 1, 1);
        }).ToList();
        var m = CategorySweep.MeasureThreshold(results, 0.05, 0.95);
        Assert.Equal(180, m.Area, 6);
        Assert.Equal(1, m.Intercept, 9);
        Assert.Throws<InvalidOperationException>(() => CategorySweep.MeasureThreshold(results.Take(1).ToList()));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Properties on random Σ31.
    // ---------------------------------------------------------------------------------------------------------

    private static InputOutputModes RandomModes(int seed, int rows, int cols)
    {
        var rng = new Random(seed);
        var m = Matrix<double>.Build.Dense(rows, cols, (_, _) => rng.NextDouble() * 4 - 2);
        return InputOutputModes.FromCorrelation(m);
    }

    [Property(MaxTest = 40)]
    public bool Trajectories_are_monotone_and_saturate_at_s(int seed, PositiveInt depthSeed)
    {
        var modes = RandomModes(seed, 2 + Math.Abs(seed % 5), 2 + Math.Abs(seed / 7 % 5));
        int depth = 1 + depthSeed.Get % 3;
        foreach (var s in modes.SingularValues)
        {
            var u0 = 1e-3 * s;
            var end = ModeDynamics.TimeToReach(s, u0, 0.999 * s, depth);
            double previous = 0;
            for (int k = 0; k <= 40; k++)
            {
                var u = ModeDynamics.Strength(end * k / 40, s, u0, depth);
                if (u < previous - 1e-12 * s || u > s) return false;
                previous = u;
            }
            if (Math.Abs(ModeDynamics.Strength(end * 3, s, u0, depth) - s) > 1e-4 * s) return false;
        }
        return true;
    }

    [Property(MaxTest = 40)]
    public bool Learning_time_decreases_with_the_singular_value(int seed, PositiveInt depthSeed)
    {
        // Depth ≥ 2: a shallow (D = 1) network learns every mode at rate 1/τ whatever its s, so there is no such order.
        var modes = RandomModes(seed, 3 + Math.Abs(seed % 4), 3 + Math.Abs(seed / 5 % 4));
        int depth = 2 + depthSeed.Get % 3;
        const double u0 = 1e-3;
        var s = modes.SingularValues.Where(x => x > 4 * u0).ToArray();
        for (int a = 1; a < s.Length; a++)
        {
            if (s[a - 1] <= s[a] * (1 + 1e-9)) continue;
            if (!(ModeDynamics.HalfLearningTime(s[a - 1], u0, depth) < ModeDynamics.HalfLearningTime(s[a], u0, depth))) return false;
        }
        return true;
    }

    [Property(MaxTest = 30)]
    public bool Modes_of_a_random_correlation_reconstruct_it(int seed)
    {
        var modes = RandomModes(seed, 2 + Math.Abs(seed % 6), 2 + Math.Abs(seed / 3 % 6));
        var rebuilt = ModeDynamics.Prediction(modes, modes.SingularValues.ToArray());
        var sorted = modes.SingularValues.Zip(modes.SingularValues.Skip(1), (x, y) => x >= y).All(b => b);
        return sorted && (rebuilt - modes.Sigma31).FrobeniusNorm() < 1e-9 * modes.Sigma31.FrobeniusNorm()
               && Math.Abs(ModeDynamics.Loss(modes, modes.SingularValues.ToArray()) - (0.5 * modes.TraceSigma33 - 0.5 * modes.SingularValues.Sum(x => x * x))) < 1e-9 * (1 + modes.TraceSigma33);
    }
}
