using System.Text.Json;
using Interpretability.Cli;
using Interpretability.LearningDynamics;
using Interpretability.Tests.Infrastructure;
using MathNet.Numerics.LinearAlgebra;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Tests.LearningDynamics;

/// <summary>Gradient-descent simulations against the closed form, finite differences and hand computations.</summary>
public class SimulationTests
{
    private static readonly double[] ExpectedHalfTimes = { 0.7977, 1.1357, 1.7245, 1.7245, 3.4534, 3.4534, 3.4534, 3.4534 };

    [Fact]
    public void Aligned_two_layer_run_on_the_semantic_data_matches_the_closed_form()
    {
        // The figure: aligned balanced start, u0 = 1e-3, λ·s_max ≈ 0.01 → t_half within 2% of the brief's values,
        // relative error ≤ 5% on the rise (10%–90%), and |u_sim − u_theory| < 0.02 s throughout.
        var data = SemanticData.Eight();
        var sim = DeepNetworkSimulation.Run(data, new SimulationOptions(0.002, 2750, Hidden: 16, RecordEvery: 2));
        var s = sim.Modes.SingularValues;
        var half = TrajectoryAnalysis.HalfLearningTimes(sim);
        for (int a = 0; a < 8; a++)
        {
            Assert.NotNull(half[a]);
            Assert.True(Math.Abs(half[a]!.Value / ExpectedHalfTimes[a] - 1) < 0.02, $"mode {a}: simulated t_half {half[a]}, expected {ExpectedHalfTimes[a]}");
            var err = TrajectoryAnalysis.MaxRelativeError(sim.Times, sim.Strength(a), t => ModeDynamics.Strength(t, s[a], 1e-3));
            Assert.True(err is < 0.05, $"mode {a}: relative error {err}");
            var u = sim.Strength(a);
            for (int k = 0; k < u.Length; k++) Assert.True(Math.Abs(u[k] - ModeDynamics.Strength(sim.Times[k], s[a], 1e-3)) < 0.02 * s[a]);
        }
        // The initial conditions read off the weights are the aligned ones.
        Assert.All(sim.InitialConditions, ic => Assert.Equal(1e-3, ic.Product, 12));
        // The loss at the end equals the theory's.
        Assert.Equal(ModeDynamics.Loss(sim.Modes, Enumerable.Range(0, 8).Select(a => ModeDynamics.Strength(sim.Times[^1], s[a], 1e-3)).ToArray()), sim.Loss[^1], 2);
    }

    [Fact]
    public void Random_start_learns_modes_in_the_order_of_their_singular_values_with_u0_estimated_per_mode()
    {
        var data = SemanticData.Eight();
        var modes = InputOutputModes.Of(data);
        var sim = DeepNetworkSimulation.Run(data, new SimulationOptions(0.002, 3250, Hidden: 16, Initialization: WeightInitialization.Random, Seed: 4, RecordEvery: 2));
        var half = TrajectoryAnalysis.HalfLearningTimes(sim);
        Assert.True(TrajectoryAnalysis.OrderMatchesSingularValues(modes.SingularValues, half), string.Join(", ", half));
        // Per-mode theory from the initial weights predicts each simulated half time within 10% (the decoupled theory
        // ignores the coupling between modes; 16 hidden units).
        for (int a = 0; a < 8; a++)
        {
            var predicted = sim.InitialConditions[a].HalfLearningTime(modes.SingularValues[a]);
            Assert.True(Math.Abs(half[a]!.Value / predicted - 1) < 0.1, $"mode {a}: simulated {half[a]}, predicted {predicted}");
        }
        // The initial strengths really are read off the weights: u_α(0) is the first recorded strength.
        for (int a = 0; a < 8; a++) Assert.Equal(sim.InitialConditions[a].Product, sim.ModeStrengths[0, a], 12);
    }

    [Fact]
    public void Deeper_aligned_networks_follow_the_depth_formula()
    {
        var data = SemanticData.Eight();
        var modes = InputOutputModes.Of(data);
        var s = modes.SingularValues;
        var lr = 0.01 / s[0];
        var end = 1.1 * ModeDynamics.TimeToReach(1, 1e-3, 0.6, 3);
        var sim = DeepNetworkSimulation.Run(data, new SimulationOptions(lr, DynamicsConventions.StepsFor(end, lr), Depth: 3, Hidden: 12, RecordEvery: 2));
        var half = TrajectoryAnalysis.HalfLearningTimes(sim);
        foreach (var a in new[] { 0, 1, 2, 4 })
            Assert.True(Math.Abs(half[a]!.Value / ModeDynamics.HalfLearningTime(s[a], 1e-3, 3) - 1) < 0.02, $"mode {a}: {half[a]} vs {ModeDynamics.HalfLearningTime(s[a], 1e-3, 3)}");
    }

