using System.Globalization;
using MathNet.Numerics.LinearAlgebra;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.LearningDynamics;

/// <summary>The nonlinearity of the hidden layers (the output layer is always linear).</summary>
public enum HiddenActivation
{
    /// <summary>None: a deep linear network, the case the theory solves.</summary>
    Linear,
    /// <summary>tanh: linear near zero, so small-weight dynamics start like the linear theory (Saxe et al. 2014 Fig. 3).</summary>
    Tanh,
    /// <summary>ReLU: half of each hidden unit's inputs are cut off.</summary>
    ReLU,
}

/// <summary>How the weights start.</summary>
public enum WeightInitialization
{
    /// <summary>
    /// Aligned balanced (decoupled): <c>W_1 = E diag(u0^{1/D}) Vᵀ</c>, middle layers <c>E diag(u0^{1/D}) Eᵀ</c>,
    /// <c>W_D = U diag(u0^{1/D}) Eᵀ</c>, with E the first <c>min(r, hidden)</c> hidden units — every mode starts at
    /// exactly u0 and evolves independently (Saxe et al. 2014 eq. 6; R = identity).
    /// </summary>
    Aligned,
    /// <summary>
    /// Small random: iid <c>N(0, σ_w²)</c> entries with <c>σ_w² = (2/hidden) u0^{2/D}</c>, so that for two layers the
    /// growing part of each mode, <c>E|a + b|²/4</c>, equals u0 (see <see cref="ModeInitialCondition"/>). Seeded.
    /// </summary>
    Random,
}

/// <summary>Options of a full-batch gradient-descent run.</summary>
/// <param name="LearningRate">Step λ &gt; 0; τ = 1/λ (see <see cref="DynamicsConventions"/>).</param>
/// <param name="Steps">Number of full-batch steps (epochs) ≥ 1.</param>
/// <param name="Depth">Number of weight matrices D ≥ 1 (2 = one hidden layer).</param>
/// <param name="Hidden">Width of every hidden layer ≥ 1.</param>
/// <param name="Activation">Hidden nonlinearity.</param>
/// <param name="Initialization">Aligned balanced or small random.</param>
/// <param name="InitialStrength">u0 &gt; 0: the initial strength of every mode (aligned) or its expected growing part (random).</param>
/// <param name="Seed">Seed of the random initialisation.</param>
/// <param name="RecordEvery">Record mode strengths and the loss every this many steps (the last step is always recorded).</param>
/// <param name="CheckpointTimes">Times (units of τ) at which the first hidden layer and the output are kept, for RSA.</param>
/// <param name="RecordOutputs">Also keep the network's output for every item at every recorded step.</param>
/// <param name="DivergenceFactor">The run stops as diverged when the loss is not finite or exceeds this multiple of its
/// starting value (gradient descent from small weights that is stable never raises the loss that far).</param>
public sealed record SimulationOptions(
    double LearningRate,
    long Steps,
    int Depth = 2,
    int Hidden = 16,
    HiddenActivation Activation = HiddenActivation.Linear,
    WeightInitialization Initialization = WeightInitialization.Aligned,
    double InitialStrength = 1e-3,
    int Seed = 0,
    int RecordEvery = 1,
    IReadOnlyList<double>? CheckpointTimes = null,
    bool RecordOutputs = false,
    double DivergenceFactor = 1e3);

/// <summary>The first hidden layer and the output at one time of a run.</summary>
/// <param name="Time">Time in units of τ.</param>
/// <param name="Hidden"><c>[P, hidden]</c>: the first hidden layer (after its nonlinearity) for every item.</param>
/// <param name="Output"><c>[P, N3]</c>: the network's output for every item.</param>
public sealed record SimulationCheckpoint(double Time, double[,] Hidden, double[,] Output);

