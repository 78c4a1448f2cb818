using Interpretability.Imaging;
using Interpretability.NeuronStudies;
using static TorchSharp.torch;

namespace Interpretability.Tests.NeuronStudies;

public class CurveExtractionTests
{
    [Fact]
    public void Orientation_and_strength_maps_point_at_the_drawn_curve()
    {
        // Four arc templates at 0°, 90°, 180°, 270°; each unit's scale is its response to its own template at the centre.
        var orient = new[] { 0.0, Math.PI / 2, Math.PI, 3 * Math.PI / 2 };
        var templates = orient.Select(t => new CurveSpec(t, 8, 2, 2.5)).ToArray();
        using var model = HandBuiltUnits.ArcDetectors(templates);
        using var probe = Stimuli.Curves(templates);
        using var centre = ActivationStatistics.Values(model, "relu", probe, SpatialSelection.Centre);   // [4, 4]
        var units = orient.Select((t, i) => new CurveUnit("relu", i, t, 8, 0.9, centre[i, i].item<float>(), 0, 1)).ToList();
        var family = new CurveFamily("relu", units, 1, Array.Empty<double>());
        foreach (var (t, i) in orient.Select((t, i) => (t, i)))
        {
            using var img = Stimuli.Curves(new[] { new CurveSpec(t, 8, 2, 2.5) }, new StimulusCanvas(64, 24, 40));
            var (strength, ori) = CurveExtraction.Maps(model, family, img);
            using (strength)
            using (ori)
            {
                Assert.Equal(new long[] { 1, 64, 64 }, strength.shape);
                // Normalised: the matching unit at the curve's midpoint gives 1 (its best synthetic response).
                Assert.Equal(1.0, strength[0, 40, 24].item<float>(), 3);
                Assert.Equal(40 * 64 + 24, strength[0].argmax().item<long>());
                Assert.True(CircularStats.Distance(ori[0, 40, 24].item<float>(), t) < 0.2, $"orientation {ori[0, 40, 24].item<float>()} vs {t}");
                using var drawn = CurveExtraction.Draw(img[0], strength[0], ori[0], 1);
                Assert.Equal(new long[] { 3, 64, 64 }, drawn.shape);
                // Far from the curve nothing fires: the drawing is the greyed image (background 0 → 0.2).
                Assert.Equal(0.2f, drawn[0, 2, 62].item<float>(), 4);
            }
        }
        Assert.Throws<ArgumentException>(() => CurveExtraction.Maps(model, family with { Units = Array.Empty<CurveUnit>() }, probe));
    }
}
