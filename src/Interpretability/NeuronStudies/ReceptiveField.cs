using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Interpretability.NeuronStudies;

/// <summary>
/// Receptive field of a layer's units in input pixels: side <see cref="Size"/>, step <see cref="Jump"/> between
/// neighbouring units, and the input coordinate <see cref="Start"/> of the centre of unit 0 (pixel centres are integers).
/// Unit <c>p</c> along an axis is centred at <c>Start + p · Jump</c>.
/// </summary>
/// <param name="Size">Receptive field side in pixels.</param>
/// <param name="Jump">Input pixels between neighbouring units.</param>
/// <param name="Start">Input coordinate of unit 0's centre.</param>
public sealed record ReceptiveField(int Size, int Jump, double Start)
{
    /// <summary>Input coordinate of the centre of unit <paramref name="position"/> along one axis.</summary>
    /// <param name="position">Unit index along the axis.</param>
    public double Centre(int position) => Start + position * Jump;

    /// <summary>The field after one more layer of kernel <paramref name="kernel"/>, stride and padding (along one axis).</summary>
    /// <param name="kernel">Kernel side (≥ 1).</param>
    /// <param name="stride">Stride (≥ 1).</param>
    /// <param name="padding">Padding on each side (≥ 0).</param>
    /// <param name="dilation">Dilation (≥ 1).</param>
    public ReceptiveField Then(int kernel, int stride = 1, int padding = 0, int dilation = 1)
    {
        if (kernel < 1) throw new ArgumentOutOfRangeException(nameof(kernel), kernel, "kernel must be at least 1.");
        if (stride < 1) throw new ArgumentOutOfRangeException(nameof(stride), stride, "stride must be at least 1.");
        if (padding < 0) throw new ArgumentOutOfRangeException(nameof(padding), padding, "padding must be non-negative.");
        if (dilation < 1) throw new ArgumentOutOfRangeException(nameof(dilation), dilation, "dilation must be at least 1.");
        var k = dilation * (kernel - 1) + 1;
        return new ReceptiveField(Size + (k - 1) * Jump, Jump * stride, Start + ((k - 1) / 2.0 - padding) * Jump);
    }

    /// <summary>The field of the input itself: one pixel.</summary>
    public static ReceptiveField Pixel { get; } = new(1, 1, 0);

    /// <summary>
    /// Receptive field of the output of <paramref name="layer"/> in a model whose direct children run in order
    /// (a Sequential, or a module like ShapesNet that registers its layers in forward order). Conv2d, MaxPool2d and
    /// AvgPool2d change the field; element-wise layers (ReLU, batch norm, dropout) keep it.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="layer">Name of a direct child.</param>
    /// <exception cref="ArgumentException">No such child, or a child before it whose effect on the field is unknown (e.g. a linear layer).</exception>
    public static ReceptiveField Of(nn.Module model, string layer)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(layer);
        var rf = Pixel;
        var names = new List<string>();
        foreach (var (name, child) in model.named_children())
        {
            names.Add(name);
            rf = child switch
            {
                Conv2d c => rf.Then((int)c.weight!.shape[2], First(c.stride, 1), ConvPadding(c), First(c.dilation, 1)),
                MaxPool2d p => rf.Then(First(p.kernel_size, 1), First(p.stride ?? p.kernel_size, 1), First(p.padding, 0), First(p.dilation, 1)),
                AvgPool2d p => rf.Then(First(p.kernel_size, 1), First(p.stride ?? p.kernel_size, 1), First(p.padding, 0)),
                ReLU or LeakyReLU or Tanh or Sigmoid or GELU or BatchNorm2d or Dropout or Dropout2d or Identity => rf,
                _ when name == layer => throw new ArgumentException($"Layer '{layer}' ({child.GetType().Name}) has no receptive field this calculator knows.", nameof(layer)),
                _ => throw new ArgumentException($"Layer '{name}' ({child.GetType().Name}) before '{layer}' has an unknown effect on the receptive field.", nameof(layer)),
            };
            if (name == layer) return rf;
        }
        throw new ArgumentException($"No direct child named '{layer}'. Children: {string.Join(", ", names.Select(n => $"'{n}'"))}.", nameof(layer));
    }

    /// <summary>The first (vertical) entry of a hyper-parameter TorchSharp keeps as <c>long[]</c>, or null where not given.</summary>
    private static int First(long[]? values, int fallback) => values is { Length: > 0 } ? (int)values[0] : fallback;

    /// <summary>A convolution's vertical padding; padding given by name ('same', 'valid') is null in TorchSharp.</summary>
    private static int ConvPadding(Conv2d c) => c.padding is { Length: > 0 } p ? (int)p[0]
        : c.padding_type == Padding.Same ? First(c.dilation, 1) * ((int)c.weight!.shape[2] - 1) / 2
        : 0;
}
