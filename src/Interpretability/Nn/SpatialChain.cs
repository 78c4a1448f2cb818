using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Interpretability.Nn;

/// <summary>
/// One stage of a <see cref="SpatialChain"/>: a map of <c>[N, C, H, W]</c> to <c>[N, C', H', W']</c> where every output
/// pixel depends only on a <c>KernelHeight × KernelWidth</c> window of the zero- (or <see cref="PadValue"/>-) padded
/// input, placed with the stage's stride: a convolution, a pooling layer, or an element-wise map (kernel 1, stride 1,
/// no padding). This locality is what lets occlusion (<c>Interpretability.Attribution.Occlusion</c>) recompute only the part of each layer that an occluding
/// window can reach.
/// </summary>
/// <param name="Name">The stage's name (the layer's, for error messages).</param>
/// <param name="KernelHeight">Rows of input each output pixel reads (dilation included: <c>d·(k − 1) + 1</c>).</param>
/// <param name="KernelWidth">Columns of input each output pixel reads.</param>
/// <param name="StrideY">Vertical stride.</param>
/// <param name="StrideX">Horizontal stride.</param>
/// <param name="PadY">Rows of padding added above and below.</param>
/// <param name="PadX">Columns of padding added left and right.</param>
/// <param name="PadValue">The padding value (0 for convolutions and average pooling, −∞ for max pooling).</param>
/// <param name="Valid">The stage without padding ("valid" mode): <c>[N, C, h, w]</c> → <c>[N, C', (h − KernelHeight) / StrideY + 1, …]</c>.</param>
public sealed record SpatialStage(string Name, int KernelHeight, int KernelWidth, int StrideY, int StrideX, int PadY, int PadX, double PadValue,
    Func<Tensor, Tensor> Valid)
{
    /// <summary>True for an element-wise stage (kernel 1, stride 1, no padding).</summary>
    public bool IsPointwise => KernelHeight == 1 && KernelWidth == 1 && StrideY == 1 && StrideX == 1 && PadY == 0 && PadX == 0;

    /// <summary>An element-wise stage (ReLU, batch norm in eval mode, an affine rescaling of the input, …).</summary>
    /// <param name="name">Stage name.</param>
    /// <param name="map">The element-wise map, <c>[N, C, H, W]</c> to the same shape; it must not mix pixels.</param>
    public static SpatialStage Pointwise(string name, Func<Tensor, Tensor> map) => new(name, 1, 1, 1, 1, 0, 0, 0, map);

    /// <summary>
    /// The stage of a layer module, or null when the module is not one this class knows to be local: <c>Conv2d</c> (zero
    /// padding), <c>MaxPool2d</c> (no ceil mode), <c>AvgPool2d</c> (no padding, no ceil mode), and the element-wise
    /// <c>ReLU</c>, <c>LeakyReLU</c>, <c>Tanh</c>, <c>Sigmoid</c>, <c>GELU</c>, <c>SiLU</c>, <c>ELU</c>, <c>Identity</c>,
    /// <c>Dropout</c>/<c>Dropout2d</c> and <c>BatchNorm2d</c> (the last three only in eval mode, where they act per pixel).
    /// </summary>
    /// <param name="name">Stage name.</param>
    /// <param name="module">The layer.</param>
    public static SpatialStage? FromModule(string name, nn.Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        switch (module)
        {
            case Conv2d c:
            {
                if (c.padding_mode != PaddingModes.Zeros) return null;
                var pad = Pair(c.padding, -1);
                if (pad.Y < 0) return null;                                           // 'same'/'valid' given by name: not handled
                var stride = Pair(c.stride, 1);
                var dilation = Pair(c.dilation, 1);
                var groups = c.groups;
                long kh = c.weight!.shape[2], kw = c.weight.shape[3];
                var weight = c.weight;
                var bias = c.bias;
                return new SpatialStage(name, (int)(dilation.Y * (kh - 1) + 1), (int)(dilation.X * (kw - 1) + 1), stride.Y, stride.X, pad.Y, pad.X, 0,
                    x => F.conv2d(x, weight, bias, new long[] { stride.Y, stride.X }, new long[] { 0, 0 }, new long[] { dilation.Y, dilation.X }, groups));
            }
            case MaxPool2d p:
            {
                if (p.ceil_mode) return null;
                var k = Pair(p.kernel_size, 1);
                var stride = Pair(p.stride ?? p.kernel_size, 1);
                var pad = Pair(p.padding, 0);
                var dilation = Pair(p.dilation, 1);
                if (dilation.Y != 1 || dilation.X != 1) return null;
                return new SpatialStage(name, k.Y, k.X, stride.Y, stride.X, pad.Y, pad.X, double.NegativeInfinity,
                    x => F.max_pool2d(x, new long[] { k.Y, k.X }, new long[] { stride.Y, stride.X }));
            }
            case AvgPool2d a:
            {
                var k = Pair(a.kernel_size, 1);
                var stride = Pair(a.stride ?? a.kernel_size, 1);
                var pad = Pair(a.padding, 0);
                if (pad.Y != 0 || pad.X != 0 || a.ceil_mode) return null;
                return new SpatialStage(name, k.Y, k.X, stride.Y, stride.X, 0, 0, 0,
                    x => F.avg_pool2d(x, new long[] { k.Y, k.X }, new long[] { stride.Y, stride.X }));
            }
            case ReLU or LeakyReLU or Tanh or Sigmoid or GELU or SiLU or ELU or Identity:
                return Pointwise(name, ((nn.Module<Tensor, Tensor>)module).call);
            case BatchNorm2d or Dropout or Dropout2d when !module.training:
                return Pointwise(name, ((nn.Module<Tensor, Tensor>)module).call);
            default:
                return null;
        }
    }

    /// <summary>Output size of this stage for an input of <paramref name="height"/> × <paramref name="width"/>.</summary>
    public (long Height, long Width) OutputSize(long height, long width) =>
        ((height + 2 * PadY - KernelHeight) / StrideY + 1, (width + 2 * PadX - KernelWidth) / StrideX + 1);

    /// <summary>The stage on a whole activation: pad with <see cref="PadValue"/>, then <see cref="Valid"/>.</summary>
    /// <param name="input"><c>[N, C, H, W]</c>.</param>
    /// <returns><c>[N, C', H', W']</c> with <c>(H', W')</c> = <see cref="OutputSize"/>(H, W).</returns>
    public Tensor Apply(Tensor input) => Valid(Padded(input));

    /// <summary>The input padded with <see cref="PadValue"/>: <c>[N, C, H + 2·PadY, W + 2·PadX]</c>.</summary>
    internal Tensor Padded(Tensor input) =>
        PadY == 0 && PadX == 0 ? input : F.pad(input, new long[] { PadX, PadX, PadY, PadY }, PaddingModes.Constant, PadValue);

    // TorchSharp keeps these hyper-parameters as long[] ([y, x], or one value for both), or null where not given
    // (AvgPool2d's stride and padding; a Conv2d's padding given by name, 'same' or 'valid').
    private static (int Y, int X) Pair(long[]? value, int fallback) => value switch
    {
        null or { Length: 0 } => (fallback, fallback),
        { Length: 1 } => ((int)value[0], (int)value[0]),
        _ => ((int)value[0], (int)value[1]),
    };
}

