using Interpretability.Ensembles;
using Interpretability.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Tests.Ensembles;

public class PropertyTests
{
    /// <summary>Outputs that are green inside a rotated ellipse and blue outside (colours in (−1, 1)).</summary>
    private static (Tensor Outputs, Tensor Coords) Ellipse(PixelGrid g, double cx, double cy, double a, double b, double degreesCcw)
    {
        var coords = g.Coordinates(ScalarType.Float64);
        var x = coords.select(1, 0) - cx;
        var yUp = -coords.select(1, 1) - (-cy);                                           // y up, centre at (cx, cy) in screen coordinates
        var t = degreesCcw * Math.PI / 180;
        var u = x * Math.Cos(t) + yUp * Math.Sin(t);
        var v = -x * Math.Sin(t) + yUp * Math.Cos(t);
        var inside = ((u / a).pow(2) + (v / b).pow(2)) < 1;
        var green = stack(new[] { full_like(x, -1.0), full_like(x, 1.0), full_like(x, -1.0) }, 1);
        var blue = stack(new[] { full_like(x, -1.0), full_like(x, -1.0), full_like(x, 1.0) }, 1);
        return (where(inside.unsqueeze(1), green, blue), coords);
    }

    [Theory]
    [InlineData(30.0)]
    [InlineData(-20.0)]
    [InlineData(75.0)]
    public void Mask_moments_recover_a_known_ellipse(double angle)
    {
        var g = PixelGrid.Square(200);
        var (o, c) = Ellipse(g, 0.1, -0.2, 0.6, 0.2, angle);
        // κ = 10 and colours ±1: inside m = σ(20) ≈ 1, outside σ(−20) ≈ 0.
        Assert.Equal(angle, new MaskProperty(MaskMoment.Orientation).Evaluate(o, c).ToDouble(), 0);
        Assert.Equal(0.1, new MaskProperty(MaskMoment.CentroidX).Evaluate(o, c).ToDouble(), 2);
        Assert.Equal(-0.2, new MaskProperty(MaskMoment.CentroidY).Evaluate(o, c).ToDouble(), 2);
        Assert.Equal(Math.PI * 0.6 * 0.2 / 4, new MaskProperty(MaskMoment.Area).Evaluate(o, c).ToDouble(), 2);   // fraction of the 2×2 square
        Assert.Equal(2 * 0.2, new MaskProperty(MaskMoment.Width).Evaluate(o, c).ToDouble(), 2);                   // full minor axis
    }

    [Fact]
    public void Mean_channel_and_colour_balance_are_the_plain_averages()
    {
        using var o = tensor(new[] { 0.2, 0.6, -0.4, -1.0, 0.0, 0.5 }, dtype: float64).reshape(2, 3);
        using var c = zeros(2, 2, dtype: float64);
        Assert.Equal(0.3, new MeanChannel(1).Evaluate(o, c).ToDouble(), 12);
        Assert.Equal(((0.6 - (0.2 - 0.4) / 2) + (0.0 - (-1.0 + 0.5) / 2)) / 2, new ColourBalance(1).Evaluate(o, c).ToDouble(), 12);
        using var region = tensor(new[] { 1.0, 0.0 }, dtype: float64);
        Assert.Equal(0.6, new MeanChannel(1, region).Evaluate(o, c).ToDouble(), 12);
    }

    [Theory]
    [InlineData(MaskMoment.Orientation)]
    [InlineData(MaskMoment.CentroidX)]
    [InlineData(MaskMoment.Area)]
    [InlineData(MaskMoment.Width)]
    public void A_small_step_along_the_gradient_changes_the_property_by_alpha_times_its_norm(MaskMoment moment)
    {
        // The brief's first-order check: α = 1e-3, within 5%.
        using var net = new CoordinateNetwork(SynapseTopology.Article(), seed: 12);
        var check = PropertyGradient.Check(net, PixelGrid.Square(16), new MaskProperty(moment));
        Assert.True(check.Predicted > 0);
        Assert.True(check.RelativeError < 0.05, $"{moment}: predicted {check.Predicted}, actual {check.Actual}");
    }

    [Fact]
    public void The_property_gradient_equals_finite_differences_of_the_property()
    {
        using var net = new CoordinateNetwork(PlainNetwork.SmallDag(3), seed: 4, dtype: ScalarType.Float64);
        var g = PixelGrid.Square(9);
        var property = new MeanChannel(1);
        var grad = PropertyGradient.Compute(net, g, property);
        foreach (var s in new[] { 0, 5, 17, 29 })
        {
            double plus, minus;
            using (net.Perturb(s, 1e-6)) plus = PropertyGradient.Value(net, g, property);
            using (net.Perturb(s, -1e-6)) minus = PropertyGradient.Value(net, g, property);
            Assert.Equal((plus - minus) / 2e-6, grad.Gradient[s], 7);
        }
    }

    [Fact]
    public void Restricting_a_direction_zeroes_the_rest_and_renormalises()
    {
        var d = PropertyGradient.Restrict(new[] { 3.0, -4.0, 12.0, 1.0 }, new[] { 0, 1 });
        Assert.Equal(new[] { 0.6, -0.8, 0.0, 0.0 }, d);
    }
}
