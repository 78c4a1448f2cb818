using System.CommandLine;
using System.Globalization;
using Interpretability.Studies;

namespace Interpretability.Cli.Commands;

/// <summary>
/// <c>interp tuning --out DIR [--model zoo:NAME|PATH] [--layer NAME] [--units LIST|auto]</c>: the Curve Detectors protocol
/// (synthetic tuning, curve families, dataset examples, rotation tuning, histograms, circuits, NMF, curve extraction).
/// </summary>
public sealed class TuningCommand : StudyCommand
{
    private readonly Option<string> model = new("--model")
    {
        Description = "Model: zoo:NAME (see 'interp models') or a path (TorchScript or ShapesNet weights). It must take [N, 3, 64, 64] images in [0, 1].",
        DefaultValueFactory = _ => "zoo:shapesnet",
    };

    private readonly Option<string?> layer = new("--layer")
    {
        Description = "Layer whose curve family is studied in depth (e.g. relu3). Default: of relu2, relu3, relu4, the one with the most curve-like units.",
    };

    private readonly Option<string> units = new("--units")
    {
        Description = "Channels of that layer to study, comma-separated (e.g. 3,7,12), or 'auto' for the curve-like units found by tuning.",
        DefaultValueFactory = _ => "auto",
    };

    /// <summary>Creates the command's options and their validators.</summary>
    public TuningCommand()
    {
        units.Validators.Add(r =>
        {
            var v = r.GetValueOrDefault<string>();
            if (ParseUnits(v) is null && v != "auto") r.AddError($"--units must be 'auto' or a comma-separated list of non-negative channel numbers; got '{v}'.");
        });
        model.Validators.Add(r =>
        {
            var v = r.GetValueOrDefault<string>();
            if (string.IsNullOrWhiteSpace(v)) r.AddError("--model must be zoo:NAME or a path.");
        });
    }

    /// <summary>Parses a comma-separated channel list; null when it is not one.</summary>
    /// <param name="text">The option's text.</param>
    public static IReadOnlyList<int>? ParseUnits(string? text)
    {
        if (string.IsNullOrWhiteSpace(text) || text == "auto") return null;
        var list = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!int.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) || v < 0) return null;
            list.Add(v);
        }
        return list.Count == 0 ? null : list;
    }

    /// <inheritdoc />
    public override string Name => "tuning";

    /// <inheritdoc />
    public override string Description => "Neuron studies (Curve Detectors): synthetic curve tuning of every unit, curve families and their equivariance, dataset examples, rotation tuning, pre-ReLU histograms, circuits, NMF and curve extraction.";

    /// <inheritdoc />
    public override void AddOptions(Command command)
    {
        command.Options.Add(model);
        command.Options.Add(layer);
        command.Options.Add(units);
    }

    /// <inheritdoc />
    public override Study CreateStudy(ParseResult parse, bool quick)
    {
        var spec = parse.GetValue(model)!;
        var layerName = parse.GetValue(layer);
        // Open the model now so that an unknown zoo name, a missing file, a missing layer or a unit out of range is a usage
        // error before any work.
        StudyModel opened;
        try
        {
            opened = StudyModel.Open(spec);
        }
        catch (Exception e) when (e is FileNotFoundException or ArgumentException or InvalidDataException or IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--model '{spec}' cannot be used: {e.Message}");
        }
        using (opened)
        {
            if (!opened.InputShape.SequenceEqual(new long[] { 3, 64, 64 }))
                throw new UsageException($"--model '{spec}' takes [{string.Join(", ", opened.InputShape)}] inputs; the synthetic stimuli are [3, 64, 64] images.");
            if (layerName is not null && opened.Layers.All(l => l.Path != layerName))
                throw new UsageException($"--layer '{layerName}' is not a layer of the model; its layers (output shapes) are {opened.LayerList}.");
            var scanned = NeuronStudiesOptions.ScannedLayers(opened, layerName);
            if (scanned.Count == 0)
                throw new UsageException($"--layer: the model has no convolution to scan for curve detectors; name a layer. Layers: {opened.LayerList}.");
            if (ParseUnits(parse.GetValue(units)) is { } list)
            {
                // Without --layer the units apply to whichever scanned layer has the most curve-like units: each must exist in all of them.
                foreach (var path in layerName is null ? scanned : new[] { layerName })
                {
                    var channels = opened.Layer(path).Channels;
                    foreach (var u in list)
                        if (u >= channels) throw new UsageException($"--units {u} is out of range: layer '{path}' has {channels} channels (0 to {channels - 1})" +
                                                                    (layerName is null ? "; name the layer with --layer." : "."));
                }
            }
        }
        return new NeuronStudiesStudy(new NeuronStudiesOptions(spec, layerName, ParseUnits(parse.GetValue(units))));
    }
}
