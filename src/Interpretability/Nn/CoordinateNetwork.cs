using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Interpretability.Nn;

/// <summary>
/// A network of tanh neurons on an explicit synapse list (<see cref="SynapseTopology"/>) that maps a pixel's
/// coordinates to its colour: <c>a_j = tanh(b_j + Σ_{s: i→j} w_s a_i)</c>, outputs = the output neurons' activations in
/// (−1, 1). The kind of network of the Habr article "Ансамбль синапсов – структурная единица нейронной сети" (2015,
/// https://habr.com/ru/articles/249031/; "37 neurons, 460 synapses, tanh") and, as a differentiable module (coordinates
/// → colours, weights and biases as <see cref="TorchSharp.Modules.Parameter"/>s), a CPPN image parameterisation.
/// </summary>
/// <remarks>
/// <para><b>Plain arrays.</b> The topology (<see cref="SynapseTopology.Sources"/>,
/// <see cref="SynapseTopology.Targets"/>, <see cref="SynapseTopology.TopologicalOrder"/>) and the values
/// (<see cref="GetWeights"/>, <see cref="GetBiases"/>) are plain arrays in synapse and neuron numbering, so another
/// implementation (a fused GPU kernel, a hand check) can reproduce every number. Parameters: <c>weights</c> <c>[S]</c>
/// (synapse order), <c>biases</c> <c>[N]</c> (neuron order).</para>
/// <para><b>Evaluation.</b> A whole batch of pixels is evaluated at once on the device of the parameters. Neurons are
/// grouped by level (<see cref="SynapseTopology.Levels"/>); each level is one matrix product of the activations so far
/// with the level's rows of the dense weight matrix (zeros where there is no synapse), then tanh. <see cref="forward"/>
/// is differentiable (autograd); <see cref="Trace"/> computes every activation without autograd into one preallocated
/// matrix, which is what the synapse Jacobian, rendering and perturbation strips use.</para>
/// </remarks>
public sealed class CoordinateNetwork : Module<Tensor, Tensor>
{
    private Parameter weights;
    private Parameter biases;
    private readonly Layout layout;
    private readonly Dictionary<string, DeviceIndex> indexCache = new();

    /// <summary>
    /// A network with random weights: <c>w ~ N(0, 1/fan_in)</c> of the target neuron and <c>b ~ N(0, 1/fan_in)</c> (our
    /// choice: it keeps every pre-activation of order 1), drawn from a private generator seeded with
    /// <paramref name="seed"/>.
    /// </summary>
    /// <param name="topology">The wiring.</param>
    /// <param name="seed">Initialisation seed.</param>
    /// <param name="dtype">Parameter dtype (float32 or float64).</param>
    /// <param name="device">Parameter device (default CPU).</param>
    public CoordinateNetwork(SynapseTopology topology, long seed = 0, ScalarType dtype = ScalarType.Float32, Device? device = null)
        : base(nameof(CoordinateNetwork))
    {
        Topology = topology ?? throw new ArgumentNullException(nameof(topology));
        CheckDtype(dtype);
        layout = new Layout(topology);
        using var generator = new Generator((ulong)seed);
        using var scope = NewDisposeScope();
        var fanW = tensor(Enumerable.Range(0, topology.SynapseCount).Select(s => (double)topology.FanIn(topology.TargetNeuron(s))).ToArray());
        var fanB = tensor(Enumerable.Range(0, topology.NeuronCount).Select(j => (double)topology.FanIn(j)).ToArray());
        var w = randn(new long[] { topology.SynapseCount }, dtype: ScalarType.Float64, generator: generator) / fanW.sqrt();
        var b = randn(new long[] { topology.NeuronCount }, dtype: ScalarType.Float64, generator: generator) / fanB.sqrt();
        weights = new Parameter(w.to(dtype, device ?? CPU).DetachFromDisposeScope());
        biases = new Parameter(b.to(dtype, device ?? CPU).DetachFromDisposeScope());
        RegisterComponents();
    }

