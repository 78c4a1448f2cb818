using System.Reflection;
using Interpretability.Nn;
using static TorchSharp.torch;

namespace Interpretability.Models;

/// <summary>A model of the zoo: its name, what it is, how well it does, and how to build it.</summary>
/// <param name="Name">Name as <c>zoo:NAME</c> spells it.</param>
/// <param name="Description">What the model is and what it was trained on.</param>
/// <param name="InputShape">Shape of one input, e.g. <c>[3, 64, 64]</c>.</param>
/// <param name="Accuracy">Test accuracy (classification) or another quality figure, with its meaning in <see cref="Description"/>; null if none.</param>
/// <param name="Create">Builds a new, trained instance (the caller disposes it).</param>
public sealed record ZooEntry(string Name, string Description, IReadOnlyList<long> InputShape, double? Accuracy, Func<nn.Module<Tensor, Tensor>> Create);

/// <summary>A model opened by <see cref="ModelZoo.Load"/>: the module and what is known about its input.</summary>
/// <param name="Module">The model, in eval mode on the CPU.</param>
/// <param name="Spec">The spec it was opened from.</param>
/// <param name="Description">What it is.</param>
/// <param name="InputShape">The shape of one input the library feeds it, e.g. <c>[3, 64, 64]</c>: the zoo entry's, ShapesNet's,
/// or for a SmallCnn (which takes any height and width ≥ 4) 64 × 64, the shapes dataset's; null where nothing says (TorchScript).</param>
public sealed record LoadedModel(nn.Module<Tensor, Tensor> Module, string Spec, string Description, IReadOnlyList<long>? InputShape) : IDisposable
{
    /// <summary>Disposes the module.</summary>
    public void Dispose() => Module.Dispose();
}

/// <summary>
/// Trained models shipped inside the library (embedded resources: no download, no training at run time), and one entry
/// point that opens a zoo name or a file.
/// </summary>
public static class ModelZoo
{
    /// <summary>Test accuracy of the shipped ShapesNet weights on <see cref="ShapesDataset.Test"/> (1000 images), measured when they were trained.</summary>
    public const double ShapesNetAccuracy = ShapesNetWeightsInfo.TestAccuracy;

    private static readonly Dictionary<string, ZooEntry> Registry = new(StringComparer.OrdinalIgnoreCase)
    {
        ["shapesnet"] = new ZooEntry("shapesnet",
            "ShapesNet: 4 conv layers (16-32-64-64 channels), global average pooling and a linear classifier; trained on " +
            $"ShapesDataset (11 classes, {ShapesNetWeightsInfo.TrainCount} images, {ShapesNetWeightsInfo.Epochs} epochs).",
            new long[] { 3, ShapesDataset.ImageSize, ShapesDataset.ImageSize }, ShapesNetAccuracy, () => ShapesNet()),
        ["coordnet-bird"] = new ZooEntry("coordnet-bird",
            "CoordNet-37/460 (the ensembles study's article preset: 37 tanh neurons, 460 synapses) trained to draw the " +
            "procedural bird at 64×64 (RMSE 0.021 per channel, 1500 epochs); input [pixels, 2] coordinates, output [pixels, 3] colours.",
            new long[] { 2 }, null, () => CoordNetBird()),
    };

    /// <summary>Every registered model.</summary>
    public static IReadOnlyList<ZooEntry> Entries => Registry.Values.ToList();

    /// <summary>Registers (or replaces) a model under <paramref name="entry"/>'s name, for <see cref="Open"/>.</summary>
    public static void Register(ZooEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentException.ThrowIfNullOrWhiteSpace(entry.Name);
        lock (Registry) Registry[entry.Name] = entry;
    }