    [Theory]
    [InlineData(HiddenActivation.Linear)]
    [InlineData(HiddenActivation.Tanh)]
    [InlineData(HiddenActivation.ReLU)]
    public void Full_batch_gradient_equals_the_per_item_sum_and_finite_differences(HiddenActivation activation)
    {
        using var scope = NewDisposeScope();
        var data = SemanticData.Eight();
        var (x, y) = data.ToTensors();
        using var g = new Generator(11);
        var weights = new[] { randn(new long[] { 5, 8 }, dtype: float64, generator: g) * 0.7, randn(new long[] { 4, 5 }, dtype: float64, generator: g) * 0.7, randn(new long[] { 22, 4 }, dtype: float64, generator: g) * 0.7 };
        var full = DeepNetworkSimulation.GradientFullBatch(x, y, weights, activation);
        var perItem = DeepNetworkSimulation.GradientPerItem(x, y, weights, activation);
        for (int l = 0; l < 3; l++) Assert.True(full[l].allclose(perItem[l], rtol: 1e-10, atol: 1e-12));
        // Central differences of L = ½ Σ |y − f(x)|² on a few entries of every layer.
        double Loss()
        {
            var (_, _, output) = DeepNetworkSimulation.Forward(x, weights, activation);
            return 0.5 * (output - y).square().sum().ToDouble();
        }
        const double h = 1e-6;
        for (int l = 0; l < 3; l++)
            foreach (var (i, j) in new[] { (0, 0), (1, 2), (3, 1) })
            {
                var old = weights[l][i, j].ToDouble();
                weights[l][i, j] = tensor(old + h); var plus = Loss();
                weights[l][i, j] = tensor(old - h); var minus = Loss();
                weights[l][i, j] = tensor(old);
                Assert.Equal((plus - minus) / (2 * h), full[l][i, j].ToDouble(), 5);
            }
    }

    [Fact]
    public void The_hidden_gram_of_an_aligned_run_is_the_theory_similarity_matrix_and_rsa_splits_in_tree_order()
    {
        var data = SemanticData.Eight();
        var modes = InputOutputModes.Of(data);
        var s = modes.SingularValues;
        var t1 = ModeDynamics.HalfLearningTime(s[1], 1e-3);
        var t2 = ModeDynamics.HalfLearningTime(s[2], 1e-3);
        var checkpoints = new[] { 1.05 * t1, 1.05 * t2, 0.5 * t1 };
        var sim = DeepNetworkSimulation.Run(data, new SimulationOptions(0.001, (long)(1.1 * t2 / 0.001), Hidden: 16, RecordEvery: 10, CheckpointTimes: checkpoints));
        Assert.Equal(3, sim.Checkpoints.Count);
        foreach (var c in sim.Checkpoints)
        {
            var gram = Matrix<double>.Build.DenseOfArray(RepresentationalSimilarity.Gram(c.Hidden));
            var theory = ModeDynamics.HiddenGram(modes, s.Select(x => ModeDynamics.Strength(c.Time, x, 1e-3)).ToArray());
            Assert.True((gram - theory).FrobeniusNorm() / theory.FrobeniusNorm() < 0.02, $"t = {c.Time}");
        }
        // After t_half(level 1) the top split of the dendrogram is animals | plants; after t_half(level 2), the four classes.
        var h = data.Hierarchy!;
        Dendrogram Tree(SimulationCheckpoint c) => Dendrogram.AverageLinkage(RepresentationalSimilarity.CorrelationDistance(RepresentationalSimilarity.Correlation(c.Hidden)));
        var after1 = sim.Checkpoints.Single(c => Math.Abs(c.Time - 1.05 * t1) < 0.01);
        var after2 = sim.Checkpoints.Single(c => Math.Abs(c.Time - 1.05 * t2) < 0.01);
        Assert.True(Dendrogram.SamePartition(Tree(after1).Cut(2), h.GroupOfItem[1]));
        Assert.True(Dendrogram.SamePartition(Tree(after2).Cut(4), h.GroupOfItem[2]));
    }

    [Fact]
    public void Same_seed_gives_the_same_run_and_another_seed_another()
    {
        var data = SemanticData.Toy();
        SimulationResult Run(int seed) => DeepNetworkSimulation.Run(data, new SimulationOptions(0.01, 200, Hidden: 6, Initialization: WeightInitialization.Random, Seed: seed));
        var a = Run(3);
        var b = Run(3);
        var c = Run(4);
        Assert.Equal(a.ModeStrengths, b.ModeStrengths);
        Assert.NotEqual(a.ModeStrengths, c.ModeStrengths);
    }