    /// <summary>A network with the given weights and biases.</summary>
    /// <param name="topology">The wiring.</param>
    /// <param name="weights">One weight per synapse, in synapse numbering (length <c>S</c>).</param>
    /// <param name="biases">One bias per neuron (length <c>N</c>).</param>
    /// <param name="dtype">Parameter dtype (float32 or float64).</param>
    /// <param name="device">Parameter device (default CPU).</param>
    public CoordinateNetwork(SynapseTopology topology, IReadOnlyList<double> weights, IReadOnlyList<double> biases,
        ScalarType dtype = ScalarType.Float32, Device? device = null) : base(nameof(CoordinateNetwork))
    {
        Topology = topology ?? throw new ArgumentNullException(nameof(topology));
        CheckDtype(dtype);
        CheckValues(weights, topology.SynapseCount, nameof(weights), "synapse");
        CheckValues(biases, topology.NeuronCount, nameof(biases), "neuron");
        layout = new Layout(topology);
        this.weights = new Parameter(tensor(weights.ToArray(), dtype: ScalarType.Float64).to(dtype, device ?? CPU));
        this.biases = new Parameter(tensor(biases.ToArray(), dtype: ScalarType.Float64).to(dtype, device ?? CPU));
        RegisterComponents();
    }

    /// <summary>The wiring.</summary>
    public SynapseTopology Topology { get; }

    /// <summary>The synapse weights, <c>[S]</c>, in synapse numbering (a parameter: usable by an optimiser).</summary>
    public Parameter Weights => weights;

    /// <summary>The neuron biases, <c>[N]</c>, in neuron numbering (a parameter).</summary>
    public Parameter Biases => biases;

    /// <summary>The parameters' dtype.</summary>
    public ScalarType DType => weights.dtype;

    /// <summary>The parameters' device.</summary>
    public Device Device => weights.device;

