using System.Reflection;
using System.Text.RegularExpressions;

namespace Interpretability.Studies;

/// <summary>
/// What produced a report: the library's version, the commit it was built from and the command line that reproduces the
/// run. Shown in the report's header and written to <c>metrics.json</c> (<c>library_version</c>, <c>commit</c>,
/// <c>command_line</c>).
/// </summary>
/// <param name="LibraryVersion">Version of the Interpretability library (e.g. <c>0.2.0-alpha.148</c>).</param>
/// <param name="Commit">Git commit the library was built from (full hash), or null when the build had no git checkout.</param>
/// <param name="CommandLine">The command line that reproduces the run (e.g. <c>interp report --out out/report --quick</c>),
/// or null when the run did not come from a command line.</param>
public sealed partial record ReportProvenance(string LibraryVersion, string? Commit, string? CommandLine)
{
    [GeneratedRegex("^[0-9a-fA-F]{7,64}$")]
    private static partial Regex CommitHash();

    [GeneratedRegex(@"^[A-Za-z0-9_@%+=:,./-]+$")]
    private static partial Regex ShellSafe();

    /// <summary>
    /// The provenance of the loaded Interpretability library: its informational version, split into the version and the
    /// commit the build appended after '+' (the .NET SDK's source-revision id, read from git at build time; absent when
    /// the build had no git checkout).
    /// </summary>
    /// <param name="commandLine">The command line that reproduces the run, or null.</param>
    public static ReportProvenance OfLibrary(string? commandLine = null)
    {
        var assembly = typeof(TorchSession).Assembly;
        var informational = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                            ?? assembly.GetName().Version?.ToString() ?? "unknown";
        var plus = informational.IndexOf('+');
        var version = plus < 0 ? informational : informational[..plus];
        var commit = plus < 0 ? null : informational[(plus + 1)..];
        return new ReportProvenance(version, commit is not null && CommitHash().IsMatch(commit) ? commit : null, commandLine);
    }

    /// <summary>
    /// A command line a POSIX shell runs as given: <paramref name="program"/> followed by the arguments, each quoted with
    /// single quotes where it holds anything but letters, digits and <c>_@%+=:,./-</c>.
    /// </summary>
    /// <param name="program">The program's name, e.g. <c>interp</c>.</param>
    /// <param name="arguments">The arguments, without the program.</param>
    public static string FormatCommandLine(string program, IEnumerable<string> arguments)
    {
        ArgumentException.ThrowIfNullOrEmpty(program);
        ArgumentNullException.ThrowIfNull(arguments);
        return string.Join(' ', new[] { program }.Concat(arguments.Select(Quote)));
    }

    /// <summary>The commit shortened to 12 hexadecimal digits for display, or null.</summary>
    public string? ShortCommit => Commit is null ? null : Commit[..Math.Min(12, Commit.Length)];

    private static string Quote(string argument) =>
        argument.Length > 0 && ShellSafe().IsMatch(argument) ? argument : "'" + argument.Replace("'", "'\\''") + "'";
}