    /// <summary>The trained ShapesNet (shipped weights), in eval mode on the CPU; a new instance per call.</summary>
    public static ShapesNet ShapesNet()
    {
        var model = new ShapesNet(seed: 0, classes: ShapesDataset.ClassNames.Count);
        try
        {
            using var stream = Resource("shapesnet.weights");
            TorchSharpWeights.Load(model, stream, "embedded shapesnet.weights");
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The ensembles study's article-preset coordinate network trained on the procedural bird (shipped as JSON).</summary>
    public static CoordinateNetwork CoordNetBird()
    {
        using var stream = Resource("coordnet-bird.json");
        return CoordinateNetwork.Load(stream, "embedded coordnet-bird.json");
    }

    /// <summary>
    /// Opens a model: <c>zoo:NAME</c> (see <see cref="Entries"/>), a TorchScript file (recognised by its zip archive
    /// header, whatever its extension), or a TorchSharp weight file of an architecture the library knows, recognised by
    /// its parameter names and shapes: ShapesNet (any classes) or <see cref="ReferenceModels.SmallCnn"/> (any input channels,
    /// width and classes). <see cref="ReferenceModels.Mlp"/> weights are refused with a message: they do not say whether
    /// the activations are ReLU or Tanh. Same as <see cref="Load"/>, without the description.
    /// </summary>
    /// <exception cref="ArgumentException">An unknown zoo name.</exception>
    /// <exception cref="FileNotFoundException">A file that does not exist.</exception>
    /// <exception cref="InvalidDataException">A file that is neither TorchScript nor weights of a known architecture.</exception>
    public static nn.Module<Tensor, Tensor> Open(string spec) => Load(spec).Module;

    /// <summary>Opens a model (see <see cref="Open"/>) with what is known about it: its description and input shape.</summary>
    /// <param name="spec"><c>zoo:NAME</c>, a TorchScript file or a TorchSharp weight file.</param>
    /// <returns>The model in eval mode on the CPU; the caller disposes it.</returns>
    public static LoadedModel Load(string spec)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(spec);
        if (spec.StartsWith("zoo:", StringComparison.OrdinalIgnoreCase))
        {
            var name = spec[4..];
            ZooEntry? entry;
            lock (Registry) Registry.TryGetValue(name, out entry);
            if (entry is null)
                throw new ArgumentException($"Unknown zoo model '{name}'; the zoo has {string.Join(", ", Entries.Select(e => "zoo:" + e.Name))}.", nameof(spec));
            var zooModel = entry.Create();
            zooModel.eval();
            return new LoadedModel(zooModel, spec, entry.Description, entry.InputShape);
        }
        if (!File.Exists(spec)) throw new FileNotFoundException($"Model file '{spec}' does not exist (expected zoo:NAME, a TorchScript file or TorchSharp weights of a known architecture).", spec);
        if (IsZipArchive(spec))
            return new LoadedModel(TorchScriptModel.Load(spec), spec, $"TorchScript model {Path.GetFileName(spec)}", null);
        var shapes = TorchSharpWeights.ReadShapes(spec);
        foreach (var architecture in WeightArchitectures)
        {
            if (architecture.Build(shapes) is not var (module, inputShape, description)) continue;
            if (!Matches(module, shapes))
            {
                module.Dispose();
                continue;
            }
            try
            {
                TorchSharpWeights.Load(module, spec);
                module.eval();
                return new LoadedModel(module, spec, description, inputShape);
            }
            catch
            {
                module.Dispose();
                throw;
            }
        }
        if (Enumerable.Range(1, shapes.Count).TakeWhile(i => shapes.ContainsKey($"fc{i}.weight")).Count() == shapes.Count / 2 && shapes.ContainsKey("fc1.weight"))
            throw new InvalidDataException($"Weight file '{spec}' looks like ReferenceModels.Mlp weights, which do not say whether its activations are ReLU or Tanh: " +
                                           "build the module with ReferenceModels.Mlp(…, activation: \"relu\" or \"tanh\") and load the weights with TorchSharpWeights.Load.");
        throw new InvalidDataException($"Weight file '{spec}' matches no architecture the library knows ({string.Join(", ", WeightArchitectures.Select(a => a.Name))}); " +
                                       $"its parameters are {string.Join(", ", shapes.Select(kv => $"{kv.Key} [{string.Join(", ", kv.Value)}]"))}. " +
                                       "Build the module in C# and load the weights into it with TorchSharpWeights.Load.");
    }

    /// <summary>The architectures a weight file is recognised as, each built from the file's parameter shapes (or null
    /// when the names do not fit).</summary>
    private static readonly (string Name, Func<IReadOnlyDictionary<string, long[]>, (nn.Module<Tensor, Tensor>, IReadOnlyList<long>, string)?> Build)[] WeightArchitectures =
    {
        ("ShapesNet", shapes => shapes.TryGetValue("fc.weight", out var fc) && shapes.ContainsKey("conv4.weight")
            ? (new ShapesNet(classes: (int)fc[0]), new long[] { 3, ShapesDataset.ImageSize, ShapesDataset.ImageSize }, $"ShapesNet with {fc[0]} classes")
            : null),
        ("ReferenceModels.SmallCnn", shapes => shapes.TryGetValue("conv1.weight", out var c1) && shapes.TryGetValue("fc.weight", out var fc) && c1.Length == 4 && fc.Length == 2
            ? (ReferenceModels.SmallCnn((int)c1[1], (int)fc[0], (int)c1[0]), new long[] { c1[1], 64, 64 },
               $"ReferenceModels.SmallCnn: {c1[1]} input channels, width {c1[0]}, {fc[0]} classes")
            : null),
    };

    private static bool Matches(nn.Module module, IReadOnlyDictionary<string, long[]> shapes)
    {
        var expected = module.state_dict();
        return expected.Count == shapes.Count && expected.All(kv => shapes.TryGetValue(kv.Key, out var s) && s.SequenceEqual(kv.Value.shape));
    }

    private static bool IsZipArchive(string path)
    {
        using var stream = File.OpenRead(path);
        Span<byte> head = stackalloc byte[4];
        return stream.Read(head) == 4 && head[0] == (byte)'P' && head[1] == (byte)'K' && head[2] == 3 && head[3] == 4;
    }

    private static Stream Resource(string name)
    {
        var assembly = typeof(ModelZoo).Assembly;
        var full = $"Interpretability.Models.Weights.{name}";
        return assembly.GetManifestResourceStream(full)
               ?? throw new InvalidOperationException($"The library was built without its embedded resource '{full}'.");
    }
}
