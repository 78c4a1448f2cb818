using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Probing;

/// <summary>One layer as a forward pass ran it.</summary>
/// <param name="Path">Its <c>named_modules()</c> path.</param>
/// <param name="Type">Its module type, e.g. <c>Conv2d</c> or <c>ReLU</c>.</param>
/// <param name="OutputShape">The shape of its output for the surveyed input (the batch dimension included).</param>
/// <param name="IsLeaf">Whether it has no child modules.</param>
/// <param name="IsActivation">Whether the module is an elementwise activation (ReLU, Tanh, GELU, …; see <see cref="ModuleKinds.IsElementwiseActivation"/>).</param>
/// <param name="Calls">How many times the forward pass called the module (more than 1 for one ReLU reused after every convolution).</param>
public sealed record SurveyedLayer(string Path, string Type, IReadOnlyList<long> OutputShape, bool IsLeaf, bool IsActivation, int Calls = 1)
{
    /// <summary>Whether the output is a stack of feature maps, <c>[batch, channels, height, width]</c>.</summary>
    public bool IsSpatial => OutputShape.Count == 4;

    /// <summary>Channels (the output's second dimension), or 0 for an output with fewer than two dimensions.</summary>
    public long Channels => OutputShape.Count >= 2 ? OutputShape[1] : 0;

}

/// <summary>
/// The layers of a model in the order a forward pass runs them, with their output shapes (what <c>torchinfo</c>'s summary
/// tells a PyTorch user): the basis for choosing layers of a model one has not built, e.g. the last spatial layer for
/// Grad-CAM, or the activation after each convolution for feature visualisation.
/// </summary>
public static class LayerSurvey
{
    /// <summary>Runs <paramref name="model"/> once on <paramref name="example"/> (no gradients) and records every module
    /// that maps one tensor to one tensor, in the order its forward call finished (children before their parent).</summary>
    /// <param name="model">The model.</param>
    /// <param name="example">An input of the model, <c>[batch, ...]</c> (a single example is enough).</param>
    /// <returns>The layers; a module called twice appears twice.</returns>
    public static IReadOnlyList<SurveyedLayer> Run(nn.Module<Tensor, Tensor> model, Tensor example)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(example);
        var layers = new List<SurveyedLayer>();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var hooks = new HookScope(model);
        foreach (var (path, module) in model.named_modules())
        {
            if (module is not nn.Module<Tensor, Tensor>) continue;
            var (p, type, leaf, activation) = (path, module.GetType().Name, !module.named_children().Any(), ModuleKinds.IsElementwiseActivation(module));
            hooks.AddForwardHook(path, (_, output) =>
            {
                layers.Add(new SurveyedLayer(p, type, output.shape.ToArray(), leaf, activation));
                return null;
            });
        }
        model.call(example);
        var calls = layers.GroupBy(l => l.Path).ToDictionary(g => g.Key, g => g.Count());
        return layers.Select(l => l with { Calls = calls[l.Path] }).ToList();
    }

    /// <summary>The convolutions (<c>Conv2d</c>) in run order.</summary>
    public static IReadOnlyList<SurveyedLayer> Convolutions(IReadOnlyList<SurveyedLayer> layers) =>
        layers.Where(l => l.Type == "Conv2d" && l.IsSpatial).ToList();

    /// <summary>
    /// The layer that carries a convolution's rectified output: the first elementwise activation that runs after it with
    /// the same output shape, or the convolution itself when none follows before the next convolution, or when that
    /// activation module is called more than once per forward pass (it has no single output of its own).
    /// </summary>
    public static SurveyedLayer ActivationAfter(IReadOnlyList<SurveyedLayer> layers, SurveyedLayer convolution)
    {
        var start = IndexOf(layers, convolution);
        for (int i = start + 1; i < layers.Count && layers[i].Type != "Conv2d"; i++)
            if (layers[i].IsActivation && layers[i].OutputShape.SequenceEqual(convolution.OutputShape))
                return layers[i].Calls == 1 ? layers[i] : convolution;
        return convolution;
    }

    /// <summary>The leaf layers that run strictly between <paramref name="from"/> and <paramref name="to"/>.</summary>
    public static IReadOnlyList<SurveyedLayer> LeavesBetween(IReadOnlyList<SurveyedLayer> layers, SurveyedLayer from, SurveyedLayer to)
    {
        int a = IndexOf(layers, from), b = IndexOf(layers, to);
        return layers.Skip(a + 1).Take(Math.Max(0, b - a - 1)).Where(l => l.IsLeaf).ToList();
    }

    /// <summary>The last leaf layer that ran before <paramref name="layer"/> (its input's producer), or null for the first.</summary>
    public static SurveyedLayer? LeafBefore(IReadOnlyList<SurveyedLayer> layers, SurveyedLayer layer)
    {
        for (int i = IndexOf(layers, layer) - 1; i >= 0; i--)
            if (layers[i].IsLeaf) return layers[i];
        return null;
    }

    private static int IndexOf(IReadOnlyList<SurveyedLayer> layers, SurveyedLayer layer)
    {
        for (int i = 0; i < layers.Count; i++)
            if (ReferenceEquals(layers[i], layer)) return i;
        throw new ArgumentException($"Layer '{layer.Path}' is not in the survey.", nameof(layer));
    }
}
