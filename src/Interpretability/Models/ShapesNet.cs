using Interpretability.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Interpretability.Models;

/// <summary>
/// A small CNN for <see cref="ShapesDataset"/>, built to be looked into: every layer is a named submodule called through
/// <c>call()</c>, so each can be captured, patched or given a custom backward rule.
/// <code>
/// layer   output          receptive field (px)  jump (px)
/// conv1   [N,16,64,64]     5                    1      (5×5, pad 2)
/// pool1   [N,16,32,32]     6                    2
/// conv2   [N,32,32,32]    10                    2      (3×3, pad 1)
/// pool2   [N,32,16,16]    12                    4
/// conv3   [N,64,16,16]    20                    4      (3×3, pad 1)
/// pool3   [N,64, 8, 8]    24                    8
/// conv4   [N,64, 8, 8]    40                    8      (3×3, pad 1)
/// gap     [N,64, 1, 1]    whole image
/// fc      [N,11]
/// </code>
/// <c>reluK</c> follows <c>convK</c> (hook <c>reluK</c> for post-ReLU activations, <c>convK</c> for pre-ReLU).
/// </summary>
public sealed class ShapesNet : Module<Tensor, Tensor>
{
    // Declared in forward order: RegisterComponents names the submodules in field order.
    private readonly Conv2d conv1;
    private readonly ReLU relu1;
    private readonly MaxPool2d pool1;
    private readonly Conv2d conv2;
    private readonly ReLU relu2;
    private readonly MaxPool2d pool2;
    private readonly Conv2d conv3;
    private readonly ReLU relu3;
    private readonly MaxPool2d pool3;
    private readonly Conv2d conv4;
    private readonly ReLU relu4;
    private readonly AdaptiveAvgPool2d gap;
    private readonly Linear fc;

    /// <summary>Receptive field side in pixels of each named layer's units (for crops of dataset examples).</summary>
    public static IReadOnlyDictionary<string, (int Size, int Jump)> ReceptiveFields { get; } = new Dictionary<string, (int, int)>
    {
        ["conv1"] = (5, 1), ["relu1"] = (5, 1), ["pool1"] = (6, 2),
        ["conv2"] = (10, 2), ["relu2"] = (10, 2), ["pool2"] = (12, 4),
        ["conv3"] = (20, 4), ["relu3"] = (20, 4), ["pool3"] = (24, 8),
        ["conv4"] = (40, 8), ["relu4"] = (40, 8),
    };

    /// <summary>Creates an untrained ShapesNet with seeded initialisation.</summary>
    /// <param name="seed">Initialisation seed.</param>
    /// <param name="classes">Output classes (11 for <see cref="ShapesDataset"/>).</param>
    public ShapesNet(long seed = 0, int classes = 11) : base(nameof(ShapesNet))
    {
        if (classes < 1) throw new ArgumentOutOfRangeException(nameof(classes), classes, "classes must be at least 1.");
        conv1 = Conv2d(3, 16, 5, padding: 2);
        relu1 = ReLU();
        pool1 = MaxPool2d(2);
        conv2 = Conv2d(16, 32, 3, padding: 1);
        relu2 = ReLU();
        pool2 = MaxPool2d(2);
        conv3 = Conv2d(32, 64, 3, padding: 1);
        relu3 = ReLU();
        pool3 = MaxPool2d(2);
        conv4 = Conv2d(64, 64, 3, padding: 1);
        relu4 = ReLU();
        gap = AdaptiveAvgPool2d(1);
        fc = Linear(64, classes);
        RegisterComponents();
        SeededInit.Apply(this, seed);
    }

    private static readonly Scalar Half = 0.5.ToScalar(), Four = 4.0.ToScalar();

    /// <summary>The input centring <c>(x − 0.5) · 4</c>, with long-lived scalars (every forward pass runs it; see <c>Scalars</c>).</summary>
    private static Tensor Centre(Tensor x) => (x - Half) * Four;

    /// <summary>
    /// Logits <c>[N, classes]</c> of images <c>[N, 3, H, W]</c> in [0, 1] (trained at H = W = 64; H, W ≥ 8).
    /// </summary>
    /// <param name="input">Images <c>[N, 3, H, W]</c> in [0, 1], in the parameters' dtype (float32 unless converted)
    /// and on their device.</param>
    public override Tensor forward(Tensor input)
    {
        if (input.dim() != 4 || input.shape[1] != 3 || input.shape[2] < 8 || input.shape[3] < 8)
            throw new ArgumentException($"input must be images [batch, 3, height ≥ 8, width ≥ 8]; got [{string.Join(", ", input.shape)}].", nameof(input));
        // Centre the [0, 1] pixels (part of the model, so callers and attribution baselines work in image space).
        var x = pool1.call(relu1.call(conv1.call(Centre(input))));
        x = pool2.call(relu2.call(conv2.call(x)));
        x = pool3.call(relu3.call(conv3.call(x)));
        x = relu4.call(conv4.call(x));
        return fc.call(gap.call(x).flatten(1));
    }

    /// <summary>
    /// This network as a chain of local stages (the input centring, conv1 … relu4) and a head (gap, fc), for
    /// incremental occlusion (<see cref="Attribution.Occlusion(SpatialChain)"/>). Its forward equals
    /// <see cref="forward"/>; the stages use this module's parameters (no copies), so later changes to the weights show.
    /// </summary>
    public SpatialChain AsSpatialChain()
    {
        var stages = new List<SpatialStage> { SpatialStage.Pointwise("input", Centre) };
        foreach (var (name, module) in new (string, Module)[]
                 {
                     ("conv1", conv1), ("relu1", relu1), ("pool1", pool1), ("conv2", conv2), ("relu2", relu2), ("pool2", pool2),
                     ("conv3", conv3), ("relu3", relu3), ("pool3", pool3), ("conv4", conv4), ("relu4", relu4),
                 })
            stages.Add(SpatialStage.FromModule(name, module) ?? throw new InvalidOperationException($"{name} is not a local stage."));
        return new SpatialChain(stages, x => fc.call(gap.call(x).flatten(1)));
    }
}
