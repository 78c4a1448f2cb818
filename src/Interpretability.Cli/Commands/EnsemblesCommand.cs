using System.CommandLine;
using Interpretability.Studies;

namespace Interpretability.Cli.Commands;

/// <summary>
/// <c>interp ensembles --out DIR [--target bird|PATH] [--size N] [--preset article|dense|random] [--epochs N] [--seed N]</c>:
/// train a coordinate network to draw a picture, compute every synapse's exact effect, find the ensemble behind a region,
/// edit along it (after the Habr article on synapse ensembles, 2015).
/// </summary>
public sealed class EnsemblesCommand : StudyCommand
{
    private readonly Option<string> target = new("--target")
    {
        Description = "The picture to memorise: 'bird' (built-in, with part labels; the region is the patch under the wing) or the path of a PNG/JPEG (the region is the central disc).",
        DefaultValueFactory = _ => "bird",
    };

    private readonly Option<int> size = new("--size")
    {
        Description = "Longer side of the picture in pixels (8 to 512).",
        DefaultValueFactory = _ => 64,
    };

    private readonly Option<string> preset = new("--preset")
    {
        Description = "Network: 'article' (CoordNet-37/460: 37 tanh neurons, 460 synapses, a cascade), 'dense' (2-14-14-14-3, 462 synapses) or 'random' (a random DAG with 37 neurons and 460 synapses).",
        DefaultValueFactory = _ => "article",
    };

    private readonly Option<int?> epochs = new("--epochs")
    {
        Description = "Training epochs (passes over all pixels, batches of 1024). Default 1500 (6000 steps at 64×64); 60 with --quick.",
    };

    /// <summary>Creates the command's options and their validators.</summary>
    public EnsemblesCommand()
    {
        size.Validators.Add(r =>
        {
            var v = r.GetValueOrDefault<int>();
            if (v < 8 || v > 512) r.AddError($"--size must be between 8 and 512 pixels; got {v}.");
        });
        preset.Validators.Add(r =>
        {
            var v = r.GetValueOrDefault<string>();
            if (!EnsemblesStudyOptions.Presets.Contains(v)) r.AddError($"--preset must be one of {string.Join(", ", EnsemblesStudyOptions.Presets)}; got '{v}'.");
        });
        epochs.Validators.Add(r =>
        {
            var v = r.GetValueOrDefault<int?>();
            if (v is < 1) r.AddError($"--epochs must be at least 1; got {v}.");
        });
        target.Validators.Add(r =>
        {
            var v = r.GetValueOrDefault<string>();
            if (string.IsNullOrWhiteSpace(v)) r.AddError("--target must be 'bird' or the path of a picture.");
        });
    }

    /// <inheritdoc />
    public override string Name => "ensembles";

    /// <inheritdoc />
    public override string Description => "Synapse ensembles: train a 37-neuron, 460-synapse coordinate network to draw a picture, compute every synapse's exact effect, find the ensemble behind a region, edit along it.";

    /// <inheritdoc />
    public override void AddOptions(Command command)
    {
        command.Options.Add(target);
        command.Options.Add(size);
        command.Options.Add(preset);
        command.Options.Add(epochs);
    }

    /// <inheritdoc />
    public override Study CreateStudy(ParseResult parse, bool quick)
    {
        var path = parse.GetValue(target)!;
        var n = parse.GetValue(size);
        if (path != "bird")
        {
            // Read the picture now so that a missing or unreadable file is a usage error naming the file, before any work.
            try
            {
                using var probe = EnsemblesStudy.LoadTarget(path, n);
            }
            catch (Exception e) when (e is FileNotFoundException or ArgumentException or IOException or UnauthorizedAccessException)
            {
                throw new UsageException($"--target '{path}' cannot be used: {e.Message}");
            }
        }
        // The study runs single-threaded unless --threads was given explicitly (its operations are small; see EnsemblesStudyOptions.Threads).
        var threadsGiven = parse.Tokens.Any(t => t.Value == "--threads");
        return new EnsemblesStudy(new EnsemblesStudyOptions(path, n, parse.GetValue(preset)!, parse.GetValue(epochs), Threads: threadsGiven ? 0 : 1));
    }
}
