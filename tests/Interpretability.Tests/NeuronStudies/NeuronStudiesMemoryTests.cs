using Interpretability.Imaging;
using Interpretability.NeuronStudies;
using Interpretability.Tests.Infrastructure;
using static TorchSharp.torch;

namespace Interpretability.Tests.NeuronStudies;

[Collection(RunsAloneCollection.Name)]
public class NeuronStudiesMemoryTests
{
    [Fact]
    public void Stimuli_tuning_statistics_extraction_and_nmf_do_not_leak()
    {
        using var model = HandBuiltUnits.ArcDetectors(new[] { new CurveSpec(0, 6), new CurveSpec(2, 6) });
        var canvas = new StimulusCanvas(24);
        using var images = Stimuli.Curves(Stimuli.CurveGrid(Stimuli.Orientations(4), new[] { 4.0, 8 }), canvas);
        using var a = rand(30, 6);
        var field = ReceptiveField.Of(model, "relu");
        var family = new CurveFamily("relu", new[] { new CurveUnit("relu", 0, 0, 6, 0.9, 2, 0, 1), new CurveUnit("relu", 1, 2, 6, 0.9, 3, 0, 1) }, 1, Array.Empty<double>());
        var (rss, tensors) = MemoryProbe.Measure(() =>
        {
            using var lines = Stimuli.Lines(new[] { new LineSpec(0.3, 10) }, canvas);
            using var angles = Stimuli.Angles(new[] { new AngleSpec(0.3, 1, 5) }, canvas);
            using var circles = Stimuli.Circles(new[] { new CircleSpec(5) }, canvas);
            SyntheticTuning.Curves(model, "relu", Stimuli.Orientations(4), new[] { 4.0, 8 }, canvas: canvas);
            using var values = ActivationStatistics.Values(model, "conv", images, SpatialSelection.Max);
            var top = TopExamples.Find(model, "relu", images, k: 2);
            using var crops = TopExamples.Crops(images, top[0], field);
            using var rotated = CurveFamilies.Rotate(images.narrow(0, 0, 1), new[] { 0.0, 1.0 }, 12, 12);
            using (var idx = tensor(top[1].Select(e => (long)e.Index).ToArray()))
            using (var x = images.index_select(0, idx))
            using (var positions = tensor(top[1].SelectMany(e => new long[] { e.Row, e.Col }).ToArray(), new long[] { top[1].Count, 2 }))
            using (Interpretability.Attribution.Circuits.Attribute(model, x, null, "conv", positions, ScalarType.Float64)) { }
            var (strength, orientation) = CurveExtraction.Maps(model, family, images);
            using (strength)
            using (orientation)
            using (CurveExtraction.Draw(images[0], strength[0], orientation[0], 1)) { }
            var (w, h, _) = Nmf.Factorize(a, 2, iterations: 5);
            w.Dispose();
            h.Dispose();
        }, repeats: 20, warmup: 10);
        Assert.Equal(0, tensors);
        Assert.True(rss < MemoryProbe.LeakThresholdBytes, $"native memory in use grew by {rss / 1024} KiB per 20 repetitions (the leak of a tensor shows in the live count).");
    }
}