/// <summary>What a run recorded. All numbers are finite: a diverged run keeps only what came before the divergence.</summary>
public sealed class SimulationResult
{
    internal SimulationResult(SimulationOptions options, InputOutputModes modes, double[] times, double[,] strengths, double[] loss,
        double[,,]? outputs, IReadOnlyList<SimulationCheckpoint> checkpoints, ModeInitialCondition[] initial,
        Matrix<double>[] finalWeights, long stepsRun, string? divergence)
    {
        Options = options;
        Modes = modes;
        Times = times;
        ModeStrengths = strengths;
        Loss = loss;
        Outputs = outputs;
        Checkpoints = checkpoints;
        InitialConditions = initial;
        FinalWeights = finalWeights;
        StepsRun = stepsRun;
        DivergenceMessage = divergence;
    }

    /// <summary>The options of the run.</summary>
    public SimulationOptions Options { get; }

    /// <summary>The modes the strengths are measured on.</summary>
    public InputOutputModes Modes { get; }

    /// <summary>Recorded times (units of τ), <c>[T]</c>.</summary>
    public double[] Times { get; }

    /// <summary>
    /// <c>[T, r]</c>: mode strengths <c>u_αᵀ (W_D ⋯ W_1) v_α</c> (linear); for a nonlinear net
    /// <c>u_αᵀ Σ̂31 v_α</c> with <c>Σ̂31 = Σ_μ ŷ^μ x^μᵀ</c>, which equals the former for a linear net with white inputs.
    /// </summary>
    public double[,] ModeStrengths { get; }

    /// <summary>Loss <c>½ Σ_μ |y^μ − ŷ^μ|²</c> at each recorded time, <c>[T]</c>.</summary>
    public double[] Loss { get; }

    /// <summary><c>[T, P, N3]</c> outputs when <see cref="SimulationOptions.RecordOutputs"/> was set; else null.</summary>
    public double[,,]? Outputs { get; }

    /// <summary>Hidden layer and output at the requested checkpoint times (those reached).</summary>
    public IReadOnlyList<SimulationCheckpoint> Checkpoints { get; }

    /// <summary>Every mode's initial condition read off the initial weights.</summary>
    public ModeInitialCondition[] InitialConditions { get; }

    /// <summary>The weights at the end, in forward order (<c>[n_l, n_{l−1}]</c>).</summary>
    public Matrix<double>[] FinalWeights { get; }

    /// <summary>Steps actually taken.</summary>
    public long StepsRun { get; }

    /// <summary>True when the run stopped because it diverged.</summary>
    public bool Diverged => DivergenceMessage is not null;

    /// <summary>Why the run stopped early ("the run diverged at step …"), or null.</summary>
    public string? DivergenceMessage { get; }

    /// <summary>One mode's recorded strengths, <c>[T]</c>.</summary>
    public double[] Strength(int mode)
    {
        if (mode < 0 || mode >= ModeStrengths.GetLength(1)) throw new ArgumentOutOfRangeException(nameof(mode), mode, $"mode must be in [0, {ModeStrengths.GetLength(1) - 1}].");
        return Enumerable.Range(0, Times.Length).Select(t => ModeStrengths[t, mode]).ToArray();
    }

    /// <summary>Throws <see cref="InvalidOperationException"/> with the divergence message when the run diverged.</summary>
    public SimulationResult EnsureConverged()
    {
        if (Diverged) throw new InvalidOperationException(DivergenceMessage);
        return this;
    }
}

