using System.CommandLine;
using Interpretability.Studies;

namespace Interpretability.Cli.Commands;

/// <summary>
/// <c>interp featviz --out DIR [--model zoo:NAME|PATH] [--layer NAME] [--channels LIST] [--objective channel|neuron|diversity]
/// [--steps N] [--param fourier|pixel|cppn] [--seed N]</c>: feature visualisation (Lucid's recipe) of a model's channels,
/// beside dataset examples, with objective traces and activation gains.
/// </summary>
public sealed class FeatvizCommand : StudyCommand
{
    private readonly Option<string> model = new("--model")
    {
        Description = "The model: zoo:shapesnet (default), another zoo image model, a TorchScript file or ShapesNet weights (TorchSharp format).",
        DefaultValueFactory = _ => "zoo:shapesnet",
    };

    private readonly Option<string?> layer = new("--layer")
    {
        Description = "Layer path(s) to visualise, comma-separated (e.g. relu3 = conv3 after its ReLU, or relu3,relu4). Default: relu2, relu3 and relu4.",
    };

    private readonly Option<string?> channels = new("--channels")
    {
        Description = "Channels: a list such as 0,3,5 or ranges such as 0-7, or 'all'. Default: six spread over the channels that respond to the test set (two with --quick).",
    };

    private readonly Option<string> objective = new("--objective")
    {
        Description = "channel (mean over positions), neuron (the centre position) or diversity (channel + diversity over four images per channel).",
        DefaultValueFactory = _ => "channel",
    };

    private readonly Option<int?> steps = new("--steps")
    {
        Description = "Optimisation steps (default 512, as Lucid; 24 with --quick).",
    };

    private readonly Option<string> param = new("--param")
    {
        Description = "Image parameterisation: fourier (default; 1/f spectrum, decorrelated colours), pixel or cppn.",
        DefaultValueFactory = _ => "fourier",
    };

    /// <summary>Creates the command's options and their validators.</summary>
    public FeatvizCommand()
    {
        objective.Validators.Add(r =>
        {
            var v = r.GetValueOrDefault<string>();
            if (!FeatureVisualizationStudyOptions.Objectives.Contains(v)) r.AddError($"--objective must be one of {string.Join(", ", FeatureVisualizationStudyOptions.Objectives)}; got '{v}'.");
        });
        param.Validators.Add(r =>
        {
            var v = r.GetValueOrDefault<string>();
            if (!FeatureVisualizationStudyOptions.Parameterizations.Contains(v)) r.AddError($"--param must be one of {string.Join(", ", FeatureVisualizationStudyOptions.Parameterizations)}; got '{v}'.");
        });
        steps.Validators.Add(r =>
        {
            var v = r.GetValueOrDefault<int?>();
            if (v is < 1) r.AddError($"--steps must be at least 1; got {v}.");
        });
        channels.Validators.Add(r =>
        {
            var v = r.GetValueOrDefault<string?>();
            if (v is not null && ParseChannels(v, out var error) is null) r.AddError($"--channels: {error}");
        });
    }

    /// <inheritdoc />
    public override string Name => "featviz";

    /// <inheritdoc />
    public override string Description => "Feature visualisation (Lucid's recipe): optimise pictures that drive chosen channels, beside the test images that drive them hardest; objective traces and activation gains.";

    /// <inheritdoc />
    public override void AddOptions(Command command)
    {
        command.Options.Add(model);
        command.Options.Add(layer);
        command.Options.Add(channels);
        command.Options.Add(objective);
        command.Options.Add(steps);
        command.Options.Add(param);
    }

    /// <summary>Parses <c>all</c>, <c>0,3,5</c> or <c>0-7,9</c>; an empty list means all. Null (with a reason) when malformed.</summary>
    public static IReadOnlyList<int>? ParseChannels(string text, out string error)
    {
        error = "";
        if (text.Trim() == "all") return Array.Empty<int>();
        var list = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var dash = part.IndexOf('-', 1);
            if (dash > 0 && int.TryParse(part[..dash], out var a) && int.TryParse(part[(dash + 1)..], out var b) && a >= 0 && b >= a)
                list.AddRange(Enumerable.Range(a, b - a + 1));
            else if (int.TryParse(part, out var c) && c >= 0)
                list.Add(c);
            else
            {
                error = $"'{part}' is not a channel index (a non-negative integer) or a range such as 0-7; use e.g. 0,3,5 or all.";
                return null;
            }
        }
        if (list.Count == 0) { error = "no channel given; use e.g. 0,3,5 or all."; return null; }
        return list;
    }

    /// <inheritdoc />
    public override Study CreateStudy(ParseResult parse, bool quick)
    {
        var spec = parse.GetValue(model)!;
        var layerName = parse.GetValue(layer);
        var layerList = layerName?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var channelText = parse.GetValue(channels);
        var channelList = channelText is null ? null : ParseChannels(channelText, out _);
        // Open the model now, so that a wrong model, layer or channel is a usage error naming the option, before any work.
        StudyModel opened;
        try
        {
            opened = StudyModel.Open(spec);
        }
        catch (Exception e) when (e is FileNotFoundException or ArgumentException or IOException or UnauthorizedAccessException or InvalidDataException)
        {
            throw new UsageException($"--model '{spec}' cannot be used: {e.Message}");
        }
        using (opened)
        {
            if (opened.InputShape[0] != 3)
                throw new UsageException($"--model '{spec}' takes {opened.InputShape[0]}-channel images; feature visualisation optimises RGB images [3, H, W].");
            var chosen = layerList ?? FeatureVisualizationStudy.DefaultLayers(opened);
            if (chosen.Count == 0) throw new UsageException($"--layer: the model has no convolution to visualise by default; name layers with --layer. Layers: {opened.LayerList}.");
            foreach (var l in chosen)
            {
                var surveyed = opened.Layers.FirstOrDefault(x => x.Path == l)
                    ?? throw new UsageException($"--layer '{l}' is not a layer of the model; its layers (output shapes) are {opened.LayerList}.");
                if (surveyed.Channels < 1) throw new UsageException($"--layer '{l}' has no channels to visualise (output [{string.Join(", ", surveyed.OutputShape)}]).");
                if (channelList is { Count: > 0 } && channelList.Max() is var top && top >= surveyed.Channels)
                    throw new UsageException($"--channels {top} is out of range: layer '{l}' has {surveyed.Channels} channels (0 to {surveyed.Channels - 1}).");
            }
        }
        return new FeatureVisualizationStudy(new FeatureVisualizationStudyOptions(spec, layerName is null ? null : layerName.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries), channelList,
            parse.GetValue(objective)!, parse.GetValue(steps), parse.GetValue(param)!));
    }
}
