using Interpretability.Imaging;
using Interpretability.NeuronStudies;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Interpretability.Tests.NeuronStudies;

public class CircuitsTests
{
    [Fact]
    public void Nmf_reconstructs_a_planted_rank_3_matrix()
    {
        var gen = new Generator(3);
        using var w = rand(new long[] { 60, 3 }, dtype: ScalarType.Float64, generator: gen);
        using var h = rand(new long[] { 3, 20 }, dtype: ScalarType.Float64, generator: gen);
        using var a = w.matmul(h);
        var (wf, hf, err) = Circuits.Nmf(a, 3, iterations: 3000, seed: 1);
        using (wf)
        using (hf)
        {
            Assert.True(err < 1e-2, $"relative error {err}");
            Assert.True((wf >= 0).all().item<bool>() && (hf >= 0).all().item<bool>());
            Assert.Equal(new long[] { 60, 3 }, wf.shape);
            Assert.Equal(new long[] { 3, 20 }, hf.shape);
        }
        Assert.Throws<ArgumentException>(() => Circuits.Nmf(a - 10, 3));
        Assert.Equal("rank", Assert.Throws<ArgumentOutOfRangeException>(() => Circuits.Nmf(a, 0)).ParamName);
    }

    [Fact]
    public void Activation_times_weight_sums_to_the_pre_activation_minus_bias()
    {
        using var model = Sequential(("c1", Conv2d(3, 4, 3, padding: 1)), ("r1", ReLU()), ("p1", MaxPool2d(2)), ("c2", Conv2d(4, 5, 3, padding: 1)), ("r2", ReLU()));
        using var images = Stimuli.Curves(Stimuli.CurveGrid(Stimuli.Orientations(3), new[] { 6.0 }), new StimulusCanvas(16));
        var examples = new[] { new DatasetExample(0, 0, 3, 4), new DatasetExample(2, 0, 0, 7) };
        var (contrib, total) = Circuits.ActivationTimesWeight(model, "c2", 1, images, examples);
        Assert.Equal(4, contrib.Length);
        using var cap = Interpretability.Probing.ActivationRecorder.Capture(model, images, new[] { "c2" });
        var bias = ((TorchSharp.Modules.Conv2d)model[3]).bias![1].item<float>();
        var expected = (cap["c2"][0, 1, 3, 4].item<float>() + cap["c2"][2, 1, 0, 7].item<float>()) / 2 - bias;
        Assert.Equal(expected, total, 4);
        Assert.Equal("unit", Assert.Throws<ArgumentOutOfRangeException>(() => Circuits.ActivationTimesWeight(model, "c2", 5, images, examples)).ParamName);
        Assert.Equal("convLayer", Assert.Throws<ArgumentException>(() => Circuits.ActivationTimesWeight(model, "r1", 0, images, examples)).ParamName);
        var png = Circuits.Chart(contrib, new double?[] { 1, null, 3, 0.5 }, "circuit");
        Assert.True(png.Length > 1000);
    }
}
