using BenchmarkDotNet.Running;
using Interpretability.Benchmarks;

// Runs the suite (BenchmarkSwitcher takes --filter, --list, --job ...), then writes one results fragment per benchmark
// class into benchmarks/results/ and regenerates benchmarks/RESULTS.md from all fragments.
Interpretability.TorchRuntime.SilenceNativeWarnings();
var resultsDir = Environment.GetEnvironmentVariable("INTERP_RESULTS_DIR");
var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, new BenchConfig()).ToList();
if (resultsDir is not null && summaries.Count > 0)
{
    var written = ResultsWriter.Write(summaries, resultsDir);
    Console.WriteLine($"results: {written.Count} fragment(s) written; RESULTS.md regenerated in {Path.GetDirectoryName(Path.GetFullPath(resultsDir))}");
}
Console.WriteLine($"executed benchmarks: {summaries.Sum(s => s.Reports.Count(r => r.Success))}");

/// <summary>Entry point type (for the assembly scan).</summary>
public partial class Program;
