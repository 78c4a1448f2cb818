namespace Interpretability.Nn;

/// <summary>
/// The wiring of a feed-forward network of neurons given as an explicit synapse list: which node feeds which neuron,
/// with a stable numbering of synapses and neurons. Any directed acyclic graph is allowed, not only dense layers.
/// </summary>
/// <remarks>
/// <para><b>Nodes.</b> Nodes are numbered inputs first, then neurons: nodes <c>0 … I−1</c> are the inputs (for a
/// coordinate network <c>x, y</c>), node <c>I + j</c> is neuron <c>j</c> (<c>j = 0 … N−1</c>). Inputs are not neurons
/// (the Habr article on synapse ensembles counts 37 neurons for a network with inputs x, y). Synapse <c>s</c> runs from
/// node <see cref="Sources"/>[s] (an input or a neuron) to node <see cref="Targets"/>[s] (always a neuron); its number
/// is its index in the list the topology was built from, and never changes. Biases belong to neurons and are not
/// synapses.</para>
/// <para><b>Levels.</b> A neuron's level is one more than the largest level of its sources (inputs have level 0).
/// Neurons of one level never feed each other, so a level is evaluated as one matrix product; the forward pass walks
/// the levels in order and the backward pass in reverse (<see cref="TopologicalOrder"/>).</para>
/// <para>The constructor rejects a list with a cycle, a synapse that points at a node that does not exist, a duplicate
/// synapse, a neuron without incoming synapses (a constant) and a non-output neuron without outgoing synapses (it
/// cannot reach an output): each with a message naming the synapse or neuron.</para>
/// </remarks>
public sealed class SynapseTopology
{
    private readonly int[] sources;
    private readonly int[] targets;
    private readonly int[] outputNeurons;
    private readonly string[] inputNames;
    private readonly string[] outputNames;
    private readonly int[][] incoming;
    private readonly int[][] outgoing;
    private readonly int[] levels;
    private readonly int[] order;