    /// <summary>
    /// Evaluates the network with autograd (differentiable with respect to the weights, biases and coordinates).
    /// </summary>
    /// <param name="coords"><c>[..., I]</c> (for a picture <c>[P, 2]</c> from <see cref="PixelGrid.Coordinates"/>), on
    /// the parameters' device; cast to the parameters' dtype.</param>
    /// <returns><c>[..., O]</c>, the output neurons' activations in (−1, 1), in the parameters' dtype and on their
    /// device.</returns>
    public override Tensor forward(Tensor coords)
    {
        var x = CheckCoordinates(coords, out var lead);
        using var scope = NewDisposeScope();
        var index = IndexOn(x.device);
        var (wdT, b) = DenseWeights(index);                   // [T, N] (position order), [N]
        var current = x;                                        // [P, nodes so far], position order
        for (int l = 0; l < layout.LevelStart.Length; l++)
        {
            int s = layout.LevelStart[l], n = layout.LevelSize[l];
            var z = b.narrow(0, s - layout.I, n).addmm(current, wdT.narrow(0, 0, s).narrow(1, s - layout.I, n));
            current = cat(new[] { current, z.tanh() }, 1);
        }
        var y = SelectColumns(current, layout.OutputPositions, index.OutputPositions);
        return y.reshape(lead.Append(Topology.OutputCount).ToArray()).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Every activation of every node for a batch of points, without autograd.
    /// </summary>
    /// <param name="coords"><c>[P, I]</c> on the parameters' device (any floating dtype; cast to the
    /// parameters').</param>
    /// <param name="clamp">Optional fixed activations: neuron index → value its activation is set to (ablation).</param>
    /// <returns>Activations <c>[P, I + N]</c> and outputs <c>[P, O]</c>, in the parameters' dtype and on their device;
    /// the caller disposes the trace.</returns>
    public NetworkTrace Trace(Tensor coords, IReadOnlyDictionary<int, double>? clamp = null)
    {
        var x = CheckCoordinates(coords, out var lead);
        if (lead.Length != 1) throw new ArgumentException($"coords must be [P, {Topology.InputCount}]; got [{string.Join(", ", coords.shape)}].", nameof(coords));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var index = IndexOn(x.device);
        var positions = ForwardPositions(x, index, clamp);
        var activations = SelectColumns(positions, layout.NodePosition, index.NodePositions);
        var outputs = SelectColumns(positions, layout.OutputPositions, index.OutputPositions).contiguous();
        return new NetworkTrace(Topology, activations.MoveToOuterDisposeScope(), outputs.MoveToOuterDisposeScope());
    }

    /// <summary>The network's picture: the outputs at every pixel centre of <paramref name="grid"/>.</summary>
    /// <returns><c>[O, Height, Width]</c> in [0, 1] (for r, g, b outputs an RGB image), in the parameters' dtype and on
    /// their device.</returns>
    public Tensor Render(PixelGrid grid)
    {
        ArgumentNullException.ThrowIfNull(grid);
        using var scope = NewDisposeScope();
        using var trace = Trace(grid.Coordinates(DType, Device));
        return grid.ToImage(trace.Outputs).MoveToOuterDisposeScope();
    }

    /// <summary>The weights as a plain array in synapse numbering (length <c>S</c>).</summary>
    public double[] GetWeights() => ToDoubles(weights);

    /// <summary>The biases as a plain array in neuron numbering (length <c>N</c>).</summary>
    public double[] GetBiases() => ToDoubles(biases);

    /// <summary>Sets every weight (length <c>S</c>, synapse numbering).</summary>
    public void SetWeights(IReadOnlyList<double> values)
    {
        CheckValues(values, Topology.SynapseCount, nameof(values), "synapse");
        using var noGrad = no_grad();
        using var t = tensor(values.ToArray(), dtype: ScalarType.Float64);
        weights.copy_(t);
    }

    /// <summary>Sets every bias (length <c>N</c>, neuron numbering).</summary>
    public void SetBiases(IReadOnlyList<double> values)
    {
        CheckValues(values, Topology.NeuronCount, nameof(values), "neuron");
        using var noGrad = no_grad();
        using var t = tensor(values.ToArray(), dtype: ScalarType.Float64);
        biases.copy_(t);
    }

    /// <summary>
    /// Adds <paramref name="delta"/> to the weights until the returned scope is disposed, then restores the exact
    /// previous values (for perturbation strips and edits).
    /// </summary>
    /// <param name="delta"><c>[S]</c> weight change (any dtype; on any device).</param>
    public IDisposable Perturb(Tensor delta)
    {
        ArgumentNullException.ThrowIfNull(delta);
        if (delta.numel() != Topology.SynapseCount)
            throw new ArgumentException($"delta must hold one value per synapse ({Topology.SynapseCount}); got [{string.Join(", ", delta.shape)}].", nameof(delta));
        using var noGrad = no_grad();
        var saved = weights.detach().clone().DetachFromDisposeScope();
        using (var d = delta.reshape(-1).to(DType, Device)) weights.add_(d);
        return new Restore(weights, saved);
    }

    /// <summary>Adds <paramref name="delta"/> to one synapse's weight until the returned scope is disposed.</summary>
    public IDisposable Perturb(int synapse, double delta)
    {
        if (synapse < 0 || synapse >= Topology.SynapseCount)
            throw new ArgumentOutOfRangeException(nameof(synapse), synapse, $"Synapses are numbered 0…{Topology.SynapseCount - 1}.");
        using var d = zeros(Topology.SynapseCount, dtype: ScalarType.Float64);
        using var value = delta.ToScalar();
        using (var entry = d[synapse]) entry.fill_(value);
        return Perturb(d);
    }

    /// <summary>A copy with the same topology and values, optionally in another dtype or on another device.</summary>
    public CoordinateNetwork Copy(ScalarType? dtype = null, Device? device = null) =>
        new(Topology, GetWeights(), GetBiases(), dtype ?? DType, device ?? Device);

    /// <summary>
    /// Saves the topology (synapse numbering) and values as JSON: <c>{ "format", "input_count", "input_names",
    /// "neuron_count", "output_neurons", "output_names", "synapses": [[source, target, weight], …], "biases": […] }</c>,
    /// numbers written so that they read back exactly. The write is atomic.
    /// </summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var w = GetWeights();
        var root = new JsonObject
        {
            ["format"] = FileFormat,
            ["input_count"] = Topology.InputCount,
            ["input_names"] = new JsonArray(Topology.InputNames.Select(n => (JsonNode?)JsonValue.Create(n)).ToArray()),
            ["neuron_count"] = Topology.NeuronCount,
            ["output_neurons"] = new JsonArray(Topology.OutputNeurons.Select(n => (JsonNode?)JsonValue.Create(n)).ToArray()),
            ["output_names"] = new JsonArray(Topology.OutputNames.Select(n => (JsonNode?)JsonValue.Create(n)).ToArray()),
            ["synapses"] = new JsonArray(Enumerable.Range(0, Topology.SynapseCount)
                .Select(s => (JsonNode?)new JsonArray(Topology.Sources[s], Topology.Targets[s], w[s])).ToArray()),
            ["biases"] = new JsonArray(GetBiases().Select(b => (JsonNode?)JsonValue.Create(b)).ToArray()),
        };
        AtomicFile.WriteAllText(path, root.ToJsonString(new JsonSerializerOptions { WriteIndented = false }) + "\n");
    }

