using System.CommandLine;
using Interpretability.Studies;

namespace Interpretability.Cli.Commands;

/// <summary><c>interp probing --out DIR</c>: the probing toolkit (capture, ablation, patching, layer gradients) demonstrated.</summary>
public sealed class ProbingCommand : StudyCommand
{
    /// <inheritdoc />
    public override string Name => "probing";

    /// <inheritdoc />
    public override string Description => "Capture, ablate, patch and differentiate the layers of a small CNN; colormaps.";

    /// <inheritdoc />
    public override void AddOptions(Command command) { }

    /// <inheritdoc />
    public override Study CreateStudy(ParseResult parse, bool quick) => new ProbingStudy();
}