    /// <summary>Builds and validates a topology.</summary>
    /// <param name="inputCount">Number of inputs <c>I</c> (nodes <c>0 … I−1</c>).</param>
    /// <param name="neuronCount">Number of neurons <c>N</c> (nodes <c>I … I+N−1</c>).</param>
    /// <param name="synapses">Synapses as (source node, target node) pairs; the index in this list is the synapse number.</param>
    /// <param name="outputNeurons">Neuron indices (<c>0 … N−1</c>, not node indices) whose activations are the outputs, in output order.</param>
    /// <param name="inputNames">Names of the inputs (default <c>x, y</c> for two inputs, <c>in0, in1, …</c> otherwise).</param>
    /// <param name="outputNames">Names of the outputs (default <c>r, g, b</c> for three outputs, <c>out0, …</c> otherwise).</param>
    /// <exception cref="ArgumentException">The list has a cycle, a dangling neuron or reference, or a duplicate.</exception>
    public SynapseTopology(int inputCount, int neuronCount, IReadOnlyList<(int Source, int Target)> synapses,
        IReadOnlyList<int> outputNeurons, IReadOnlyList<string>? inputNames = null, IReadOnlyList<string>? outputNames = null)
    {
        if (inputCount < 1) throw new ArgumentOutOfRangeException(nameof(inputCount), inputCount, "inputCount must be at least 1.");
        if (neuronCount < 1) throw new ArgumentOutOfRangeException(nameof(neuronCount), neuronCount, "neuronCount must be at least 1.");
        ArgumentNullException.ThrowIfNull(synapses);
        ArgumentNullException.ThrowIfNull(outputNeurons);
        if (synapses.Count == 0) throw new ArgumentException("The synapse list is empty; a network needs at least one synapse.", nameof(synapses));
        if (outputNeurons.Count == 0) throw new ArgumentException("At least one output neuron is required.", nameof(outputNeurons));
        InputCount = inputCount;
        NeuronCount = neuronCount;
        int nodes = inputCount + neuronCount;

        sources = new int[synapses.Count];
        targets = new int[synapses.Count];
        var seen = new Dictionary<(int, int), int>();
        for (int s = 0; s < synapses.Count; s++)
        {
            var (src, tgt) = synapses[s];
            if (src < 0 || src >= nodes)
                throw new ArgumentException($"Synapse {s} starts at node {src}, which does not exist: the network has {nodes} nodes " +
                                            $"({inputCount} inputs + {neuronCount} neurons, numbered 0…{nodes - 1}). The synapse is dangling.", nameof(synapses));
            if (tgt < 0 || tgt >= nodes)
                throw new ArgumentException($"Synapse {s} ends at node {tgt}, which does not exist: the network has {nodes} nodes " +
                                            $"({inputCount} inputs + {neuronCount} neurons, numbered 0…{nodes - 1}). The synapse is dangling.", nameof(synapses));
            if (tgt < inputCount)
                throw new ArgumentException($"Synapse {s} ends at node {tgt}, an input; synapses must end at neurons (nodes {inputCount}…{nodes - 1}).", nameof(synapses));
            if (src == tgt)
                throw new ArgumentException($"Synapse {s} connects neuron {tgt - inputCount} to itself: a cycle; the network must be feed-forward.", nameof(synapses));
            if (seen.TryGetValue((src, tgt), out var first))
                throw new ArgumentException($"Synapses {first} and {s} both run from node {src} to node {tgt}; each connection may appear once.", nameof(synapses));
            seen[(src, tgt)] = s;
            sources[s] = src;
            targets[s] = tgt;
        }

        this.outputNeurons = outputNeurons.ToArray();
        var outSet = new HashSet<int>();
        foreach (var o in this.outputNeurons)
        {
            if (o < 0 || o >= neuronCount)
                throw new ArgumentException($"Output neuron {o} does not exist; neurons are numbered 0…{neuronCount - 1}.", nameof(outputNeurons));
            if (!outSet.Add(o)) throw new ArgumentException($"Output neuron {o} is listed twice.", nameof(outputNeurons));
        }

        this.inputNames = (inputNames ?? DefaultInputNames(inputCount)).ToArray();
        if (this.inputNames.Length != inputCount)
            throw new ArgumentException($"inputNames has {this.inputNames.Length} names for {inputCount} inputs.", nameof(inputNames));
        this.outputNames = (outputNames ?? DefaultOutputNames(this.outputNeurons.Length)).ToArray();
        if (this.outputNames.Length != this.outputNeurons.Length)
            throw new ArgumentException($"outputNames has {this.outputNames.Length} names for {this.outputNeurons.Length} outputs.", nameof(outputNames));

        // Incoming synapses per neuron (in numbering order) and outgoing synapses per node.
        var inLists = Enumerable.Range(0, neuronCount).Select(_ => new List<int>()).ToArray();
        var outLists = Enumerable.Range(0, nodes).Select(_ => new List<int>()).ToArray();
        for (int s = 0; s < sources.Length; s++)
        {
            inLists[targets[s] - inputCount].Add(s);
            outLists[sources[s]].Add(s);
        }
        incoming = inLists.Select(l => l.ToArray()).ToArray();
        outgoing = outLists.Select(l => l.ToArray()).ToArray();
        for (int j = 0; j < neuronCount; j++)
        {
            if (incoming[j].Length == 0)
                throw new ArgumentException($"Neuron {j} (node {inputCount + j}) has no incoming synapse: it is dangling (its output would be a constant).", nameof(synapses));
            if (outgoing[inputCount + j].Length == 0 && !outSet.Contains(j))
                throw new ArgumentException($"Neuron {j} (node {inputCount + j}) has no outgoing synapse and is not an output: it is dangling (it cannot affect any output).", nameof(synapses));
        }

        // Levels by Kahn's algorithm; whatever is left over lies on or behind a cycle.
        levels = new int[neuronCount];
        var remaining = incoming.Select(l => l.Count(s => sources[s] >= inputCount)).ToArray();
        var queue = new Queue<int>(Enumerable.Range(0, neuronCount).Where(j => remaining[j] == 0));
        int done = 0;
        while (queue.Count > 0)
        {
            var j = queue.Dequeue();
            done++;
            int level = 1;
            foreach (var s in incoming[j])
                if (sources[s] >= inputCount) level = Math.Max(level, levels[sources[s] - inputCount] + 1);
            levels[j] = level;
            foreach (var s in outgoing[inputCount + j])
            {
                var k = targets[s] - inputCount;
                if (--remaining[k] == 0) queue.Enqueue(k);
            }
        }
        if (done < neuronCount) throw new ArgumentException(DescribeCycle(remaining), nameof(synapses));

        LevelCount = levels.Max();
        order = Enumerable.Range(0, neuronCount).OrderBy(j => levels[j]).ThenBy(j => j).ToArray();
    }

    /// <summary>Number of inputs <c>I</c>.</summary>
    public int InputCount { get; }

    /// <summary>Number of neurons <c>N</c> (hidden and output).</summary>
    public int NeuronCount { get; }

