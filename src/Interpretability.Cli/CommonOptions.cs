using System.CommandLine;
using System.CommandLine.Parsing;

namespace Interpretability.Cli;

/// <summary>Options every study command shares: output folder, seed, threads, device, quick mode and verbosity.</summary>
public sealed class CommonOptions
{
    /// <summary>--out DIR (required).</summary>
    public Option<string> Out { get; } = new("--out", "-o") { Description = "Folder to write pictures, metrics.json and index.html into.", Required = true };

    /// <summary>--seed N.</summary>
    public Option<int> Seed { get; } = new("--seed") { Description = "Seed of everything random.", DefaultValueFactory = _ => 0 };

    /// <summary>--threads N.</summary>
    public Option<int?> Threads { get; } = new("--threads") { Description = "CPU threads for TorchSharp (default: libtorch's, one per physical core; idle threads sleep instead of spinning)." };

    /// <summary>--device cpu|cuda.</summary>
    public Option<string> Device { get; } = new("--device") { Description = "Device to compute on: cpu or cuda (cuda:N for the N-th GPU).", DefaultValueFactory = _ => "cpu" };

    /// <summary>--quick.</summary>
    public Option<bool> Quick { get; } = new("--quick") { Description = "Small sizes and few steps: seconds instead of minutes." };

    /// <summary>--quiet.</summary>
    public Option<bool> Quiet { get; } = new("--quiet", "-q") { Description = "No progress output (for scripts)." };

    /// <summary>--verbose.</summary>
    public Option<bool> Verbose { get; } = new("--verbose") { Description = "Print stack traces of failures." };

    /// <summary>Creates the options with their validators.</summary>
    public CommonOptions()
    {
        Threads.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is int v && v < 1) r.AddError($"--threads must be at least 1; got {v}.");
        });
        Device.Validators.Add(r =>
        {
            var v = r.GetValueOrDefault<string>();
            if (!Interpretability.Cuda.DevicePolicy.IsValidDeviceName(v))
                r.AddError($"--device must be 'cpu', 'cuda' or 'cuda:N'; got '{v}'.");
        });
        Out.Validators.Add(r =>
        {
            var v = r.GetValueOrDefault<string>();
            if (string.IsNullOrWhiteSpace(v)) r.AddError("--out must name a folder.");
            else if (File.Exists(v)) r.AddError($"--out '{v}' is a file; it must be a folder (existing or new).");
        });
    }

    /// <summary>Adds all the options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Out, Seed, Threads, Device, Quick, Quiet, Verbose }) command.Options.Add(o);
    }

    /// <summary>A validator: the integer option must be at least 1.</summary>
    public static void Positive(OptionResult r, string name)
    {
        var v = r.GetValueOrDefault<int>();
        if (v < 1) r.AddError($"{name} must be at least 1; got {v}.");
    }

    /// <summary>A validator: the number must lie in [min, max].</summary>
    public static Action<OptionResult> InRange(string name, double min, double max) => r =>
    {
        var v = r.GetValueOrDefault<double>();
        if (!(v >= min && v <= max)) r.AddError($"{name} must be in [{min}, {max}]; got {v}.");
    };
}
