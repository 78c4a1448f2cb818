using System.Diagnostics;
using Interpretability.Imaging;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Studies;

/// <summary>Progress of a study: which step runs and how far the study is.</summary>
/// <param name="Study">The study's name.</param>
/// <param name="Step">What runs now, for a person.</param>
/// <param name="Fraction">Completed fraction of the study, in [0, 1].</param>
public sealed record StudyProgress(string Study, string Step, double Fraction);

/// <summary>Where and how a study runs: its output folder, seed, size, device, progress and cancellation.</summary>
public sealed class StudyContext
{
    /// <summary>Creates a context.</summary>
    /// <param name="outputDirectory">Folder the study writes into (created).</param>
    /// <param name="seed">Seed of everything random.</param>
    /// <param name="quick">Smaller sizes and fewer steps: seconds instead of minutes (for tests and <c>report --quick</c>).</param>
    /// <param name="device">Device the study computes on.</param>
    /// <param name="progress">Receives progress; may be null.</param>
    /// <param name="cancellation">Cancels the study between steps.</param>
    /// <param name="figurePrefix">Prefix of figure paths in the report (the study's folder relative to the report's).</param>
    /// <param name="batches">Chooses batch sizes of batched kernels (default: exactly the requested size).</param>
    /// <param name="session">The application's session (default: <see cref="TorchSession.Current"/>); studies ask it for
    /// scoped thread counts and oneDNN verification.</param>
    /// <exception cref="InvalidOperationException">No session was given and none is open.</exception>
    public StudyContext(string outputDirectory, int seed = 0, bool quick = false, Device? device = null,
        IProgress<StudyProgress>? progress = null, CancellationToken cancellation = default, string figurePrefix = "",
        IBatchRunner? batches = null, TorchSession? session = null)
    {
        Session = session ?? TorchSession.Current
                  ?? throw new InvalidOperationException("Studies run inside the application's TorchSession: call TorchSession.Start() once at the top of Main.");
        Batches = batches ?? FixedBatchRunner.Instance;
        ArgumentException.ThrowIfNullOrEmpty(outputDirectory);
        OutputDirectory = Path.GetFullPath(outputDirectory);
        Seed = seed;
        Quick = quick;
        Device = device ?? CPU;
        Progress = progress;
        Cancellation = cancellation;
        FigurePrefix = figurePrefix;
    }

    /// <summary>Absolute output folder.</summary>
    public string OutputDirectory { get; }

    /// <summary>Seed of everything random.</summary>
    public int Seed { get; }

    /// <summary>Quick mode: small sizes, few steps.</summary>
    public bool Quick { get; }

    /// <summary>Device to compute on.</summary>
    public Device Device { get; }

    /// <summary>Progress sink, may be null.</summary>
    public IProgress<StudyProgress>? Progress { get; }

    /// <summary>Cancellation.</summary>
    public CancellationToken Cancellation { get; }

    /// <summary>Prefix of figure paths in the report.</summary>
    public string FigurePrefix { get; }

    /// <summary>Chooses the batch size of batched kernels (on CUDA, the CLI sets an out-of-memory-aware runner).</summary>
    public IBatchRunner Batches { get; }

    /// <summary>The application's session: the owner of thread counts and the oneDNN switch.</summary>
    public TorchSession Session { get; }

    /// <summary>
    /// On the CPU, runs with <paramref name="threads"/> intra-op threads until the scope is disposed (0 keeps the
    /// session's count); a study asks for this where its operations are too small for a thread pool to help.
    /// </summary>
    public IDisposable? UseThreads(int threads) => threads > 0 && Device.type == DeviceType.CPU ? Session.UseThreads(threads) : null;

    /// <summary>A context for a sub-folder (used by the report, one folder per study).</summary>
    public StudyContext ForSubfolder(string name) =>
        new(Path.Combine(OutputDirectory, name), Seed, Quick, Device, Progress, Cancellation, FigurePrefix + name + "/", Batches, Session);

