using Interpretability.Imaging;
using Interpretability.NeuronStudies;
using static TorchSharp.torch;

namespace Interpretability.Tests.NeuronStudies;

public class TopExamplesTests
{
    [Fact]
    public void The_matching_curve_ranks_first_and_its_crop_is_centred_on_it()
    {
        using var model = HandBuiltUnits.ArcDetectors(new[] { new CurveSpec(Math.PI / 2, 8, 2, 2.5) });
        // Image 2 holds the matching curve, drawn off-centre at (x 20, y 40); the others hold lines and a wrong curve.
        var canvas = new StimulusCanvas(64, 20, 40);
        using var a = Stimuli.Lines(new[] { new LineSpec(0, 20) });
        using var b = Stimuli.Curves(new[] { new CurveSpec(3 * Math.PI / 2, 8, 2, 2.5) });
        using var c = Stimuli.Curves(new[] { new CurveSpec(Math.PI / 2, 8, 2, 2.5) }, canvas);
        using var imgs = cat(new[] { a, b, c }, 0);
        var top = TopExamples.Find(model, "relu", imgs, k: 2);
        Assert.Single(top);
        Assert.Equal(2, top[0].Count);
        Assert.Equal(2, top[0][0].Index);
        Assert.Equal((40, 20), (top[0][0].Row, top[0][0].Col));
        var rf = ReceptiveField.Of(model, "relu");
        Assert.Equal(25, rf.Size);
        using var crops = TopExamples.Crops(imgs, top[0], rf);
        Assert.Equal(new long[] { 2, 3, 25, 25 }, crops.shape);
        using var expected = Stimuli.Curves(new[] { new CurveSpec(Math.PI / 2, 8, 2, 2.5) }, new StimulusCanvas(25));
        Assert.True(crops[0].allclose(expected[0], 1e-5, 1e-5));
        Assert.Throws<ArgumentOutOfRangeException>(() => TopExamples.Find(model, "relu", imgs, new[] { 1 }));
    }
}
