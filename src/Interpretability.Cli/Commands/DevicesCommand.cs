using System.CommandLine;
using Interpretability.Cuda;
using Interpretability.Studies;

namespace Interpretability.Cli.Commands;

/// <summary><c>interp devices --out DIR</c>: CUDA availability, GPUs with names and memory (NVML), threads.</summary>
public sealed class DevicesCommand : StudyCommand
{
    /// <inheritdoc />
    public override string Name => "devices";

    /// <inheritdoc />
    public override string Description => "List the compute devices: CUDA availability, GPU names and memory (via NVML), CPU threads.";

    /// <inheritdoc />
    public override void AddOptions(Command command) { }

    /// <inheritdoc />
    public override Study CreateStudy(ParseResult parse, bool quick) => new DevicesStudy();
}