    /// <summary>Number of nodes, <c>I + N</c>.</summary>
    public int NodeCount => InputCount + NeuronCount;

    /// <summary>Number of synapses <c>S</c>.</summary>
    public int SynapseCount => sources.Length;

    /// <summary>Number of outputs <c>O</c>.</summary>
    public int OutputCount => outputNeurons.Length;

    /// <summary>Source node of every synapse (length <c>S</c>; an input <c>&lt; I</c> or a neuron's node <c>I + j</c>).</summary>
    public IReadOnlyList<int> Sources => sources;

    /// <summary>Target node of every synapse (length <c>S</c>; always a neuron's node <c>I + j</c>).</summary>
    public IReadOnlyList<int> Targets => targets;

    /// <summary>The output neurons (neuron indices), in output order.</summary>
    public IReadOnlyList<int> OutputNeurons => outputNeurons;

    /// <summary>Input names.</summary>
    public IReadOnlyList<string> InputNames => inputNames;

    /// <summary>Output names.</summary>
    public IReadOnlyList<string> OutputNames => outputNames;

    /// <summary>Level of every neuron (length <c>N</c>, values <c>1 … LevelCount</c>).</summary>
    public IReadOnlyList<int> Levels => levels;

    /// <summary>Number of levels (the longest path from an input to a neuron, in synapses).</summary>
    public int LevelCount { get; }

    /// <summary>Neurons in evaluation order: by level, then by index. Every source comes before its targets.</summary>
    public IReadOnlyList<int> TopologicalOrder => order;

    /// <summary>Incoming synapses of neuron <paramref name="neuron"/>, in numbering order.</summary>
    public IReadOnlyList<int> IncomingSynapses(int neuron) => incoming[CheckNeuron(neuron)];

    /// <summary>Outgoing synapses of node <paramref name="node"/> (an input or a neuron's node), in numbering order.</summary>
    public IReadOnlyList<int> OutgoingSynapses(int node) => outgoing[CheckNode(node)];

    /// <summary>Fan-in of neuron <paramref name="neuron"/>.</summary>
    public int FanIn(int neuron) => incoming[CheckNeuron(neuron)].Length;

    /// <summary>The neuron a synapse ends at (a neuron index, <c>Targets[s] − I</c>).</summary>
    public int TargetNeuron(int synapse) => targets[CheckSynapse(synapse)] - InputCount;

    /// <summary>The neuron a synapse starts at, or −1 when it starts at an input.</summary>
    public int SourceNeuron(int synapse) => sources[CheckSynapse(synapse)] is var s && s >= InputCount ? s - InputCount : -1;

    /// <summary>True when neuron <paramref name="neuron"/> is an output.</summary>
    public bool IsOutput(int neuron) => Array.IndexOf(outputNeurons, neuron) >= 0;

    /// <summary>Name of a node: an input name, or <c>n{j}</c> for neuron <c>j</c> (with the output name for outputs, e.g. <c>n34(r)</c>).</summary>
    public string NodeName(int node)
    {
        CheckNode(node);
        if (node < InputCount) return inputNames[node];
        var j = node - InputCount;
        var o = Array.IndexOf(outputNeurons, j);
        return o >= 0 ? $"n{j}({outputNames[o]})" : $"n{j}";
    }

    /// <summary>Name of neuron <paramref name="neuron"/> (see <see cref="NodeName"/>).</summary>
    public string NeuronName(int neuron) => NodeName(InputCount + CheckNeuron(neuron));

    /// <summary>A synapse as text: <c>s21: n3→n6</c>.</summary>
    public string Describe(int synapse) => $"s{synapse}: {NodeName(sources[CheckSynapse(synapse)])}→{NodeName(targets[synapse])}";

    /// <summary>A one-line summary: counts of inputs, neurons, synapses, levels.</summary>
    public override string ToString() =>
        $"{InputCount} inputs ({string.Join(", ", inputNames)}), {NeuronCount} neurons ({NeuronCount - OutputCount} hidden + {OutputCount} outputs), {SynapseCount} synapses, {LevelCount} levels";

    // ------------------------------------------------------------------------------------------------------------
    // Presets
    // ------------------------------------------------------------------------------------------------------------