/// <summary>
/// Full-batch gradient descent on <c>L = ½ Σ_μ |y^μ − f(x^μ)|²</c> for a network of D weight matrices without biases
/// (<c>f(x) = W_D φ(W_{D−1} ⋯ φ(W_1 x))</c>, φ = identity, tanh or ReLU), in float64 with TorchSharp, recording every
/// mode's strength over time. Gradients are written out by hand (one forward, one backward pass of matrix products per
/// step; no autograd graph). Deterministic for a seed.
/// </summary>
public static class DeepNetworkSimulation
{
    /// <summary>Runs gradient descent on <paramref name="data"/>.</summary>
    /// <param name="data">The dataset (its inputs should be white for the theory to apply; the run works on any).</param>
    /// <param name="options">Learning rate, steps, shape, initialisation.</param>
    /// <param name="device">Device to compute on (CPU when null).</param>
    /// <param name="progress">Receives the completed fraction.</param>
    /// <param name="cancellation">Checked every 100 steps.</param>
    /// <returns>The recorded run; a run that diverged stops early and says so (<see cref="SimulationResult.DivergenceMessage"/>).</returns>
    /// <remarks>The loop repeats products of matrices with at most a few hundred rows thousands of times; at that size
    /// extra intra-op threads only add synchronisation (on a 2-core machine under load the 8-item run took 14 µs per step
    /// on one thread and 0.8–4 ms on two). Run it inside <c>session.UseThreads(1)</c> of the application's
    /// <see cref="TorchSession"/>.</remarks>
    public static SimulationResult Run(DynamicsDataset data, SimulationOptions options, Device? device = null,
        IProgress<double>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        Validate(options);
        var modes = InputOutputModes.Of(data);
        device ??= CPU;
        using var scope = NewDisposeScope();
        var (x, y) = data.ToTensors(device);
        var weights = Initialize(data, modes, options, device);
        var initial = ModeInitialCondition.FromWeights(modes, weights.Select(ToMatrix).ToList());
        int r = modes.Count;
        var ut = tensor(modes.FeatureSynthesisers.Transpose().ToArray(), dtype: ScalarType.Float64, device: device);   // [r, N3]
        var vt = tensor(modes.ObjectAnalysers.Transpose().ToArray(), dtype: ScalarType.Float64, device: device);      // [r, N1]

        long steps = options.Steps;
        long records = steps / options.RecordEvery + 2;
        var strengthLog = zeros(new long[] { records, r }, dtype: ScalarType.Float64, device: device);
        var lossLog = zeros(new long[] { records }, dtype: ScalarType.Float64, device: device);
        var outputLog = options.RecordOutputs ? zeros(new long[] { records, data.Items, data.OutputSize }, dtype: ScalarType.Float64, device: device) : null;
        var recordedSteps = new List<long>();
        var checkpointSteps = (options.CheckpointTimes ?? Array.Empty<double>())
            .Select(t => (Time: t, Step: (long)Math.Round(t / options.LearningRate))).Where(c => c.Step <= steps).OrderBy(c => c.Step).ToList();
        var checkpoints = new List<SimulationCheckpoint>();
        string? divergence = null;
        double initialLoss = double.NaN;
        long stepsRun = 0;
        var lr = options.LearningRate;
        // The step's scalars, made once and alive for the whole loop: a C# number passed to an operation becomes a temporary
        // scalar that a collection during the call can free under it.
        using var half = 0.5.ToScalar();
        using var minusLr = (-lr).ToScalar();

        using (no_grad())
        {
            for (long step = 0; step <= steps; step++)
            {
                using var stepScope = NewDisposeScope();
                var (activations, preActivations, output) = Forward(x, weights, options.Activation);
                var error = output - y;                                       // [P, N3]
                var loss = (error * error).sum() * half;   // not square() nor 0.5: a temporary Scalar can be finalised mid-call (TorchSharp keeps no reference)
                bool record = step % options.RecordEvery == 0 || step == steps;
                bool check = step % 50 == 0 || step == steps || record && recordedSteps.Count < 2;
                if (record)
                {
                    int k = recordedSteps.Count;
                    lossLog[k].copy_(loss);
                    strengthLog[k].copy_(Strengths(x, output, weights, ut, vt, options.Activation));
                    if (outputLog is not null) outputLog[k].copy_(output);
                    recordedSteps.Add(step);
                }
                if (check)
                {
                    var value = loss.ToDouble();
                    if (double.IsNaN(initialLoss)) initialLoss = value;
                    if (!double.IsFinite(value) || value > options.DivergenceFactor * Math.Max(initialLoss, 1e-12))
                    {
                        var rise = double.IsFinite(value) ? $"rose from {initialLoss:G4} to {value:G4}" : $"overflowed (it was {initialLoss:G4} at the start)";
                        divergence = string.Create(CultureInfo.InvariantCulture,
                            $"The run diverged at step {step} (t = {step * lr:G4} τ): the loss {rise}. The learning rate λ = {lr:G4} is too large for this dataset (λ·s_max = {lr * modes.SingularValues[0]:G3}; gradient descent needs λ·s_max well below 1, the theory λ·s_max ≤ 0.01).");
                        break;
                    }
                }
                while (checkpoints.Count < checkpointSteps.Count && checkpointSteps[checkpoints.Count].Step == step)
                    checkpoints.Add(new SimulationCheckpoint(checkpointSteps[checkpoints.Count].Time, ToArray(activations.Length > 1 ? activations[1] : x), ToArray(output)));
                if (step == steps) { stepsRun = step; break; }
                if (step % 100 == 0)
                {
                    cancellation.ThrowIfCancellationRequested();
                    progress?.Report((double)step / steps);
                }
                var grads = Backward(error, activations, preActivations, weights, options.Activation);
                for (int l = 0; l < weights.Length; l++) weights[l].add_(grads[l], alpha: minusLr);
                stepsRun = step + 1;
            }
        }
        progress?.Report(1);

        // Keep only finite records (a diverged run may have written non-finite numbers after the last check).
        var lossHost = lossLog.data<double>().ToArray();
        var strengthHost = strengthLog.data<double>().ToArray();
        int kept = 0;
        while (kept < recordedSteps.Count && double.IsFinite(lossHost[kept]) && Enumerable.Range(0, r).All(a => double.IsFinite(strengthHost[kept * r + a]))
               && (divergence is null || lossHost[kept] <= options.DivergenceFactor * Math.Max(initialLoss, 1e-12)))
            kept++;
        var times = recordedSteps.Take(kept).Select(s => s * lr).ToArray();
        var strengths = new double[kept, r];
        for (int k = 0; k < kept; k++)
            for (int a = 0; a < r; a++) strengths[k, a] = strengthHost[k * r + a];
        double[,,]? outputs = null;
        if (outputLog is not null)
        {
            var host = outputLog.data<double>().ToArray();
            outputs = new double[kept, data.Items, data.OutputSize];
            Buffer.BlockCopy(host, 0, outputs, 0, kept * data.Items * data.OutputSize * sizeof(double));
        }
        var final = divergence is null ? weights.Select(ToMatrix).ToArray() : Array.Empty<Matrix<double>>();
        return new SimulationResult(options, modes, times, strengths, lossHost.Take(kept).ToArray(), outputs,
            checkpoints.Where(c => divergence is null || c.Time <= (kept > 0 ? times[^1] : 0)).ToList(), initial, final, stepsRun, divergence);
    }