    /// <summary>Loads a network written by <see cref="Save"/>.</summary>
    /// <param name="path">The file.</param>
    /// <param name="dtype">Floating-point type of the loaded parameters.</param>
    /// <param name="device">Device of the loaded parameters (null = the CPU).</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a saved coordinate network.</exception>
    public static CoordinateNetwork Load(string path, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Network file '{path}' does not exist.", path);
        using var stream = File.OpenRead(path);
        return Load(stream, path, dtype, device);
    }

    /// <summary>Loads a network written by <see cref="Save"/> from a stream (a file, an embedded resource, …).</summary>
    /// <param name="stream">The saved JSON, read from its current position to its end; the caller keeps and disposes it.</param>
    /// <param name="sourceName">What the stream holds (a path, a resource name), named in errors.</param>
    /// <param name="dtype">Floating-point type of the loaded parameters.</param>
    /// <param name="device">Device of the loaded parameters (null = the CPU).</param>
    /// <exception cref="InvalidDataException">The stream does not hold a saved coordinate network.</exception>
    public static CoordinateNetwork Load(Stream stream, string sourceName, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentException.ThrowIfNullOrEmpty(sourceName);
        JsonNode? root;
        try { root = JsonNode.Parse(stream); }
        catch (JsonException e) { throw new InvalidDataException($"'{sourceName}' is not valid JSON: {e.Message}", e); }
        if (root is not JsonObject o || (string?)o["format"] != FileFormat)
            throw new InvalidDataException($"'{sourceName}' is not a saved coordinate network (expected \"format\": \"{FileFormat}\").");
        try
        {
            var synapses = o["synapses"]!.AsArray();
            var pairs = synapses.Select(e => ((int)e![0]!, (int)e[1]!)).ToList();
            var weights = synapses.Select(e => (double)e![2]!).ToArray();
            var biases = o["biases"]!.AsArray().Select(e => (double)e!).ToArray();
            var topology = new SynapseTopology((int)o["input_count"]!, (int)o["neuron_count"]!, pairs,
                o["output_neurons"]!.AsArray().Select(e => (int)e!).ToArray(),
                o["input_names"]?.AsArray().Select(e => (string)e!).ToArray(),
                o["output_names"]?.AsArray().Select(e => (string)e!).ToArray());
            return new CoordinateNetwork(topology, weights, biases, dtype, device);
        }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException or ArgumentException)
        {
            throw new InvalidDataException($"'{sourceName}' holds an invalid coordinate network: {e.Message}", e);
        }
    }

    // ------------------------------------------------------------------------------------------------------------
    // The sweeps (internal: the Jacobian, energies and Gram matrices build on them).
    // ------------------------------------------------------------------------------------------------------------

    /// <summary>The JSON format tag of <see cref="Save"/>.</summary>
    public const string FileFormat = "interp-coordinate-network-v1";

    internal Layout Positions => layout;

    /// <summary>The forward sweep without autograd. Returns <c>[P, T]</c> activations in position order.</summary>
    internal Tensor ForwardPositions(Tensor x, DeviceIndex index, IReadOnlyDictionary<int, double>? clamp)
    {
        var (wdT, b) = DenseWeights(index);
        var a = empty(x.shape[0], layout.T, dtype: DType, device: x.device);
        a.narrow(1, 0, layout.I).copy_(x);
        for (int l = 0; l < layout.LevelStart.Length; l++)
        {
            int s = layout.LevelStart[l], n = layout.LevelSize[l];
            var z = b.narrow(0, s - layout.I, n).addmm(a.narrow(1, 0, s), wdT.narrow(0, 0, s).narrow(1, s - layout.I, n));
            a.narrow(1, s, n).copy_(z.tanh_());
            if (clamp is null) continue;
            foreach (var (neuron, value) in clamp)
            {
                if (neuron < 0 || neuron >= Topology.NeuronCount)
                    throw new ArgumentOutOfRangeException(nameof(clamp), neuron, $"Neurons are numbered 0…{Topology.NeuronCount - 1}.");
                var p = layout.NodePosition[layout.I + neuron];
                if (p >= s && p < s + n)
                {
                    using var v = value.ToScalar();
                    a.narrow(1, p, 1).fill_(v);
                }
            }
        }
        return a;
    }

    /// <summary>
    /// The backward sweep, batched over output channels: <c>δ_{c,j}(p) = ∂O_c(p)/∂z_j(p)</c> for every channel c,
    /// pixel p, neuron j, from <c>δ_{c,j} = (1 − a_j²)(1[j = out_c] + Σ_{k: j→k} w_{jk} δ_{c,k})</c> in reverse level
    /// order. Returns <c>[O·P, N]</c> (rows channel-major, columns in neuron position order).
    /// </summary>
    internal Tensor BackwardPositions(Tensor a, DeviceIndex index)
    {
        long P = a.shape[0];
        int O = Topology.OutputCount, N = layout.N, I = layout.I;
        var (wdT, _) = DenseWeights(index);
        var wd = wdT.t();                                                        // [N, T]
        var d = zeros(O * P, N, dtype: DType, device: a.device);
        for (int l = layout.LevelStart.Length - 1; l >= 0; l--)
        {
            int s = layout.LevelStart[l], n = layout.LevelSize[l], r = s - I, after = r + n;
            var g = after < N
                ? d.narrow(1, after, N - after).matmul(wd.narrow(0, after, N - after).narrow(1, s, n))   // [O·P, n]
                : zeros(O * P, n, dtype: DType, device: a.device);
            var g3 = g.view(O, P, n);
            foreach (var (channel, column) in layout.OutputsInLevel[l]) g3[channel, TensorIndex.Colon, column].add_(Scalars.One);
            var act = a.narrow(1, s, n);
            g3.mul_((1 - act * act).unsqueeze(0));
            d.narrow(1, r, n).copy_(g);
        }
        return d;
    }

    /// <summary>The dense weight matrix in position order, transposed: <c>[T, N]</c>, and the biases in position order <c>[N]</c>.</summary>
    internal (Tensor WdT, Tensor B) DenseWeights(DeviceIndex index)
    {
        var flat = zeros(layout.N * (long)layout.T, dtype: DType, device: weights.device).index_copy(0, index.DenseIndex, weights);
        return (flat.view(layout.N, layout.T).t(), biases.index_select(0, index.NeuronAtPosition));
    }

    /// <summary>
    /// Columns <paramref name="columns"/> of a <c>[rows, k]</c> matrix: the matrix itself when they are 0…k−1, a narrow
    /// view when they are consecutive, else a gather. (A gather along the last dimension is libtorch's slow path —
    /// measured 0.4 s for 1.8 million numbers on this project's machine — and the common presets never need one.)
    /// </summary>
    internal static Tensor SelectColumns(Tensor matrix, IReadOnlyList<int> columns, Tensor index)
    {
        bool consecutive = true;
        for (int i = 1; i < columns.Count && consecutive; i++) consecutive = columns[i] == columns[0] + i;
        int dim = (int)matrix.dim() - 1;
        if (!consecutive) return matrix.transpose(0, dim).contiguous().index_select(0, index).transpose(0, dim);
        if (columns[0] == 0 && columns.Count == matrix.shape[dim]) return matrix.alias();
        return matrix.narrow(dim, columns[0], columns.Count);
    }

    internal DeviceIndex IndexOn(Device device)
    {
        var key = device.ToString();
        lock (indexCache)
        {
            if (!indexCache.TryGetValue(key, out var index)) indexCache[key] = index = new DeviceIndex(layout, device);
            return index;
        }
    }

    /// <summary>Frees the parameters and the cached index tensors.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
            lock (indexCache)
            {
                foreach (var index in indexCache.Values) index.Dispose();
                indexCache.Clear();
            }
        base.Dispose(disposing);
    }

    private Tensor CheckCoordinates(Tensor coords, out long[] lead)
    {
        ArgumentNullException.ThrowIfNull(coords);
        if (coords.dim() < 1 || coords.shape[^1] != Topology.InputCount)
            throw new ArgumentException($"coords must be [..., {Topology.InputCount}] (one column per input: {string.Join(", ", Topology.InputNames)}); got [{string.Join(", ", coords.shape)}].", nameof(coords));
        if (!coords.is_floating_point())
            throw new ArgumentException($"coords must be floating point; got {coords.dtype}.", nameof(coords));
        if (coords.device.type != weights.device.type || coords.device.index != weights.device.index)
            throw new ArgumentException($"coords are on {coords.device} but the network's parameters are on {weights.device}; move one of them.", nameof(coords));
        lead = coords.shape[..^1];
        var x = coords.reshape(-1, Topology.InputCount);
        return x.dtype == DType ? x : x.to(DType);
    }

    private static void CheckDtype(ScalarType dtype)
    {
        if (dtype is not (ScalarType.Float32 or ScalarType.Float64))
            throw new ArgumentException($"dtype must be Float32 or Float64; got {dtype}.", nameof(dtype));
    }

    private static void CheckValues(IReadOnlyList<double> values, int count, string name, string what)
    {
        ArgumentNullException.ThrowIfNull(values, name);
        if (values.Count != count) throw new ArgumentException($"{name} must hold one value per {what} ({count}); got {values.Count}.", name);
        for (int i = 0; i < values.Count; i++)
            if (!double.IsFinite(values[i])) throw new ArgumentException($"{name}[{i}] is {values[i].ToString(CultureInfo.InvariantCulture)}; values must be finite.", name);
    }

    private static double[] ToDoubles(Tensor t)
    {
        using var d = t.detach().to(ScalarType.Float64).cpu();
        return d.data<double>().ToArray();
    }

    private sealed class Restore(Parameter target, Tensor saved) : IDisposable
    {
        private bool done;

        public void Dispose()
        {
            if (done) return;
            done = true;
            using (no_grad()) target.copy_(saved);
            saved.Dispose();
        }
    }

    /// <summary>Position order: inputs, then neurons by (level, index); each level's neurons are contiguous.</summary>
    internal sealed class Layout
    {
        public Layout(SynapseTopology t)
        {
            I = t.InputCount;
            N = t.NeuronCount;
            T = t.NodeCount;
            NodePosition = new int[T];
            for (int i = 0; i < I; i++) NodePosition[i] = i;
            NeuronAtPosition = t.TopologicalOrder.ToArray();
            for (int k = 0; k < N; k++) NodePosition[I + NeuronAtPosition[k]] = I + k;
            var starts = new List<int>();
            var sizes = new List<int>();
            for (int k = 0; k < N; k++)
            {
                var level = t.Levels[NeuronAtPosition[k]];
                if (k == 0 || level != t.Levels[NeuronAtPosition[k - 1]]) { starts.Add(I + k); sizes.Add(0); }
                sizes[^1]++;
            }
            LevelStart = starts.ToArray();
            LevelSize = sizes.ToArray();
            DenseIndex = new long[t.SynapseCount];
            for (int s = 0; s < t.SynapseCount; s++)
                DenseIndex[s] = (long)(NodePosition[t.Targets[s]] - I) * T + NodePosition[t.Sources[s]];
            OutputPositions = t.OutputNeurons.Select(o => NodePosition[I + o]).ToArray();
            NeuronPosition = Enumerable.Range(0, N).Select(j => NodePosition[I + j] - I).ToArray();
            OutputsInLevel = new List<(int, int)>[LevelStart.Length];
            for (int l = 0; l < LevelStart.Length; l++)
            {
                OutputsInLevel[l] = new List<(int, int)>();
                for (int c = 0; c < OutputPositions.Length; c++)
                    if (OutputPositions[c] >= LevelStart[l] && OutputPositions[c] < LevelStart[l] + LevelSize[l])
                        OutputsInLevel[l].Add((c, OutputPositions[c] - LevelStart[l]));
            }
        }

        public int I { get; }
        public int N { get; }
        public int T { get; }
        public int[] NodePosition { get; }
        public int[] NeuronAtPosition { get; }
        public int[] LevelStart { get; }
        public int[] LevelSize { get; }
        public long[] DenseIndex { get; }
        public int[] OutputPositions { get; }
        public int[] NeuronPosition { get; }
        public List<(int Channel, int Column)>[] OutputsInLevel { get; }
    }

    /// <summary>The layout's index tensors on one device (created once per device, never disposed with a scope).</summary>
    internal sealed class DeviceIndex : IDisposable
    {
        public void Dispose()
        {
            DenseIndex.Dispose();
            NeuronAtPosition.Dispose();
            NodePositions.Dispose();
            NeuronPositions.Dispose();
            OutputPositions.Dispose();
        }

        public DeviceIndex(Layout layout, Device device)
        {
            DenseIndex = tensor(layout.DenseIndex, device: device).DetachFromDisposeScope();
            NeuronAtPosition = tensor(layout.NeuronAtPosition.Select(v => (long)v).ToArray(), device: device).DetachFromDisposeScope();
            NodePositions = tensor(layout.NodePosition.Select(v => (long)v).ToArray(), device: device).DetachFromDisposeScope();
            NeuronPositions = tensor(layout.NodePosition.Skip(layout.I).Select(v => (long)(v - layout.I)).ToArray(), device: device).DetachFromDisposeScope();
            OutputPositions = tensor(layout.OutputPositions.Select(v => (long)v).ToArray(), device: device).DetachFromDisposeScope();
        }

        /// <summary>Flat index of each synapse in the dense <c>[N, T]</c> matrix (position order).</summary>
        public Tensor DenseIndex { get; }

        /// <summary>Neuron index at each neuron position.</summary>
        public Tensor NeuronAtPosition { get; }

        /// <summary>Position of each node (node order → position).</summary>
        public Tensor NodePositions { get; }

        /// <summary>Neuron position (0…N−1) of each neuron.</summary>
        public Tensor NeuronPositions { get; }

        /// <summary>Position of each output.</summary>
        public Tensor OutputPositions { get; }
    }
}

/// <summary>Every activation of a network for a batch of points (<see cref="CoordinateNetwork.Trace"/>).</summary>
public sealed class NetworkTrace : IDisposable
{
    internal NetworkTrace(SynapseTopology topology, Tensor activations, Tensor outputs)
    {
        Topology = topology;
        Activations = activations;
        Outputs = outputs;
    }

    /// <summary>The wiring.</summary>
    public SynapseTopology Topology { get; }

    /// <summary>
    /// <c>[P, I + N]</c> in node order: column <c>i &lt; I</c> is input i, column <c>I + j</c> is neuron j's
    /// activation; in the network's dtype, on its device.
    /// </summary>
    public Tensor Activations { get; }

    /// <summary>
    /// <c>[P, O]</c>, the output neurons' activations in (−1, 1); in the network's dtype, on its device.
    /// </summary>
    public Tensor Outputs { get; }

    /// <summary>Neuron <paramref name="neuron"/>'s activation, <c>[P]</c> (a view).</summary>
    public Tensor Neuron(int neuron) => Activations.select(1, Topology.InputCount + neuron);

    /// <inheritdoc />
    public void Dispose()
    {
        Activations.Dispose();
        Outputs.Dispose();
    }
}