    [Fact]
    public void Nonlinear_networks_run_and_tanh_starts_like_the_linear_theory()
    {
        var data = SemanticData.Eight();
        var opts = new SimulationOptions(0.002, 600, Hidden: 16, Initialization: WeightInitialization.Random, Seed: 2, RecordEvery: 10);
        var linear = DeepNetworkSimulation.Run(data, opts);
        var tanh = DeepNetworkSimulation.Run(data, opts with { Activation = HiddenActivation.Tanh });
        var relu = DeepNetworkSimulation.Run(data, opts with { Activation = HiddenActivation.ReLU });
        // Small weights: tanh(z) ≈ z, so the first mode's early trajectory agrees with the linear net to 1%.
        var k = linear.Times.Length / 2;
        Assert.Equal(linear.ModeStrengths[k, 0], tanh.ModeStrengths[k, 0], Math.Abs(linear.ModeStrengths[k, 0]) * 0.01);
        Assert.All(new[] { linear, tanh, relu }, r => Assert.False(r.Diverged));
        Assert.NotEqual(linear.ModeStrengths[k, 0], relu.ModeStrengths[k, 0]);
    }

    [Fact]
    public void Category_sweep_learns_the_top_singular_value_of_the_data()
    {
        var points = new[] { new CategorySweepPoint(6, 6, 1, 1, 1), new CategorySweepPoint(25, 25, 1, 1, 2) };
        var results = CategorySweep.Run(80, 80, points);
        foreach (var r in results)
        {
            // Independent truth: the SVD of the same data.
            var data = CategoryInNoise.Generate(80, 80, r.Point.BlockObjects, r.Point.BlockFeatures, 1, 1, r.Point.Seed);
            var svd = data.Dataset.Targets.Svd(false);
            Assert.Equal(svd.S[0], r.LearnedStrengths[0], svd.S[0] * 0.01);
            Assert.Equal(svd.S[0], r.DataTopSingularValue, 9);
        }
        Assert.True(results[0].ItemOverlap < 0.2);      // 36 ≪ threshold 80: lost in the noise
        Assert.True(results[1].ItemOverlap > 0.6);      // 625 ≈ 7.8 × threshold: learned
    }
}

/// <summary>Bad input: a clear error or a stop that says the run diverged — never a NaN figure.</summary>
public class DynamicsBadInputTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("interp-dyn-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void A_dataset_without_variance_is_refused()
    {
        var x = Matrix<double>.Build.DenseIdentity(4);
        var zero = Assert.Throws<ArgumentException>(() => new DynamicsDataset("flat", x, Matrix<double>.Build.Dense(3, 4)));
        Assert.Contains("no variance", zero.Message);
        var constant = Assert.Throws<ArgumentException>(() => new DynamicsDataset("flat", x, Matrix<double>.Build.Dense(3, 4, 2.0)));
        Assert.Contains("no variance", constant.Message);
        var sameInputs = Assert.Throws<ArgumentException>(() => new DynamicsDataset("same", Matrix<double>.Build.Dense(3, 4, 1.0), Matrix<double>.Build.Random(2, 4, 1)));
        Assert.Contains("no variance across items", sameInputs.Message);
        Assert.Throws<ArgumentException>(() => InputOutputModes.FromCorrelation(Matrix<double>.Build.Dense(3, 3)));
    }

    [Fact]
    public void A_nan_in_the_data_is_refused_with_its_position()
    {
        var y = SemanticData.Eight().Targets.Clone();
        y[5, 2] = double.NaN;
        var e = Assert.Throws<ArgumentException>(() => new DynamicsDataset("bad", Matrix<double>.Build.DenseIdentity(8), y));
        Assert.Contains("targets[5, 2]", e.Message);
        Assert.Contains("NaN", e.Message);
        var x = Matrix<double>.Build.DenseIdentity(8);
        x[0, 0] = double.PositiveInfinity;
        Assert.Contains("inputs[0, 0]", Assert.Throws<ArgumentException>(() => new DynamicsDataset("bad", x, SemanticData.Eight().Targets)).Message);
    }

    [Theory]
    [InlineData(-0.01)]
    [InlineData(0)]
    [InlineData(double.NaN)]
    public void A_learning_rate_that_is_not_positive_is_refused(double lr)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => DeepNetworkSimulation.Run(SemanticData.Toy(), new SimulationOptions(lr, 10)));
        Assert.Contains("learning rate", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => DynamicsConventions.Tau(lr));
    }

    [Fact]
    public void A_divergent_rate_stops_the_run_with_a_message_and_only_finite_numbers()
    {
        var sim = DeepNetworkSimulation.Run(SemanticData.Eight(), new SimulationOptions(0.5, 2000, Initialization: WeightInitialization.Random, InitialStrength: 0.05));
        Assert.True(sim.Diverged);
        Assert.Contains("diverged", sim.DivergenceMessage);
        Assert.Contains("learning rate", sim.DivergenceMessage);
        Assert.True(sim.StepsRun < 2000);
        Assert.All(sim.Loss, v => Assert.True(double.IsFinite(v)));
        foreach (var v in sim.ModeStrengths) Assert.True(double.IsFinite(v));
        var e = Assert.Throws<InvalidOperationException>(() => sim.EnsureConverged());
        Assert.Contains("diverged", e.Message);
    }

    [Fact]
    public void The_cli_refuses_bad_options_and_reports_a_divergent_run_without_writing_metrics()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        Assert.Equal(2, InterpCli.Run(new[] { "dynamics", "--out", dir, "--lr", "-1", "--quiet" }, stdout, stderr));
        Assert.Contains("--lr", stderr.ToString());
        stderr.GetStringBuilder().Clear();
        Assert.Equal(2, InterpCli.Run(new[] { "dynamics", "--out", dir, "--dataset", "cats", "--quiet" }, stdout, stderr));
        Assert.Contains("--dataset", stderr.ToString());
        stderr.GetStringBuilder().Clear();
        var code = InterpCli.Run(new[] { "dynamics", "--out", dir, "--lr", "0.5", "--init", "random", "--u0", "0.05", "--quick", "--quiet" }, stdout, stderr);
        Assert.Equal(1, code);
        Assert.Contains("diverged", stderr.ToString());
        Assert.False(File.Exists(Path.Combine(dir, "metrics.json")));
        Assert.DoesNotContain("NaN", File.ReadAllText(Path.Combine(dir, "index.html")));
    }
}

