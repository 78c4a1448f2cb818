using Interpretability.Ensembles;
using Interpretability.Nn;
using Interpretability.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Tests.Ensembles;

public class EditingAndStripsTests
{
    private static Tensor Box(PixelGrid g)
    {
        var m = zeros(g.Height, g.Width, dtype: ScalarType.Bool);
        m[TensorIndex.Slice(2, 6), TensorIndex.Slice(3, 8)] = tensor(true);
        return m;
    }

    [Fact]
    public void The_eigen_direction_is_at_least_as_selective_as_any_single_synapse_of_its_subset()
    {
        using var net = new CoordinateNetwork(SynapseTopology.Article(), seed: 21, dtype: ScalarType.Float64);
        var g = PixelGrid.Square(12);
        using var mask = Box(g);
        var subset = Enumerable.Range(100, 40).ToArray();
        var eigen = EnsembleEditing.MostSelective(net, g, mask, subset, regularization: 1e-3);
        Assert.Equal(1.0, Math.Sqrt(eigen.Direction.Sum(v => v * v)), 9);
        Assert.All(Enumerable.Range(0, 460).Where(s => !subset.Contains(s)), s => Assert.Equal(0, eigen.Direction[s]));
        // Each single synapse e_s is a feasible direction of the same Rayleigh quotient, with the same ε.
        var energies = RegionEnergy.Compute(net, g, mask);
        var eps = 1e-3 * energies.TotalOutside / energies.Count;
        foreach (var s in subset)
            Assert.True(eigen.Eigenvalue >= energies.Inside[s] / (energies.Outside[s] + eps) * (1 - 1e-9), $"synapse {s}");
        var single = EnsembleEditing.BestSingleSynapse(net.Topology, energies);
        Assert.Equal(Enumerable.Range(0, 460).MaxBy(s => energies.Inside[s] / (energies.Outside[s] + eps)), single.Synapses[0]);
    }

    [Fact]
    public void An_edit_reaches_the_aimed_change_inside_to_first_order_and_restores_the_weights()
    {
        using var net = new CoordinateNetwork(SynapseTopology.Article(), seed: 22);
        var g = PixelGrid.Square(12);
        using var mask = Box(g);
        var before = net.GetWeights();
        var direction = EnsembleEditing.MostSelective(net, g, mask).Direction;
        using var small = EnsembleEditing.Apply(net, g, mask, direction, insideRms: 0.002);
        Assert.Equal(0.002, small.InsideRms, 4);                                      // small steps are linear
        Assert.Equal(before, net.GetWeights());
        Assert.True(small.Selectivity > 1);
        Assert.Equal(small.Scale, small.DeltaNorm, 6);
    }

    [Fact]
    public void A_strip_frame_at_offset_zero_is_the_picture_and_the_rest_differ()
    {
        using var net = new CoordinateNetwork(SynapseTopology.Article(), seed: 3);
        var g = PixelGrid.Square(10);
        using var strip = PerturbationStrips.Render(net, g, 0, PerturbationStrips.Offsets(2, 0.5));
        Assert.Equal(new[] { -1.0, -0.5, 0, 0.5, 1.0 }, strip.Offsets);
        Assert.Equal(new long[] { 5, 3, 10, 10 }, strip.Frames.shape);
        using var picture = net.Render(g);
        Assert.True((strip.Frames[2] - picture).abs().max().ToDouble() < 1e-7);
        Assert.Equal(0, strip.Differences[2].abs().max().ToDouble(), 7);
        Assert.True(strip.Differences[0].max().ToDouble() > 0);
    }

    [Fact]
    public void Neuron_maps_are_the_traced_activations_and_ablating_an_output_neuron_changes_the_picture()
    {
        using var net = new CoordinateNetwork(SynapseTopology.Article(), seed: 5, dtype: ScalarType.Float64);
        var g = PixelGrid.Square(8);
        using var maps = NeuronMaps.Activations(net, g);
        Assert.Equal(new long[] { 37, 8, 8 }, maps.shape);
        using var coords = g.Coordinates(ScalarType.Float64);
        var xy = coords.data<double>().ToArray();
        var a = PlainNetwork.Activations(net.Topology, net.GetWeights(), net.GetBiases(), new[] { xy[2 * 9], xy[2 * 9 + 1] });   // pixel (1, 1)
        Assert.Equal(a[2 + 29], maps[29, 1, 1].ToDouble(), 5);                       // maps are float32 pictures
        var effects = NeuronMaps.AblationEffects(net, g);
        // Clamping the red output to 0 changes the red channel by |r| everywhere: RMS over channels = sqrt(mean r² / 3) / 2.
        using var trace = net.Trace(coords);
        var expected = Math.Sqrt(trace.Outputs.select(1, 0).pow(2).mean().ToDouble() / 3) / 2;
        Assert.Equal(expected, effects[34], 9);
    }
}

[Collection(RunsAloneCollection.Name)]
public class EnsembleMemoryTests
{
    [Fact]
    public void Repeating_the_jacobian_energies_and_gram_does_not_grow_native_memory()
    {
        using var net = new CoordinateNetwork(SynapseTopology.Article(), seed: 1);
        var g = PixelGrid.Square(16);
        using var mask = zeros(16, 16, dtype: ScalarType.Bool);
        mask[TensorIndex.Slice(4, 9), TensorIndex.Slice(4, 9)] = tensor(true);
        var (rss, tensors) = MemoryProbe.Measure(() =>
        {
            using var f = SynapseJacobian.Compute(net, g);
            using var j = f.Materialize();
            _ = RegionEnergy.Compute(net, g, mask);
            using var gram = SynapseGram.Compute(net, g, null, new[] { 1, 2, 3 });
            using var render = net.Render(g);
        }, repeats: 100, warmup: 20);
        Assert.Equal(0, tensors);
        Assert.True(rss < MemoryProbe.LeakThresholdBytes, $"native memory in use grew by {rss / 1024} KiB per 100 repeats.");
    }
}