    /// <summary>
    /// "CoordNet-37/460", our reference topology, reproducing the counts of the network of the Habr article "Ансамбль
    /// синапсов – структурная единица нейронной сети" (2015, https://habr.com/ru/articles/249031/): a feed-forward tanh
    /// network of 37 neurons and 460 synapses. The article gives only these counts; the layout is our choice: inputs x,
    /// y; 34 hidden tanh neurons n0…n33, neuron j fed by x, y and the previous min(j, 14) hidden neurons (a cascade
    /// with skip connections); 3 output neurons n34…n36 (r, g, b) fed by n27…n33. 37 neurons, exactly 460 synapses,
    /// numbered by target neuron then source (x, y, then hidden sources ascending): synapses 0 and 1 are x→n0 and y→n0.
    /// </summary>
    public static SynapseTopology Article() => Cascade(hidden: 34, window: 14, outputs: 3, outputFanIn: 7);

    /// <summary>
    /// A cascade of <paramref name="hidden"/> tanh neurons over two inputs (x, y): hidden neuron j receives x, y and the
    /// previous min(j, <paramref name="window"/>) hidden neurons; each of the <paramref name="outputs"/> output neurons
    /// receives the last <paramref name="outputFanIn"/> hidden neurons. Synapses are numbered by target, then source.
    /// </summary>
    public static SynapseTopology Cascade(int hidden, int window, int outputs, int outputFanIn)
    {
        if (hidden < 1) throw new ArgumentOutOfRangeException(nameof(hidden), hidden, "hidden must be at least 1.");
        if (window < 0) throw new ArgumentOutOfRangeException(nameof(window), window, "window must not be negative.");
        if (outputs < 1) throw new ArgumentOutOfRangeException(nameof(outputs), outputs, "outputs must be at least 1.");
        if (outputFanIn < 1 || outputFanIn > hidden)
            throw new ArgumentOutOfRangeException(nameof(outputFanIn), outputFanIn, $"outputFanIn must be in [1, {hidden}].");
        const int I = 2;
        var list = new List<(int, int)>();
        for (int j = 0; j < hidden; j++)
        {
            list.Add((0, I + j));
            list.Add((1, I + j));
            for (int k = Math.Max(0, j - window); k < j; k++) list.Add((I + k, I + j));
        }
        for (int o = 0; o < outputs; o++)
            for (int k = hidden - outputFanIn; k < hidden; k++) list.Add((I + k, I + hidden + o));
        // A hidden neuron that feeds nothing would be dangling; with a window and the last neurons feeding the outputs
        // that happens only for a zero window.
        return new SynapseTopology(I, hidden + outputs, list, Enumerable.Range(hidden, outputs).ToArray());
    }

    /// <summary>
    /// A dense layered network over two inputs (x, y): every neuron of a layer receives every node of the previous
    /// layer (inputs for the first). The default widths 14-14-14 with 3 outputs give 462 synapses, close to the Habr
    /// article's 460. Synapses are numbered by target, then source.
    /// </summary>
    /// <param name="hidden">Widths of the hidden layers.</param>
    /// <param name="outputs">Number of outputs (3 for r, g, b).</param>
    /// <param name="inputs">Number of inputs (2 for x, y).</param>
    public static SynapseTopology Dense(IReadOnlyList<int>? hidden = null, int outputs = 3, int inputs = 2)
    {
        hidden ??= new[] { 14, 14, 14 };
        if (hidden.Any(h => h < 1)) throw new ArgumentOutOfRangeException(nameof(hidden), "Every hidden width must be at least 1.");
        if (outputs < 1) throw new ArgumentOutOfRangeException(nameof(outputs), outputs, "outputs must be at least 1.");
        if (inputs < 1) throw new ArgumentOutOfRangeException(nameof(inputs), inputs, "inputs must be at least 1.");
        var list = new List<(int, int)>();
        var previous = Enumerable.Range(0, inputs).ToArray();
        int next = inputs;
        foreach (var width in hidden.Append(outputs))
        {
            var layer = Enumerable.Range(next, width).ToArray();
            foreach (var t in layer)
                foreach (var s in previous) list.Add((s, t));
            previous = layer;
            next += width;
        }
        int neurons = next - inputs;
        return new SynapseTopology(inputs, neurons, list, Enumerable.Range(neurons - outputs, outputs).ToArray());
    }

