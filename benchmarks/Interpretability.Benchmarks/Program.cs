using BenchmarkDotNet.Running;
using Interpretability.Benchmarks;

// Runs the suite (BenchmarkSwitcher takes --filter, --list, --job ...), then writes one results fragment per benchmark
// class into benchmarks/results/ and regenerates benchmarks/RESULTS.md from all fragments.
if (args.Length >= 1 && args[0] == "--gpu-checks")
    return GpuChecks.Run(args.Length >= 2 ? args[1] : "gpu-results");
if (Interpretability.Cuda.NativeLibtorch.LoadFromEnvironment()) Console.WriteLine("libtorch loaded from " + Environment.GetEnvironmentVariable(Interpretability.Cuda.NativeLibtorch.DirectoryVariable));
try { _ = BenchSession.Current; }
catch (Exception e) when (e is DllNotFoundException or TypeInitializationException) { Console.WriteLine("libtorch not available: only the ILGPU benchmarks can run"); }
var resultsDir = Environment.GetEnvironmentVariable("INTERP_RESULTS_DIR");
// Our own in-process switch (BenchmarkDotNet's --inProcess has a short time limit).
BenchConfig.InProcess = args.Contains("--inProcess", StringComparer.OrdinalIgnoreCase);
args = args.Where(a => !a.Equals("--inProcess", StringComparison.OrdinalIgnoreCase)).ToArray();
var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, new BenchConfig()).ToList();
if (resultsDir is not null && summaries.Count > 0)
{
    var written = ResultsWriter.Write(summaries, resultsDir);
    Console.WriteLine($"results: {written.Count} fragment(s) written; RESULTS.md regenerated in {Path.GetDirectoryName(Path.GetFullPath(resultsDir))}");
}
Console.WriteLine($"executed benchmarks: {summaries.Sum(s => s.Reports.Count(r => r.Success))}");
return 0;

/// <summary>Entry point type (for the assembly scan).</summary>
public partial class Program;