    /// <summary>
    /// The weights a run starts from (float64, on <paramref name="device"/>, CPU when null), in forward order, one
    /// <c>[n_l, n_{l−1}]</c> matrix per layer: <c>[hidden, N1]</c> first, <c>[N3, hidden]</c> last (a single
    /// <c>[N3, N1]</c> for depth 1). The tensors belong to the caller's dispose scope.
    /// </summary>
    public static Tensor[] Initialize(DynamicsDataset data, InputOutputModes modes, SimulationOptions options, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(modes);
        Validate(options);
        device ??= CPU;
        int d = options.Depth, h = options.Hidden;
        var sizes = new int[d + 1];
        sizes[0] = data.InputSize;
        sizes[d] = data.OutputSize;
        for (int l = 1; l < d; l++) sizes[l] = h;
        var result = new Tensor[d];
        if (options.Initialization == WeightInitialization.Random)
        {
            using var g = new Generator((ulong)options.Seed);
            var std = Math.Sqrt(2.0 / (d == 1 ? Math.Max(data.InputSize, 1) : h)) * Math.Pow(options.InitialStrength, 1.0 / d);
            for (int l = 0; l < d; l++)
                result[l] = (randn(new long[] { sizes[l + 1], sizes[l] }, dtype: ScalarType.Float64, generator: g) * std).to(device);
            return result;
        }
        // Aligned balanced: the first k = min(r, hidden) modes each get u0^{1/D} per factor.
        int k = d == 1 ? modes.Count : Math.Min(modes.Count, h);
        var a = Math.Pow(options.InitialStrength, 1.0 / d);
        var u = modes.FeatureSynthesisers.SubMatrix(0, data.OutputSize, 0, k);
        var v = modes.ObjectAnalysers.SubMatrix(0, data.InputSize, 0, k);
        if (d == 1)
        {
            result[0] = FromMatrix(u * v.Transpose() * a, device);
            return result;
        }
        var e = Matrix<double>.Build.Dense(h, k, (i, j) => i == j ? a : 0);                 // E diag(a)
        var embed = Matrix<double>.Build.Dense(h, k, (i, j) => i == j ? 1 : 0);
        result[0] = FromMatrix(e * v.Transpose(), device);
        for (int l = 1; l < d - 1; l++) result[l] = FromMatrix(e * embed.Transpose(), device);
        result[d - 1] = FromMatrix(u * e.Transpose(), device);
        return result;
    }

