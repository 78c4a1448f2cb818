using Interpretability.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Interpretability.Models;

/// <summary>
/// Small seeded models with named, hookable layers, for tests, samples and demonstrations. Every nonlinearity is a
/// module (<c>relu1</c>, …), so it can be captured, patched or given a custom backward rule.
/// </summary>
public static class ReferenceModels
{
    /// <summary>
    /// A multi-layer perceptron: <c>fc1, relu1, fc2, relu2, …, fcN</c>.
    /// </summary>
    /// <param name="inputs">Input features.</param>
    /// <param name="hidden">Width of each hidden layer (may be empty: a linear model).</param>
    /// <param name="outputs">Output features.</param>
    /// <param name="seed">Initialisation seed.</param>
    /// <param name="activation">"relu" (default) or "tanh"; its modules are named <c>relu1</c>… or <c>tanh1</c>….</param>
    /// <returns>A module mapping <c>[batch, inputs]</c> to <c>[batch, outputs]</c>.</returns>
    public static Sequential Mlp(int inputs, IReadOnlyList<int> hidden, int outputs, long seed = 0, string activation = "relu")
    {
        if (inputs < 1) throw new ArgumentOutOfRangeException(nameof(inputs), inputs, "inputs must be at least 1.");
        if (outputs < 1) throw new ArgumentOutOfRangeException(nameof(outputs), outputs, "outputs must be at least 1.");
        ArgumentNullException.ThrowIfNull(hidden);
        if (hidden.Any(h => h < 1)) throw new ArgumentOutOfRangeException(nameof(hidden), "Every hidden width must be at least 1.");
        if (activation is not ("relu" or "tanh")) throw new ArgumentException($"activation must be 'relu' or 'tanh'; got '{activation}'.", nameof(activation));
        var layers = new List<(string, Module<Tensor, Tensor>)>();
        int width = inputs, i = 1;
        foreach (var h in hidden)
        {
            layers.Add(($"fc{i}", Linear(width, h)));
            layers.Add(($"{activation}{i}", activation == "relu" ? ReLU() : Tanh()));
            width = h;
            i++;
        }
        layers.Add(($"fc{i}", Linear(width, outputs)));
        var model = Sequential(layers);
        SeededInit.Apply(model, seed);
        return model;
    }

    /// <summary>
    /// A small CNN: <c>conv1 (3×3) → relu1 → pool1 (2×2 max) → conv2 (3×3) → relu2 → pool2 → conv3 (3×3) → relu3 → gap
    /// (global average) → flatten → fc</c>.
    /// </summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="classes">Output logits.</param>
    /// <param name="width">Channels of conv1; conv2 and conv3 have 2× and 4× as many.</param>
    /// <param name="seed">Initialisation seed.</param>
    /// <returns>A module mapping <c>[batch, inChannels, H, W]</c> (H, W ≥ 4) to <c>[batch, classes]</c>.</returns>
    public static Sequential SmallCnn(int inChannels = 3, int classes = 10, int width = 8, long seed = 0)
    {
        if (inChannels < 1) throw new ArgumentOutOfRangeException(nameof(inChannels), inChannels, "inChannels must be at least 1.");
        if (classes < 1) throw new ArgumentOutOfRangeException(nameof(classes), classes, "classes must be at least 1.");
        if (width < 1) throw new ArgumentOutOfRangeException(nameof(width), width, "width must be at least 1.");
        var model = Sequential(
            ("conv1", Conv2d(inChannels, width, 3, padding: 1)),
            ("relu1", ReLU()),
            ("pool1", MaxPool2d(2)),
            ("conv2", Conv2d(width, 2 * width, 3, padding: 1)),
            ("relu2", ReLU()),
            ("pool2", MaxPool2d(2)),
            ("conv3", Conv2d(2 * width, 4 * width, 3, padding: 1)),
            ("relu3", ReLU()),
            ("gap", AdaptiveAvgPool2d(1)),
            ("flatten", Flatten()),
            ("fc", Linear(4 * width, classes)));
        SeededInit.Apply(model, seed);
        return model;
    }
}
