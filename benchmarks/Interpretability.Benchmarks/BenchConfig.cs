using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Exporters.Json;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;

namespace Interpretability.Benchmarks;

/// <summary>
/// The suite's configuration: a short job (3 warm-ups, 5–10 measured iterations; the kernels take milliseconds to
/// seconds, so this keeps the whole suite in minutes on a 2-core machine), memory diagnoser, ratio to the
/// <c>[Benchmark(Baseline = true)]</c> method, GitHub-markdown and JSON exports.
/// </summary>
public sealed class BenchConfig : ManualConfig
{
    /// <summary>Set by <c>--inProcess</c>: run benchmarks inside this process (no .NET SDK needed, e.g. in the GPU archive),
    /// with a generous time limit because the GPU benchmarks' CPU baselines take seconds per call.</summary>
    public static bool InProcess { get; set; }

    /// <summary>Creates the configuration.</summary>
    public BenchConfig()
    {
        var job = Job.Default.WithWarmupCount(3).WithMinIterationCount(5).WithMaxIterationCount(10).WithId("Short");
        if (InProcess) job = job.WithToolchain(new BenchmarkDotNet.Toolchains.InProcess.Emit.InProcessEmitToolchain(TimeSpan.FromHours(2), logOutput: true));
        AddJob(job);
        AddLogger(BenchmarkDotNet.Loggers.ConsoleLogger.Default);
        AddDiagnoser(MemoryDiagnoser.Default);
        AddColumnProvider(DefaultColumnProviders.Instance);
        AddExporter(MarkdownExporter.GitHub, JsonExporter.Full);
        WithSummaryStyle(SummaryStyle.Default.WithRatioStyle(RatioStyle.Value));
        WithOptions(ConfigOptions.DisableOptimizationsValidator | ConfigOptions.JoinSummary);
    }
}
