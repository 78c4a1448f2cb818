using FsCheck;
using FsCheck.Xunit;
using Interpretability.Ensembles;
using Interpretability.Nn;

namespace Interpretability.Tests.Ensembles;

public class TopologyTests
{
    [Fact]
    public void The_article_preset_has_37_neurons_460_synapses_numbered_by_target_then_source()
    {
        var t = SynapseTopology.Article();
        Assert.Equal(2, t.InputCount);
        Assert.Equal(37, t.NeuronCount);
        Assert.Equal(460, t.SynapseCount);                       // 34·2 + Σ min(j, 14) + 3·7 (brief §1.3)
        Assert.Equal(new[] { 34, 35, 36 }, t.OutputNeurons);
        // Synapses 0 and 1 are x→n0, y→n0: n0 has exactly two synapses.
        Assert.Equal((0, 2), (t.Sources[0], t.Targets[0]));
        Assert.Equal((1, 2), (t.Sources[1], t.Targets[1]));
        Assert.Equal(2, t.FanIn(0));
        // Numbering: by target, then source ascending.
        for (int s = 1; s < t.SynapseCount; s++)
            Assert.True(t.Targets[s] > t.Targets[s - 1] || (t.Targets[s] == t.Targets[s - 1] && t.Sources[s] > t.Sources[s - 1]), $"synapse {s} out of order");
        // Hidden neuron j: x, y and the previous min(j, 14) hidden neurons; outputs fed by n27…n33.
        for (int j = 0; j < 34; j++) Assert.Equal(2 + Math.Min(j, 14), t.FanIn(j));
        for (int o = 34; o < 37; o++)
            Assert.Equal(Enumerable.Range(27, 7).Select(k => k + 2), t.IncomingSynapses(o).Select(s => t.Sources[s]));
        Assert.Equal(35, t.LevelCount);
        Assert.Equal("s0: x→n0", t.Describe(0));
        Assert.Equal("n34(r)", t.NeuronName(34));
    }

    [Fact]
    public void The_dense_preset_connects_every_neuron_of_a_layer_to_every_node_of_the_previous()
    {
        var t = SynapseTopology.Dense();
        Assert.Equal(45, t.NeuronCount);
        Assert.Equal(2 * 14 + 14 * 14 * 2 + 14 * 3, t.SynapseCount);
        Assert.Equal(4, t.LevelCount);
        Assert.All(Enumerable.Range(0, 14), j => Assert.Equal(2, t.FanIn(j)));
        Assert.All(Enumerable.Range(42, 3), j => Assert.Equal(14, t.FanIn(j)));
    }

    [Fact]
    public void The_random_preset_is_deterministic_and_has_the_asked_counts()
    {
        var a = SynapseTopology.RandomDag(seed: 3);
        var b = SynapseTopology.RandomDag(seed: 3);
        var c = SynapseTopology.RandomDag(seed: 4);
        Assert.Equal(37, a.NeuronCount);
        Assert.Equal(460, a.SynapseCount);
        Assert.Equal(a.Sources, b.Sources);
        Assert.Equal(a.Targets, b.Targets);
        Assert.False(a.Sources.SequenceEqual(c.Sources) && a.Targets.SequenceEqual(c.Targets));
    }

    [Property(MaxTest = 40)]
    public bool Random_dags_are_valid_and_their_levels_respect_every_synapse(PositiveInt hiddenSeed, PositiveInt extra, int seed)
    {
        int hidden = 1 + hiddenSeed.Get % 20, outputs = 1 + extra.Get % 4;
        long min = 2L * hidden + (hidden - 1) + outputs, max = 2L * hidden + hidden * (hidden - 1) / 2 + (long)hidden * outputs;
        int synapses = (int)(min + (extra.Get * 7919L) % (max - min + 1));
        var t = SynapseTopology.RandomDag(hidden, outputs, synapses, seed);
        if (t.SynapseCount != synapses) return false;
        // Every synapse goes from a lower level to a higher one; the topological order lists sources first.
        var rank = new int[t.NeuronCount];
        for (int k = 0; k < t.NeuronCount; k++) rank[t.TopologicalOrder[k]] = k;
        for (int s = 0; s < t.SynapseCount; s++)
        {
            int target = t.TargetNeuron(s), source = t.SourceNeuron(s);
            if (source < 0) continue;
            if (t.Levels[source] >= t.Levels[target] || rank[source] >= rank[target]) return false;
        }
        return true;
    }

    [Fact]
    public void A_cycle_is_refused_with_its_neurons_and_synapses_named()
    {
        // x → n0 → n1 → n2 → n0 (a cycle), n2 → n3 (output).
        var e = Assert.Throws<ArgumentException>(() => new SynapseTopology(1, 4,
            new[] { (0, 1), (1, 2), (2, 3), (3, 1), (3, 4) }, new[] { 3 }));
        Assert.Contains("cycle", e.Message);
        Assert.Contains("n0", e.Message);
        Assert.Contains("n2", e.Message);
        Assert.Contains("synapses", e.Message);
        Assert.Equal("synapses", e.ParamName);
    }

    [Fact]
    public void A_self_loop_is_a_cycle()
    {
        var e = Assert.Throws<ArgumentException>(() => new SynapseTopology(1, 1, new[] { (0, 1), (1, 1) }, new[] { 0 }));
        Assert.Contains("itself", e.Message);
    }

    [Fact]
    public void A_dangling_neuron_without_inputs_is_refused()
    {
        // n1 receives nothing.
        var e = Assert.Throws<ArgumentException>(() => new SynapseTopology(1, 3, new[] { (0, 1), (1, 3), (2, 3) }, new[] { 2 }));
        Assert.Contains("Neuron 1", e.Message);
        Assert.Contains("no incoming synapse", e.Message);
        Assert.Contains("dangling", e.Message);
    }

    [Fact]
    public void A_dangling_neuron_that_reaches_no_output_is_refused()
    {
        // n1 receives x but feeds nothing and is not an output.
        var e = Assert.Throws<ArgumentException>(() => new SynapseTopology(1, 2, new[] { (0, 1), (0, 2) }, new[] { 0 }));
        Assert.Contains("Neuron 1", e.Message);
        Assert.Contains("no outgoing synapse", e.Message);
    }

    [Fact]
    public void A_synapse_to_a_node_that_does_not_exist_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => new SynapseTopology(2, 1, new[] { (0, 2), (1, 7) }, new[] { 0 }));
        Assert.Contains("Synapse 1", e.Message);
        Assert.Contains("node 7", e.Message);
        Assert.Contains("does not exist", e.Message);
    }

    [Fact]
    public void Duplicates_targets_at_inputs_and_bad_outputs_are_refused()
    {
        Assert.Contains("both run", Assert.Throws<ArgumentException>(() => new SynapseTopology(1, 1, new[] { (0, 1), (0, 1) }, new[] { 0 })).Message);
        Assert.Contains("an input", Assert.Throws<ArgumentException>(() => new SynapseTopology(2, 1, new[] { (0, 2), (2, 1) }, new[] { 0 })).Message);
        Assert.Contains("Output neuron 5", Assert.Throws<ArgumentException>(() => new SynapseTopology(1, 1, new[] { (0, 1) }, new[] { 5 })).Message);
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => new SynapseTopology(1, 1, Array.Empty<(int, int)>(), new[] { 0 })).Message);
    }
}
