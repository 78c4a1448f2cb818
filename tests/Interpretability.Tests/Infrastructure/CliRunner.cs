using Interpretability.Cli;

namespace Interpretability.Tests.Infrastructure;

/// <summary>Runs the <c>interp</c> CLI in-process and captures its output.</summary>
internal static class CliRunner
{
    /// <summary>Runs <c>interp</c> with <paramref name="args"/>; returns the exit code, stdout and stderr.</summary>
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = InterpCli.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }
}

/// <summary>Runs the <c>interp</c> CLI in a process of its own (its own process-wide settings, its own memory).</summary>
internal static class CliProcess
{
    /// <summary>Runs <c>dotnet interp.dll ARGS</c> from the test binaries; returns the exit code and stdout + stderr.</summary>
    /// <param name="timeout">The process is killed (with its children) after this long, and the test fails.</param>
    /// <param name="args">The CLI's arguments.</param>
    public static async Task<(int Code, string Output)> RunAsync(TimeSpan timeout, params string[] args)
    {
        var host = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
        var start = new System.Diagnostics.ProcessStartInfo(host)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "interp.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = System.Diagnostics.Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"interp {string.Join(' ', args)} ran longer than {timeout}.");
        }
        return (process.ExitCode, await stdout + await stderr);
    }
}
