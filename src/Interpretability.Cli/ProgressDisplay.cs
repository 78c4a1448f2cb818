using Interpretability.Studies;
using Spectre.Console;

namespace Interpretability.Cli;

/// <summary>
/// Shows study progress: a Spectre.Console progress bar on an interactive terminal, one line per new step when the output
/// is redirected, nothing with <c>--quiet</c>.
/// </summary>
internal static class ProgressDisplay
{
    public static T Run<T>(bool quiet, TextWriter err, Func<IProgress<StudyProgress>?, T> work)
    {
        if (quiet) return work(null);
        var interactive = !Console.IsOutputRedirected && !Console.IsErrorRedirected && AnsiConsole.Profile.Capabilities.Interactive
                          && Environment.GetEnvironmentVariable("CI") is null && ReferenceEquals(err, Console.Error);
        if (!interactive) return work(new LineProgress(err));
        T result = default!;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var tasks = new Dictionary<string, ProgressTask>();
                var sink = new CallbackProgress(p =>
                {
                    lock (tasks)
                    {
                        if (!tasks.TryGetValue(p.Study, out var task)) tasks[p.Study] = task = ctx.AddTask(p.Study, maxValue: 1.0);
                        task.Description = $"{Markup.Escape(p.Study)}: {Markup.Escape(p.Step)}";
                        task.Value = p.Fraction;
                    }
                });
                result = work(sink);
                lock (tasks) foreach (var t in tasks.Values) { t.Value = 1.0; t.StopTask(); }
            });
        return result;
    }

    private sealed class CallbackProgress(Action<StudyProgress> report) : IProgress<StudyProgress>
    {
        public void Report(StudyProgress value) => report(value);
    }

    /// <summary>Prints a line whenever a study starts a new step.</summary>
    private sealed class LineProgress(TextWriter err) : IProgress<StudyProgress>
    {
        private string? last;
        public void Report(StudyProgress value)
        {
            var key = value.Study + "/" + value.Step;
            if (key == last) return;
            last = key;
            lock (err) err.WriteLine($"[{value.Study}] {value.Step} ({value.Fraction:P0})");
        }
    }
}