    /// <summary>The absolute path of <paramref name="relativePath"/> inside the output folder (its folder is created).</summary>
    public string PathOf(string relativePath)
    {
        var full = Path.GetFullPath(Path.Combine(OutputDirectory, relativePath));
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        return full;
    }

    /// <summary>Writes PNG bytes to <paramref name="relativePath"/> atomically and returns the report figure.</summary>
    public Figure SavePng(string relativePath, byte[] png, string caption)
    {
        AtomicFile.WriteAllBytes(PathOf(relativePath), png);
        return Figure(relativePath, caption);
    }

    /// <summary>A report figure for a file the study wrote to <paramref name="relativePath"/>.</summary>
    public Figure Figure(string relativePath, string caption) => new(FigurePrefix + relativePath.Replace('\\', '/'), caption);
}

/// <summary>
/// A study: one capability run end to end on real data, writing pictures and numbers. The same study backs an
/// <c>interp</c> command (its own folder, <c>metrics.json</c> and <c>index.html</c>) and a section of <c>interp report</c>.
/// </summary>
public abstract class Study
{
    /// <summary>Short name: the CLI command, the report section id and sub-folder (e.g. <c>ensembles</c>).</summary>
    public abstract string Name { get; }

    /// <summary>Section heading.</summary>
    public abstract string Title { get; }

    /// <summary>Runs the study: writes figures through <paramref name="context"/>, fills <paramref name="section"/> and
    /// <paramref name="metrics"/>. May throw; the runner reports the error.</summary>
    public abstract void Run(StudyContext context, ReportSection section, Metrics metrics);

    /// <summary>Reports progress of this study.</summary>
    protected void Report(StudyContext context, string step, double fraction)
    {
        context.Cancellation.ThrowIfCancellationRequested();
        context.Progress?.Report(new StudyProgress(Name, step, Math.Clamp(fraction, 0, 1)));
    }
}

/// <summary>What a run of studies produced.</summary>
/// <param name="IndexPath">Path of <c>index.html</c>.</param>
/// <param name="MetricsPath">Path of <c>metrics.json</c>.</param>
/// <param name="Failures">Studies that failed, with their error.</param>
public sealed record StudyRunResult(string IndexPath, string MetricsPath, IReadOnlyDictionary<string, Exception> Failures);

/// <summary>Runs studies and writes their report and metrics.</summary>
public static class StudyRunner
{
    /// <summary>
    /// Runs one study into <paramref name="context"/>'s folder: figures, <c>metrics.json</c> and a one-section
    /// <c>index.html</c>. A failure propagates (after the partial report is written, marked failed).
    /// </summary>
    /// <param name="study">The study.</param>
    /// <param name="context">Output folder, seed, device and the rest.</param>
    /// <param name="provenance">Library version, commit and the command line that reproduces the run, shown in the
    /// report's header and written to <c>metrics.json</c>; null: the loaded library's, without a command line.</param>
    public static StudyRunResult RunOne(Study study, StudyContext context, ReportProvenance? provenance = null)
    {
        ArgumentNullException.ThrowIfNull(study);
        ArgumentNullException.ThrowIfNull(context);
        provenance ??= ReportProvenance.OfLibrary();
        Directory.CreateDirectory(context.OutputDirectory);
        var report = new HtmlReport($"Interpretability — {study.Title}", Subtitle(context)) { Provenance = provenance };
        var section = report.AddSection(study.Name, study.Title);
        var metrics = new Metrics();
        SetProvenance(metrics, provenance);
        var watch = Stopwatch.StartNew();
        try
        {
            RunScoped(study, context, section, metrics);
            metrics.Set("seconds", Math.Round(watch.Elapsed.TotalSeconds, 2));
            section.AddMetrics(metrics);
            metrics.Save(Path.Combine(context.OutputDirectory, "metrics.json"));
            return new StudyRunResult(report.Save(context.OutputDirectory), Path.Combine(context.OutputDirectory, "metrics.json"), new Dictionary<string, Exception>());
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            section.Fail(e);
            report.Save(context.OutputDirectory);
            throw;
        }
    }

