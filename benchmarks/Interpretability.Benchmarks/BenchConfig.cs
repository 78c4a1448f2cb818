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
    /// <summary>Creates the configuration.</summary>
    public BenchConfig()
    {
        AddJob(Job.Default.WithWarmupCount(3).WithMinIterationCount(5).WithMaxIterationCount(10).WithId("Short"));
        AddLogger(BenchmarkDotNet.Loggers.ConsoleLogger.Default);
        AddDiagnoser(MemoryDiagnoser.Default);
        AddColumnProvider(DefaultColumnProviders.Instance);
        AddExporter(MarkdownExporter.GitHub, JsonExporter.Full);
        WithSummaryStyle(SummaryStyle.Default.WithRatioStyle(RatioStyle.Value));
        WithOptions(ConfigOptions.DisableOptimizationsValidator | ConfigOptions.JoinSummary);
    }
}
