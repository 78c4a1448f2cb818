using Interpretability.Imaging;
using Interpretability.NeuronStudies;

namespace Interpretability.Tests.NeuronStudies;

public class SyntheticTuningTests
{
    private static double Deg(double rad) => rad * 180 / Math.PI;

    [Fact]
    public void A_hand_built_arc_template_unit_prefers_its_orientation_and_radius()
    {
        var templates = new[] { new CurveSpec(Math.PI / 3, 8, 2, 20.0 / 8), new CurveSpec(4.0, 12, 2, 20.0 / 12) };
        using var model = HandBuiltUnits.ArcDetectors(templates);
        var radii = new[] { 4.0, 6, 8, 10, 12, 16, 20 };
        var tuning = SyntheticTuning.Curves(model, "relu", Stimuli.Orientations(72), radii, 2, 20);
        Assert.Equal(2, tuning.Channels);
        for (int c = 0; c < 2; c++)
        {
            var (pref, sel) = tuning.PreferredOrientation(c);
            Assert.True(Deg(CircularStats.Distance(pref, templates[c].Orientation)) < 5, $"unit {c}: preferred {Deg(pref):F1}° vs {Deg(templates[c].Orientation):F1}°");
            Assert.Equal(templates[c].Radius, tuning.PreferredRadius(c));
            Assert.True(sel > 0.3, $"selectivity {sel}");
        }
        // Heatmap and curves have the grid's shape.
        Assert.Equal(72, tuning.Heatmap(0).GetLength(0));
        Assert.Equal(7, tuning.Heatmap(0).GetLength(1));
        Assert.Equal(7, tuning.RadiusCurve(1).Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => tuning.Heatmap(2));
    }

    [Fact]
    public void Line_angle_and_circle_tuning_have_one_row_per_channel()
    {
        using var model = HandBuiltUnits.ArcDetectors(new[] { new CurveSpec(Math.PI / 2, 8, 2, 2.5) });
        var lines = SyntheticTuning.Lines(model, "relu", Stimuli.Orientations(12, halfTurn: true));
        Assert.Equal(1, lines.GetLength(0));
        Assert.Equal(12, lines.GetLength(1));
        var angles = SyntheticTuning.Angles(model, "relu", Stimuli.Orientations(8), new[] { Math.PI / 2, 3 * Math.PI / 4 });
        Assert.Equal(16, angles.GetLength(1));
        // The best angle is the one whose bisector matches the curve's orientation (index 2 = 90°).
        int best = 0;
        for (int j = 1; j < 16; j++) if (angles[0, j] > angles[0, best]) best = j;
        Assert.Equal(2, best / 2);
        var circles = SyntheticTuning.Circles(model, "relu", new[] { 4.0, 8, 16 });
        Assert.Equal(3, circles.GetLength(1));
    }

    [Fact]
    public void Circular_mean_of_a_peaked_curve_and_bad_input()
    {
        var th = Stimuli.Orientations(36);
        var peaked = th.Select(t => Math.Exp(2 * Math.Cos(t - 5.5))).ToArray();
        var (pref, sel) = CircularStats.Mean(th, peaked);
        Assert.Equal(5.5, pref, 6);
        Assert.InRange(sel, 0.5, 0.9);
        var (_, flat) = CircularStats.Mean(th, th.Select(_ => 1.0).ToArray());
        Assert.True(flat < 1e-9);
        Assert.Equal(Math.PI, CircularStats.Distance(0.1, Math.PI + 0.1), 9);
        using var model = HandBuiltUnits.ArcDetectors(new[] { new CurveSpec(0, 8) });
        Assert.Equal("layer", Assert.Throws<ArgumentException>(() => SyntheticTuning.Curves(model, "nope", th, new[] { 4.0 })).ParamName);
        Assert.Equal("radii", Assert.Throws<ArgumentException>(() => SyntheticTuning.Curves(model, "relu", th, Array.Empty<double>())).ParamName);
    }
}