    /// <summary>
    /// A random sparse DAG over two inputs (x, y) with <paramref name="hidden"/> hidden neurons,
    /// <paramref name="outputs"/> outputs and exactly <paramref name="synapses"/> synapses, drawn deterministically
    /// from <paramref name="seed"/>. Every hidden neuron receives x and y and feeds at least one later neuron; every
    /// output receives at least one hidden neuron; the rest are random forward connections (source index below target
    /// index). Numbered by target, then source. The defaults match the Habr article's counts (37 neurons, 460
    /// synapses).
    /// </summary>
    public static SynapseTopology RandomDag(int hidden = 34, int outputs = 3, int synapses = 460, int seed = 0)
    {
        if (hidden < 1) throw new ArgumentOutOfRangeException(nameof(hidden), hidden, "hidden must be at least 1.");
        if (outputs < 1) throw new ArgumentOutOfRangeException(nameof(outputs), outputs, "outputs must be at least 1.");
        const int I = 2;
        // Candidates: x, y → hidden (all taken), hidden k → hidden j (k < j), hidden → output.
        long possible = 2L * hidden + (long)hidden * (hidden - 1) / 2 + (long)hidden * outputs;
        long minimum = 2L * hidden + Math.Max(hidden - 1, 0) + outputs;
        if (synapses < minimum || synapses > possible)
            throw new ArgumentOutOfRangeException(nameof(synapses), synapses,
                $"A random DAG with {hidden} hidden neurons and {outputs} outputs needs between {minimum} and {possible} synapses.");
        var random = new Random(seed);
        var set = new HashSet<(int, int)>();
        for (int j = 0; j < hidden; j++) { set.Add((0, I + j)); set.Add((1, I + j)); }
        // Every hidden neuron feeds at least one later neuron (a hidden one after it, or an output for the last).
        for (int j = 0; j < hidden; j++)
        {
            int later = hidden - 1 - j;   // hidden neurons after j
            int pick = random.Next(later + outputs);
            int t = pick < later ? j + 1 + pick : hidden + (pick - later);
            set.Add((I + j, I + t));
        }
        // Every output receives at least one hidden neuron.
        for (int o = 0; o < outputs; o++)
            if (!set.Any(p => p.Item2 == I + hidden + o)) set.Add((I + random.Next(hidden), I + hidden + o));
        while (set.Count < synapses)
        {
            int t = random.Next(1, hidden + outputs);                 // target neuron (not n0: it has no earlier hidden source)
            int s = random.Next(Math.Min(t, hidden));                  // hidden source before it
            set.Add((I + s, I + t));
        }
        var list = set.OrderBy(p => p.Item2).ThenBy(p => p.Item1).ToList();
        return new SynapseTopology(I, hidden + outputs, list, Enumerable.Range(hidden, outputs).ToArray());
    }

    // ------------------------------------------------------------------------------------------------------------

    private int CheckNeuron(int neuron) =>
        neuron >= 0 && neuron < NeuronCount ? neuron : throw new ArgumentOutOfRangeException(nameof(neuron), neuron, $"Neurons are numbered 0…{NeuronCount - 1}.");

    private int CheckNode(int node) =>
        node >= 0 && node < NodeCount ? node : throw new ArgumentOutOfRangeException(nameof(node), node, $"Nodes are numbered 0…{NodeCount - 1}.");

    private int CheckSynapse(int synapse) =>
        synapse >= 0 && synapse < SynapseCount ? synapse : throw new ArgumentOutOfRangeException(nameof(synapse), synapse, $"Synapses are numbered 0…{SynapseCount - 1}.");

    private static string[] DefaultInputNames(int n) => n == 2 ? new[] { "x", "y" } : Enumerable.Range(0, n).Select(i => $"in{i}").ToArray();

    private static string[] DefaultOutputNames(int n) => n == 3 ? new[] { "r", "g", "b" } : Enumerable.Range(0, n).Select(i => $"out{i}").ToArray();

    /// <summary>Finds one cycle among the neurons Kahn's algorithm could not order and names its neurons and synapses.</summary>
    private string DescribeCycle(int[] remaining)
    {
        // Walk backwards from a blocked neuron along blocked sources: in a finite graph the walk must repeat a neuron.
        int start = Array.FindIndex(remaining, r => r > 0);
        var path = new List<int>();
        var via = new List<int>();
        var index = new Dictionary<int, int>();
        int current = start;
        while (!index.ContainsKey(current))
        {
            index[current] = path.Count;
            path.Add(current);
            var s = incoming[current].First(s => sources[s] >= InputCount && remaining[sources[s] - InputCount] > 0);
            via.Add(s);
            current = sources[s] - InputCount;
        }
        int from = index[current];
        var cycleNeurons = path.Skip(from).Reverse().ToList();          // in forward direction
        var cycleSynapses = via.Skip(from).Reverse().ToList();
        cycleNeurons.Add(cycleNeurons[0]);
        return $"The synapse list has a cycle: {string.Join(" → ", cycleNeurons.Select(j => $"n{j}"))} (synapses {string.Join(", ", cycleSynapses)}); " +
               "the network must be feed-forward (a directed acyclic graph).";
    }
}
