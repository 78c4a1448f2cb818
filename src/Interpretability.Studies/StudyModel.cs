using Interpretability.Models;
using Interpretability.Probing;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Studies;

/// <summary>
/// The model a study looks into, opened from a spec (<c>zoo:NAME</c>, a TorchSharp weight file of a known architecture,
/// a TorchScript file), in eval mode on the study's device, with its layers surveyed once on a blank input: the studies
/// choose their default layers from it, and a wrong layer name is an error that lists the layers that exist.
/// </summary>
public sealed class StudyModel : IDisposable
{
    /// <summary>The spec of the model every study uses by default (the trained ShapesNet).</summary>
    public const string DefaultSpec = "zoo:shapesnet";

    private StudyModel(LoadedModel loaded, Device device)
    {
        Loaded = loaded;
        Module = loaded.Module;
        Module.to(device);
        Module.eval();
        if (loaded.InputShape is { } given && given.Count != 3)
            throw new ArgumentException($"model '{Spec}' takes inputs of shape [{string.Join(", ", given)}]; the studies need an image classifier taking [channels, height, width].", "model");
        InputShape = loaded.InputShape?.ToArray() ?? new long[] { 3, ShapesDataset.ImageSize, ShapesDataset.ImageSize };
        using var blank = zeros(new[] { 1L }.Concat(InputShape).ToArray(), device: device);
        try
        {
            Layers = LayerSurvey.Run(Module, blank);
        }
        catch (System.Runtime.InteropServices.ExternalException e)
        {
            throw new ArgumentException($"model '{Spec}' cannot run on [{string.Join(", ", blank.shape)}] images: {e.Message.Split('\n')[0]}", "model", e);
        }
        using (var noGrad = no_grad())
        using (var scope = NewDisposeScope())
        {
            var y = Module.call(blank);
            if (y.dim() != 2 || y.shape[0] != 1)
                throw new ArgumentException($"model '{Spec}' maps [{string.Join(", ", blank.shape)}] to [{string.Join(", ", y.shape)}], not to [1, classes]: the studies need an image classifier.", "model");
            Classes = y.shape[1];
        }
    }

    /// <summary>Opens <paramref name="spec"/> (null = <see cref="DefaultSpec"/>) on <paramref name="device"/>.</summary>
    /// <exception cref="ArgumentException">An unknown zoo name, or a model that is not an image classifier (including one
    /// that cannot run on its input shape).</exception>
    /// <exception cref="FileNotFoundException">A file that does not exist.</exception>
    /// <exception cref="InvalidDataException">A file that is neither TorchScript nor weights of a known architecture.</exception>
    public static StudyModel Open(string? spec, Device? device = null)
    {
        var loaded = ModelZoo.Load(spec ?? DefaultSpec);
        try
        {
            return new StudyModel(loaded, device ?? CPU);
        }
        catch
        {
            loaded.Dispose();
            throw;
        }
    }

    /// <summary>What <see cref="ModelZoo.Load"/> returned.</summary>
    public LoadedModel Loaded { get; }

    /// <summary>The module, in eval mode on the study's device.</summary>
    public nn.Module<Tensor, Tensor> Module { get; }

    /// <summary>The spec it was opened from.</summary>
    public string Spec => Loaded.Spec;

    /// <summary>One input's shape <c>[channels, height, width]</c> (the shapes dataset's <c>[3, 64, 64]</c> where the model does not say).</summary>
    public long[] InputShape { get; }

    /// <summary>The classes of the model's output.</summary>
    public long Classes { get; }

    /// <summary>The layers in the order a forward pass runs them, with their output shapes.</summary>
    public IReadOnlyList<SurveyedLayer> Layers { get; }

    /// <summary>Whether the model classifies the shapes dataset (its classes are the dataset's, so the labels are targets).</summary>
    public bool ClassifiesShapes => Classes == ShapesDataset.ClassNames.Count && InputShape.SequenceEqual(new long[] { 3, ShapesDataset.ImageSize, ShapesDataset.ImageSize });

    /// <summary>The convolutions in run order.</summary>
    public IReadOnlyList<SurveyedLayer> Convolutions => LayerSurvey.Convolutions(Layers);

    /// <summary>
    /// The last <paramref name="count"/> convolutions of the model, each after its activation (the first elementwise
    /// activation that follows it; the convolution itself where none does). ShapesNet, 3: relu2, relu3, relu4.
    /// </summary>
    public IReadOnlyList<string> LastConvolutionActivations(int count)
    {
        var convs = Convolutions;
        return convs.Skip(Math.Max(0, convs.Count - count)).Select(c => LayerSurvey.ActivationAfter(Layers, c).Path).ToList();
    }

    /// <summary>The layers' paths, for error messages.</summary>
    public string LayerList => string.Join(", ", Layers.Select(l => $"{l.Path} [{string.Join(", ", l.OutputShape)}]").Distinct());

    /// <summary>The surveyed layer at <paramref name="path"/>.</summary>
    /// <param name="path">A <c>named_modules()</c> path.</param>
    /// <param name="parameter">The caller's parameter or option, for the error.</param>
    /// <exception cref="ArgumentException">No layer of that path ran (the message lists those that did, with their shapes).</exception>
    public SurveyedLayer Layer(string path, string parameter = "layer") =>
        Layers.FirstOrDefault(l => l.Path == path)
        ?? throw new ArgumentException($"{parameter}: the model has no layer '{path}'; its layers (output shapes) are {LayerList}.", parameter);

    /// <summary>A new instance of the same model with the same weights (for tests that change weights, e.g. randomisation).</summary>
    public nn.Module<Tensor, Tensor> Reopen()
    {
        var copy = ModelZoo.Open(Spec);
        copy.eval();
        return copy;
    }

    /// <summary>
    /// Shapes-dataset images <c>[N, 3, 64, 64]</c> in [0, 1] as this model's input <c>[N, C, H, W]</c>: resized
    /// (bilinear, antialiased) and, for one channel, the mean of the three.
    /// </summary>
    public Tensor Adapt(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        using var scope = NewDisposeScope();
        var x = images;
        if (x.shape[2] != InputShape[1] || x.shape[3] != InputShape[2])
            x = nn.functional.interpolate(x, new[] { InputShape[1], InputShape[2] }, mode: InterpolationMode.Bilinear, align_corners: false, antialias: true).clamp(StudyScalars.Zero, StudyScalars.One);
        if (InputShape[0] == 1 && x.shape[1] == 3) x = x.mean(new long[] { 1 }, keepdim: true);
        else if (InputShape[0] != x.shape[1]) throw new ArgumentException($"The model takes {InputShape[0]} input channels; the studies' images have {x.shape[1]}.", "model");
        return (ReferenceEquals(x, images) ? x.alias() : x).MoveToOuterDisposeScope();
    }

    /// <summary>Disposes the model.</summary>
    public void Dispose() => Loaded.Dispose();
}
