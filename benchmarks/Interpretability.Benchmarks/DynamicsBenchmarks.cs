using System.ComponentModel;
using BenchmarkDotNet.Attributes;
using Interpretability.LearningDynamics;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Benchmarks;

/// <summary>One full-batch gradient of a two-layer linear network: batched matrix products against a loop over items.</summary>
[Config(typeof(BenchConfig))]
[Description("Deep linear simulation: one full-batch gradient of a two-layer linear network (float64) on branching-diffusion data with P = Items one-hot items, P hidden units and 200 features, computed as one batched forward/backward pass (the simulation's kernel) against the naive loop that runs forward and backward once per item and sums (baseline).")]
public class FullBatchGradientBenchmarks : ISmokeTestable
{
    private Tensor x = null!, y = null!;
    private Tensor[] weights = null!;
    private int features = 200;
    private IDisposable? threads;

    /// <summary>Number of items P (a power of two: the leaves of a binary tree of depth log2 P).</summary>
    [Params(8, 32, 128)]
    public int Items { get; set; }

    /// <inheritdoc />
    public void UseTinySizes() => features = 8;

    /// <summary>Builds the data and random weights.</summary>
    [GlobalSetup]
    public void Setup()
    {
        threads = BenchSession.OneThread();
        var data = BranchingDiffusion.Generate((int)Math.Round(Math.Log2(Items)), 2, 0.1, features, seed: 1);
        (x, y) = data.ToTensors();
        using var g = new Generator(3);
        int hidden = data.Items;
        weights = new[]
        {
            randn(new long[] { hidden, data.InputSize }, dtype: float64, generator: g) * 0.1,
            randn(new long[] { data.OutputSize, hidden }, dtype: float64, generator: g) * 0.1,
        };
    }

    /// <summary>Naive: forward and backward per item, summed.</summary>
    [Benchmark(Baseline = true)]
    public double PerItemLoop()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var g = DeepNetworkSimulation.GradientPerItem(x, y, weights, HiddenActivation.Linear);
        return g[0].sum().ToDouble();
    }

    /// <summary>The simulation's kernel: one batched forward/backward pass.</summary>
    [Benchmark]
    public double FullBatch()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var g = DeepNetworkSimulation.GradientFullBatch(x, y, weights, HiddenActivation.Linear);
        return g[0].sum().ToDouble();
    }

    /// <summary>Frees the tensors.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        x.Dispose();
        y.Dispose();
        foreach (var w in weights) w.Dispose();
        threads?.Dispose();
    }
}

/// <summary>The semantic run of the study end to end, against evaluating the closed form at the same times.</summary>
[Config(typeof(BenchConfig))]
[Description("The semantic-data run end to end: full-batch gradient descent of a two-layer linear network (8 items, 16 hidden units, float64, aligned start u0 = 1e-3, λ = 0.005/s_max) from t = 0 to t = Time τ, recording all 8 mode strengths and the loss, against evaluating the closed-form solution of all 8 modes at the same recorded times (baseline, for scale).")]
public class SemanticRunBenchmarks : ISmokeTestable
{
    private DynamicsDataset data = null!;
    private InputOutputModes modes = null!;
    private double learningRate;
    private double[] times = null!;

    /// <summary>End time in units of τ (6.5 τ is what the study runs: every mode reaches 97% of s).</summary>
    [Params(1.0, 6.5)]
    public double Time { get; set; }

    /// <inheritdoc />
    public void UseTinySizes() => Time = 0.05;

    /// <summary>Builds the dataset.</summary>
    [GlobalSetup]
    public void Setup()
    {
        data = SemanticData.Eight();
        modes = InputOutputModes.Of(data);
        learningRate = DynamicsConventions.DefaultLearningRate(modes.SingularValues[0]);
        var steps = DynamicsConventions.StepsFor(Time, learningRate);
        var every = (int)Math.Max(1, steps / 1500);
        times = Enumerable.Range(0, (int)(steps / every) + 1).Select(k => k * every * learningRate).ToArray();
    }

    /// <summary>The closed form at every recorded time.</summary>
    [Benchmark(Baseline = true)]
    public double ClosedForm()
    {
        var u0 = Enumerable.Repeat(1e-3, modes.Count).ToArray();
        double sum = 0;
        foreach (var t in times) sum += ModeDynamics.Loss(modes, ModeDynamics.Strengths(t, modes.SingularValues, u0));
        return sum;
    }

    /// <summary>The simulation, as the study runs it.</summary>
    [Benchmark]
    public double Simulation()
    {
        var steps = DynamicsConventions.StepsFor(Time, learningRate);
        var result = DeepNetworkSimulation.Run(data, new SimulationOptions(learningRate, steps, 2, 16, RecordEvery: (int)Math.Max(1, steps / 1500)));
        return result.Loss[^1];
    }
}
