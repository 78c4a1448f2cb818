using System.Text.Json;
using Interpretability.Cuda;

namespace Interpretability.Benchmarks;

/// <summary><c>Interpretability.Benchmarks --gpu-checks DIR</c>: runs <see cref="GpuSelfCheck"/> (no .NET SDK needed) and
/// writes <c>DIR/gpu-checks.json</c>; exit code 1 when a check failed.</summary>
public static class GpuChecks
{
    /// <summary>Runs the checks and writes the results.</summary>
    public static int Run(string directory)
    {
        Directory.CreateDirectory(directory);
        var results = GpuSelfCheck.RunAll();
        foreach (var r in results) Console.WriteLine($"{r.Status,-8} {r.Name,-40} {r.Seconds,6:0.00} s  {r.Detail}");
        var json = JsonSerializer.Serialize(results.Select(r => new { name = r.Name, status = r.Status.ToString().ToLowerInvariant(), detail = r.Detail, seconds = r.Seconds }),
            new JsonSerializerOptions { WriteIndented = true });
        Interpretability.AtomicFile.WriteAllText(Path.Combine(directory, "gpu-checks.json"), json + "\n");
        Console.WriteLine($"gpu checks: {results.Count(r => r.Status == CheckStatus.Passed)} passed, {results.Count(r => r.Status == CheckStatus.Failed)} failed, {results.Count(r => r.Status == CheckStatus.Skipped)} skipped");
        return results.Any(r => r.Status == CheckStatus.Failed) ? 1 : 0;
    }
}
