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
