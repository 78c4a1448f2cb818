using System.CommandLine;
using Interpretability.Studies;

namespace Interpretability.Cli.Commands;

/// <summary><c>interp report --out DIR [--quick]</c>: every study, one section each, one index.html and metrics.json.</summary>
public sealed class ReportCommand : StudyCommand
{
    /// <inheritdoc />
    public override string Name => "report";

    /// <inheritdoc />
    public override string Description => "Run every study and write one HTML report (index.html) with metrics.json.";

    /// <inheritdoc />
    public override void AddOptions(Command command) { }

    /// <inheritdoc />
    public override Study CreateStudy(ParseResult parse, bool quick) => throw new NotSupportedException("The report runs all studies.");

    /// <inheritdoc />
    public override StudyRunResult Execute(ParseResult parse, StudyContext context, ReportProvenance provenance) =>
        StudyRunner.RunAll(ReportStudies.All(context.Quick), context, provenance: provenance);
}
