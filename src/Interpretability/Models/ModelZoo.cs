using System.Reflection;
using Interpretability.Ensembles;
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
    /// header, whatever its extension), or any other file as TorchSharp weights of ShapesNet.
    /// </summary>
    /// <exception cref="ArgumentException">An unknown zoo name.</exception>
    /// <exception cref="FileNotFoundException">A file that does not exist.</exception>
    /// <exception cref="InvalidDataException">A file that is neither TorchScript nor matching weights.</exception>
    public static nn.Module<Tensor, Tensor> Open(string spec)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(spec);
        if (spec.StartsWith("zoo:", StringComparison.OrdinalIgnoreCase))
        {
            var name = spec[4..];
            ZooEntry? entry;
            lock (Registry) Registry.TryGetValue(name, out entry);
            if (entry is null)
                throw new ArgumentException($"Unknown zoo model '{name}'; the zoo has {string.Join(", ", Entries.Select(e => "zoo:" + e.Name))}.", nameof(spec));
            return entry.Create();
        }
        if (!File.Exists(spec)) throw new FileNotFoundException($"Model file '{spec}' does not exist (expected zoo:NAME, a TorchScript file or ShapesNet weights).", spec);
        // TorchScript archives are zip files ("PK\x03\x04"); anything else is read as TorchSharp weights of ShapesNet.
        if (!IsZipArchive(spec))
        {
            var model = new ShapesNet();
            try
            {
                TorchSharpWeights.Load(model, spec);
                model.eval();
                return model;
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }
        return TorchScriptModel.Load(spec);
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