    /// <summary>
    /// The full-batch gradient computed the naive way — one item at a time, summed (the baseline of the benchmark; equal to
    /// the batched gradient up to rounding). Weights in forward order; returns one gradient per weight.
    /// </summary>
    internal static Tensor[] GradientPerItem(Tensor x, Tensor y, Tensor[] weights, HiddenActivation activation)
    {
        var sum = weights.Select(w => zeros_like(w)).ToArray();
        for (long i = 0; i < x.shape[0]; i++)
        {
            using var scope = NewDisposeScope();
            var xi = x[TensorIndex.Slice(i, i + 1)];
            var yi = y[TensorIndex.Slice(i, i + 1)];
            var (acts, pre, output) = Forward(xi, weights, activation);
            var g = Backward(output - yi, acts, pre, weights, activation);
            for (int l = 0; l < weights.Length; l++) sum[l].add_(g[l]);
        }
        return sum;
    }

    /// <summary>The batched full-batch gradient (one forward and one backward pass over all items).</summary>
    internal static Tensor[] GradientFullBatch(Tensor x, Tensor y, Tensor[] weights, HiddenActivation activation)
    {
        var (acts, pre, output) = Forward(x, weights, activation);
        return Backward(output - y, acts, pre, weights, activation);
    }

    /// <summary>Forward pass: activations[0] = x, activations[l] = φ(pre[l]) for hidden l, output = last pre-activation.</summary>
    internal static (Tensor[] Activations, Tensor[] PreActivations, Tensor Output) Forward(Tensor x, Tensor[] weights, HiddenActivation activation)
    {
        int d = weights.Length;
        var acts = new Tensor[d];
        var pre = new Tensor[d];
        acts[0] = x;
        Tensor h = x;
        for (int l = 0; l < d; l++)
        {
            var z = h.matmul(weights[l].t());
            pre[l] = z;
            if (l == d - 1) return (acts, pre, z);
            h = activation switch
            {
                HiddenActivation.Tanh => z.tanh(),
                HiddenActivation.ReLU => z.relu(),
                _ => z,
            };
            acts[l + 1] = h;
        }
        throw new InvalidOperationException("unreachable");
    }