/// <summary>The command end to end in quick mode: every metrics.json key the issue lists.</summary>
public class DynamicsCliTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("interp-dyn-cli-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void Dynamics_quick_writes_every_listed_metric_and_figure()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = InterpCli.Run(new[] { "dynamics", "--out", dir, "--quick", "--quiet", "--seed", "1" }, stdout, stderr);
        Assert.True(code == 0, stderr.ToString());
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "metrics.json")));
        var root = doc.RootElement;
        foreach (var key in new[] { "singular_values", "mode_learning_times_theory", "mode_learning_times_simulation", "max_rel_error_theory_vs_simulation",
                                    "learning_order_matches_singular_values", "noise_threshold_predicted", "noise_threshold_measured" })
            Assert.True(root.TryGetProperty(key, out _), $"metrics.json lacks {key}");
        var s = root.GetProperty("singular_values").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.True(s.Zip(s.Skip(1), (a, b) => a >= b).All(x => x), "singular values must be descending");
        Assert.Equal(Math.Sqrt(29), s[0], 9);
        Assert.True(root.GetProperty("learning_order_matches_singular_values").GetBoolean());
        Assert.Equal(200, root.GetProperty("noise_threshold_predicted").GetDouble(), 9);
        Assert.True(root.GetProperty("hierarchy_levels_learned_broad_first").GetBoolean());
        Assert.DoesNotContain("NaN", File.ReadAllText(Path.Combine(dir, "metrics.json")));
        var html = File.ReadAllText(Path.Combine(dir, "index.html"));
        foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(html, "src=\"([^\"]+)\""))
            Assert.True(File.Exists(Path.Combine(dir, Uri.UnescapeDataString(m.Groups[1].Value))), m.Groups[1].Value);
        foreach (var figure in new[] { "modes_theory_vs_simulation.png", "loss_staircase.png", "hierarchy_singular_values.png", "rsa_over_training.png", "noise_phase_diagram.png", "nonlinear.png" })
            Assert.True(File.Exists(Path.Combine(dir, figure)), figure);
    }
}

[Collection(RunsAloneCollection.Name)]
public class DynamicsMemoryTests
{
    [Fact]
    public void Repeating_a_simulation_does_not_grow_native_memory()
    {
        var data = SemanticData.Toy();
        var options = new SimulationOptions(0.01, 100, Hidden: 6, Initialization: WeightInitialization.Random, CheckpointTimes: new[] { 0.5 }, RecordOutputs: true);
        var (rss, tensors) = MemoryProbe.Measure(() => DeepNetworkSimulation.Run(data, options), repeats: 100, warmup: 20);
        Assert.Equal(0, tensors);
        Assert.True(rss < MemoryProbe.LeakThresholdBytes, $"native memory in use grew by {rss / 1024} KiB per 100 runs.");
    }
}
