using Interpretability.Ensembles;
using Interpretability.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Tests.Ensembles;

public class RegionEnergyTests
{
    private static Tensor Disc(PixelGrid g, double radius)
    {
        using var c = g.Coordinates(ScalarType.Float64);
        return (c.pow(2).sum(dim: 1) < radius * radius).reshape(g.Height, g.Width);
    }

    [Fact]
    public void Region_energies_equal_the_sum_of_squared_finite_difference_jacobians_inside_and_outside()
    {
        var t = PlainNetwork.SmallDag(7);
        using var net = new CoordinateNetwork(t, seed: 3, dtype: ScalarType.Float64);
        var g = PixelGrid.Square(6);
        using var mask = Disc(g, 0.5);
        var energies = RegionEnergy.Compute(net, g, mask, chunkPixels: 7);           // odd chunks: the sums must not care
        var w = net.GetWeights();
        var b = net.GetBiases();
        using var coords = g.Coordinates(ScalarType.Float64);
        var xy = coords.data<double>().ToArray();
        var inside = mask.reshape(-1).data<bool>().ToArray();
        var eIn = new double[t.SynapseCount];
        var eOut = new double[t.SynapseCount];
        for (int p = 0; p < g.PixelCount; p++)
        {
            var jac = PlainNetwork.Jacobian(t, w, b, new[] { xy[2 * p], xy[2 * p + 1] });
            for (int s = 0; s < t.SynapseCount; s++)
                for (int c = 0; c < t.OutputCount; c++)
                    (inside[p] ? eIn : eOut)[s] += jac[c, s] * jac[c, s];
        }
        for (int s = 0; s < t.SynapseCount; s++)
        {
            Assert.Equal(eIn[s], energies.Inside[s], 6);
            Assert.Equal(eOut[s], energies.Outside[s], 6);
        }
        Assert.Equal(inside.Count(v => v), energies.InsidePixels);
        Assert.Equal(inside.Count(v => !v), energies.OutsidePixels);
    }

    [Fact]
    public void The_matrix_product_and_the_per_synapse_loop_give_the_same_energies()
    {
        using var net = new CoordinateNetwork(SynapseTopology.Article(), seed: 8, dtype: ScalarType.Float64);
        var g = PixelGrid.Square(10);
        using var f = SynapseJacobian.Compute(net, g);
        using var soft = rand(new long[] { 100 }, dtype: float64, generator: new Generator(2));
        using var fast = RegionEnergy.FromFactors(f, soft);
        using var slow = RegionEnergy.PerSynapseLoop(f, soft);
        Assert.True((fast[0] - slow).abs().max().ToDouble() < 1e-12 * slow.abs().max().ToDouble());
        // And chunked over pixels from the network: the same.
        using var coords = g.Coordinates(ScalarType.Float64);
        using var chunked = RegionEnergy.Compute(net, coords, soft, chunkPixels: 13);
        Assert.True((chunked[0] - slow).abs().max().ToDouble() < 1e-12 * slow.abs().max().ToDouble());
    }

    [Fact]
    public void Selectivity_is_the_ratio_of_per_pixel_densities()
    {
        var e = new RegionEnergies(new[] { 4.0, 1.0, 0.0, 2.0 }, new[] { 2.0, 0.0, 0.0, 8.0 }, insidePixels: 10, outsidePixels: 40);
        Assert.Equal((4.0 / 10) / (2.0 / 40), e.Selectivity(0), 12);
        Assert.Equal(double.PositiveInfinity, e.Selectivity(1));
        Assert.Equal(0, e.Selectivity(2));
        Assert.Equal(1.0, e.Selectivity(3), 12);
    }

    [Fact]
    public void A_mask_of_the_wrong_size_is_refused_with_both_shapes()
    {
        using var net = new CoordinateNetwork(SynapseTopology.Article());
        using var mask = ones(5, 7, dtype: ScalarType.Bool);
        var e = Assert.Throws<ArgumentException>(() => RegionEnergy.Compute(net, PixelGrid.Square(8), mask));
        Assert.Contains("[8, 8]", e.Message);
        Assert.Contains("[5, 7]", e.Message);
        Assert.Equal("mask", e.ParamName);
    }

    [Fact]
    public void An_empty_region_a_full_region_and_values_outside_zero_one_are_refused()
    {
        using var net = new CoordinateNetwork(SynapseTopology.Article());
        var g = PixelGrid.Square(8);
        using var empty = zeros(8, 8, dtype: ScalarType.Bool);
        using var full = ones(8, 8, dtype: ScalarType.Bool);
        using var big = full.to(ScalarType.Float32) * 2;
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => RegionEnergy.Compute(net, g, empty)).Message);
        Assert.Contains("whole picture", Assert.Throws<ArgumentException>(() => RegionEnergy.Compute(net, g, full)).Message);
        Assert.Contains("[0, 1]", Assert.Throws<ArgumentException>(() => RegionEnergy.Compute(net, g, big)).Message);
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => EnsembleEditing.MostSelective(net, g, empty)).Message);
    }
}