    /// <summary>
    /// Runs every study into its own sub-folder and writes one <c>index.html</c> with a section per study and one
    /// <c>metrics.json</c> (<c>report_sections</c>, the provenance, then each study's metrics under its name). A study that
    /// fails puts its error into its section; the report still completes. Cancellation stops the run and writes nothing more.
    /// </summary>
    /// <param name="studies">The studies, in report order.</param>
    /// <param name="context">Output folder, seed, device and the rest; each study gets a sub-folder named after it.</param>
    /// <param name="title">Title of the page.</param>
    /// <param name="provenance">Library version, commit and the command line that reproduces the run, shown in the
    /// report's header and written to <c>metrics.json</c>; null: the loaded library's, without a command line.</param>
    public static StudyRunResult RunAll(IReadOnlyList<Study> studies, StudyContext context, string title = "Interpretability report", ReportProvenance? provenance = null)
    {
        ArgumentNullException.ThrowIfNull(studies);
        ArgumentNullException.ThrowIfNull(context);
        provenance ??= ReportProvenance.OfLibrary();
        Directory.CreateDirectory(context.OutputDirectory);
        var report = new HtmlReport(title, Subtitle(context)) { Provenance = provenance };
        var all = new Metrics();
        all.Set("report_sections", studies.Select(s => s.Name));
        SetProvenance(all, provenance);
        all.Set("seed", context.Seed);
        all.Set("quick", context.Quick);
        var failures = new Dictionary<string, Exception>();
        var errors = new List<KeyValuePair<string, string>>();
        var watch = Stopwatch.StartNew();
        foreach (var study in studies)
        {
            var section = report.AddSection(study.Name, study.Title);
            var metrics = new Metrics();
            var sub = context.ForSubfolder(study.Name);
            Directory.CreateDirectory(sub.OutputDirectory);
            var sw = Stopwatch.StartNew();
            try
            {
                RunScoped(study, sub, section, metrics);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                section.Fail(e);
                failures[study.Name] = e;
                errors.Add(new(study.Name, $"{e.GetType().Name}: {e.Message}"));
            }
            metrics.Set("seconds", Math.Round(sw.Elapsed.TotalSeconds, 2));
            section.AddMetrics(metrics);
            all.Set(study.Name, metrics);
        }
        all.Set("report_failed_sections", errors.Select(e => e.Key));
        all.Set("seconds", Math.Round(watch.Elapsed.TotalSeconds, 2));
        var metricsPath = Path.Combine(context.OutputDirectory, "metrics.json");
        all.Save(metricsPath);
        return new StudyRunResult(report.Save(context.OutputDirectory), metricsPath, failures);
    }

    private static void RunScoped(Study study, StudyContext context, ReportSection section, Metrics metrics)
    {
        using var scope = NewDisposeScope();
        study.Run(context, section, metrics);
    }

    /// <summary>The provenance keys of <c>metrics.json</c>: <c>library_version</c>, <c>commit</c> ("unknown" for a build
    /// outside a git checkout) and <c>command_line</c> ("" for a run that did not come from a command line).</summary>
    private static void SetProvenance(Metrics metrics, ReportProvenance provenance)
    {
        metrics.Set("library_version", provenance.LibraryVersion);
        metrics.Set("commit", provenance.Commit ?? "unknown");
        metrics.Set("command_line", provenance.CommandLine ?? "");
    }

    private static string Subtitle(StudyContext c) =>
        $"seed {c.Seed}{(c.Quick ? ", quick mode" : "")}, device {c.Device.type}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, TorchSharp {torch.__version__}";
}