/// <summary>
/// A classifier written as a chain of local stages followed by a head: <c>Head(Sₙ(…S₁(x)))</c>, where every stage
/// <see cref="SpatialStage"/> computes each output pixel from a window of its input. Any image model of that form (a
/// VGG-like <c>Sequential</c>, ShapesNet) can be given as one; occlusion (<c>Interpretability.Attribution.Occlusion</c>) then recomputes, for every
/// occluding window, only the part of each layer the window can change (incremental inference; Nakandala et al. 2019,
/// "Incremental and Approximate Inference for Faster Occlusion-based Deep CNN Explanations") with results equal to a
/// full forward pass.
/// </summary>
public sealed class SpatialChain
{
    /// <summary>Creates a chain.</summary>
    /// <param name="stages">The local stages in forward order (at least one).</param>
    /// <param name="head">What follows the last stage: <c>[N, C, H, W]</c> → <c>[N, classes]</c> (global pooling, linear layers).</param>
    public SpatialChain(IReadOnlyList<SpatialStage> stages, Func<Tensor, Tensor> head)
    {
        ArgumentNullException.ThrowIfNull(stages);
        ArgumentNullException.ThrowIfNull(head);
        if (stages.Count == 0) throw new ArgumentException("stages must hold at least one stage.", nameof(stages));
        foreach (var s in stages)
        {
            ArgumentNullException.ThrowIfNull(s, nameof(stages));
            if (s.KernelHeight < 1 || s.KernelWidth < 1 || s.StrideY < 1 || s.StrideX < 1 || s.PadY < 0 || s.PadX < 0)
                throw new ArgumentException($"Stage '{s.Name}' has kernel {s.KernelHeight}×{s.KernelWidth}, stride {s.StrideY}×{s.StrideX}, padding {s.PadY}×{s.PadX}: kernels and strides must be ≥ 1, padding ≥ 0.", nameof(stages));
        }
        Stages = stages.ToArray();
        Head = head;
    }

    /// <summary>The local stages in forward order.</summary>
    public IReadOnlyList<SpatialStage> Stages { get; }

    /// <summary>The head: last stage's output <c>[N, C, H, W]</c> → <c>[N, classes]</c>.</summary>
    public Func<Tensor, Tensor> Head { get; }

    /// <summary>The whole model: <c>[N, C, H, W]</c> → <c>[N, classes]</c>.</summary>
    /// <param name="input">Images <c>[N, C, H, W]</c>, of the dtype and on the device of the stages' parameters.</param>
    /// <returns>The head's output, e.g. logits <c>[N, classes]</c>.</returns>
    public Tensor Forward(Tensor input)
    {
        var x = input;
        foreach (var s in Stages) x = s.Apply(x);
        return Head(x);
    }

    /// <summary>
    /// The chain of a <c>Sequential</c>: its leading children that <see cref="SpatialStage.FromModule"/> knows become
    /// stages, the rest (from the first child it does not know, e.g. <c>AdaptiveAvgPool2d</c>, <c>Flatten</c>,
    /// <c>Linear</c>) the head. The model should be in eval mode.
    /// </summary>
    /// <param name="model">A <c>Sequential</c> image classifier.</param>
    /// <exception cref="ArgumentException">The first child is not a local stage.</exception>
    public static SpatialChain FromSequential(Sequential model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var stages = new List<SpatialStage>();
        var head = new List<nn.Module<Tensor, Tensor>>();
        foreach (var (name, child) in model.named_children())
        {
            var stage = head.Count == 0 ? SpatialStage.FromModule(name, child) : null;
            if (stage is not null) stages.Add(stage);
            else if (child is nn.Module<Tensor, Tensor> m) head.Add(m);
            else throw new ArgumentException($"Child '{name}' ({child.GetType().Name}) is not a Tensor → Tensor module.", nameof(model));
        }
        if (stages.Count == 0)
            throw new ArgumentException("The model's first child is not a convolution, pooling or element-wise layer, so it has no spatial chain.", nameof(model));
        return new SpatialChain(stages, x =>
        {
            foreach (var m in head) x = m.call(x);
            return x;
        });
    }
}