    /// <summary>Backward pass of <c>½ Σ |error|²</c>: returns <c>∂L/∂W_l</c> for every layer.</summary>
    internal static Tensor[] Backward(Tensor error, Tensor[] activations, Tensor[] preActivations, Tensor[] weights, HiddenActivation activation)
    {
        int d = weights.Length;
        var grads = new Tensor[d];
        var delta = error;                                                   // ∂L/∂pre[d−1], [P, n_d]
        for (int l = d - 1; l >= 0; l--)
        {
            grads[l] = delta.t().matmul(activations[l]);                     // [n_{l+1}, n_l]
            if (l == 0) break;
            delta = delta.matmul(weights[l]);                                // ∂L/∂act[l]
            delta = activation switch
            {
                HiddenActivation.Tanh => delta * (1 - activations[l] * activations[l]),
                HiddenActivation.ReLU => delta * preActivations[l - 1].gt(Scalars.IntZero).to_type(ScalarType.Float64),
                _ => delta,
            };
        }
        return grads;
    }

    private static Tensor Strengths(Tensor x, Tensor output, Tensor[] weights, Tensor ut, Tensor vt, HiddenActivation activation)
    {
        Tensor map;                                                          // [N3, N1]
        if (activation == HiddenActivation.Linear || weights.Length == 1)
        {
            map = weights[0];
            for (int l = 1; l < weights.Length; l++) map = weights[l].matmul(map);
        }
        else map = output.t().matmul(x);                                     // Σ̂31 = Σ_μ ŷ xᵀ
        return (ut.matmul(map) * vt).sum(1);
    }

    private static void Validate(SimulationOptions o)
    {
        DynamicsConventions.RequireLearningRate(o.LearningRate, nameof(o.LearningRate));
        if (o.Steps < 1) throw new ArgumentOutOfRangeException(nameof(o.Steps), o.Steps, "Steps (epochs of full-batch descent) must be at least 1.");
        if (o.Steps > 50_000_000) throw new ArgumentOutOfRangeException(nameof(o.Steps), o.Steps, "Steps must be at most 50,000,000.");
        if (o.Depth < 1) throw new ArgumentOutOfRangeException(nameof(o.Depth), o.Depth, "Depth (number of weight matrices) must be at least 1.");
        if (o.Hidden < 1) throw new ArgumentOutOfRangeException(nameof(o.Hidden), o.Hidden, "Hidden (width) must be at least 1.");
        if (!(o.InitialStrength > 0) || double.IsInfinity(o.InitialStrength))
            throw new ArgumentOutOfRangeException(nameof(o.InitialStrength), o.InitialStrength, "the initial strength u0 must be a finite number > 0.");
        if (o.RecordEvery < 1) throw new ArgumentOutOfRangeException(nameof(o.RecordEvery), o.RecordEvery, "RecordEvery must be at least 1.");
        if (!(o.DivergenceFactor > 1)) throw new ArgumentOutOfRangeException(nameof(o.DivergenceFactor), o.DivergenceFactor, "DivergenceFactor must be > 1.");
        if (o.CheckpointTimes is not null && o.CheckpointTimes.Any(t => !(t >= 0) || double.IsInfinity(t)))
            throw new ArgumentOutOfRangeException(nameof(o.CheckpointTimes), "checkpoint times must be finite and ≥ 0.");
    }

    private static Tensor FromMatrix(Matrix<double> m, Device device) => tensor(m.ToArray(), dtype: ScalarType.Float64, device: device);

    internal static Matrix<double> ToMatrix(Tensor t)
    {
        var rows = (int)t.shape[0];
        var cols = (int)t.shape[1];
        var data = t.cpu().contiguous().data<double>().ToArray();
        return Matrix<double>.Build.Dense(rows, cols, (i, j) => data[i * cols + j]);
    }

    private static double[,] ToArray(Tensor t)
    {
        var rows = (int)t.shape[0];
        var cols = (int)t.shape[1];
        var data = t.cpu().contiguous().data<double>().ToArray();
        var result = new double[rows, cols];
        Buffer.BlockCopy(data, 0, result, 0, data.Length * sizeof(double));
        return result;
    }
}
