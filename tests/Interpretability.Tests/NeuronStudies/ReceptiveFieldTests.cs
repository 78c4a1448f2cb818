using Interpretability.Models;
using Interpretability.NeuronStudies;
using static TorchSharp.torch.nn;

namespace Interpretability.Tests.NeuronStudies;

public class ReceptiveFieldTests
{
    [Fact]
    public void A_known_stack_matches_the_hand_computed_field()
    {
        // conv 3×3 pad 1 → r 3, j 1, start 0; maxpool 2 → r 4, j 2, start 0.5; conv 5×5 stride 2 pad 0 → r 4+4·2 = 12, j 4,
        // start 0.5 + 2·2 = 4.5; conv 3×3 dilation 2 pad 2 → k_eff 5: r 12 + 4·4 = 28, j 4, start 4.5 + (2 − 2)·4 = 4.5.
        using var model = Sequential(("a", Conv2d(1, 1, 3, padding: 1)), ("ra", ReLU()), ("p", MaxPool2d(2)),
            ("b", Conv2d(1, 1, 5, stride: 2)), ("c", Conv2d(1, 1, 3, padding: 2, dilation: 2)));
        Assert.Equal(new ReceptiveField(3, 1, 0), ReceptiveField.Of(model, "ra"));
        Assert.Equal(new ReceptiveField(4, 2, 0.5), ReceptiveField.Of(model, "p"));
        Assert.Equal(new ReceptiveField(12, 4, 4.5), ReceptiveField.Of(model, "b"));
        Assert.Equal(new ReceptiveField(28, 4, 4.5), ReceptiveField.Of(model, "c"));
        Assert.Equal(4.5 + 3 * 4, ReceptiveField.Of(model, "c").Centre(3));
        Assert.Equal("layer", Assert.Throws<ArgumentException>(() => ReceptiveField.Of(model, "zz")).ParamName);
    }

    [Fact]
    public void Pools_and_named_padding_are_read_from_the_modules_settings()
    {
        // avgpool 3 stride 2 pad 1 → r 3, j 2, start (1 − 1)·1 = 0; maxpool 2 dilation 2 → k_eff 3: r 3 + 2·2 = 7, j 4,
        // start 0 + 1·2 = 2; conv 3×3 'same' (pad 1) → r 7 + 2·4 = 15, j 4, start 2 + 0 = 2; avgpool 2 (stride = kernel) → r 19, j 8, start 4.
        using var model = Sequential(("a", AvgPool2d(3, stride: 2, padding: 1)), ("m", MaxPool2d(2, dilation: 2)),
            ("c", Conv2d(1, 1, 3, padding: TorchSharp.Padding.Same)), ("q", AvgPool2d(2)));
        Assert.Equal(new ReceptiveField(3, 2, 0), ReceptiveField.Of(model, "a"));
        Assert.Equal(new ReceptiveField(7, 4, 2), ReceptiveField.Of(model, "m"));
        Assert.Equal(new ReceptiveField(15, 4, 2), ReceptiveField.Of(model, "c"));
        Assert.Equal(new ReceptiveField(19, 8, 4), ReceptiveField.Of(model, "q"));
    }

    [Fact]
    public void ShapesNet_fields_agree_with_the_published_table()
    {
        using var net = new ShapesNet();
        foreach (var (layer, (size, jump)) in ShapesNet.ReceptiveFields)
        {
            var rf = ReceptiveField.Of(net, layer);
            Assert.Equal((size, jump), (rf.Size, rf.Jump));
        }
    }
}
