using System.CommandLine;
using Interpretability.Studies;

namespace Interpretability.Cli;

/// <summary>
/// One <c>interp</c> sub-command backed by a <see cref="Study"/>: it declares its own options and builds the study from
/// the parsed values. Each capability adds a file in <c>Commands/</c> and one line in <see cref="InterpCli"/>.
/// </summary>
public abstract class StudyCommand
{
    /// <summary>Command name (e.g. <c>ensembles</c>).</summary>
    public abstract string Name { get; }

    /// <summary>One-line description for <c>--help</c>.</summary>
    public abstract string Description { get; }

    /// <summary>Adds the command's own options (not the common ones).</summary>
    public abstract void AddOptions(Command command);

    /// <summary>Builds the study from the parsed options. Throws <see cref="UsageException"/> for a value that parsed
    /// but cannot be used (exit code 2).</summary>
    public abstract Study CreateStudy(ParseResult parse, bool quick);

    /// <summary>Runs the study into the output folder; the default writes one study's report.</summary>
    /// <param name="parse">The parsed command line.</param>
    /// <param name="context">Output folder, seed, device, progress and cancellation.</param>
    /// <param name="provenance">Library version, commit and the command line as typed, for the report's header and
    /// <c>metrics.json</c>.</param>
    public virtual StudyRunResult Execute(ParseResult parse, StudyContext context, ReportProvenance provenance) =>
        StudyRunner.RunOne(Create(parse, context.Quick), context, provenance);

    /// <summary><see cref="CreateStudy"/>, with a study's own option checks (an <see cref="ArgumentException"/> from its
    /// constructor) reported as usage errors.</summary>
    protected Study Create(ParseResult parse, bool quick)
    {
        try
        {
            return CreateStudy(parse, quick);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
    }
}
