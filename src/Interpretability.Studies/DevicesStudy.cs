using Interpretability.Cuda;
using TorchSharp;

namespace Interpretability.Studies;

/// <summary>
/// What hardware the run had: TorchSharp's CUDA availability, NVML's device list (names, memory), threads, and the
/// libtorch build — the context every timing in the report needs.
/// </summary>
public sealed class DevicesStudy : Study
{
    /// <inheritdoc />
    public override string Name => "devices";

    /// <inheritdoc />
    public override string Title => "Devices";

    /// <inheritdoc />
    public override void Run(StudyContext context, ReportSection section, Metrics metrics)
    {
        Report(context, "discovering devices", 0.1);
        var inventory = CudaDevices.Discover();
        metrics.Set("device", context.Device.ToString());
        metrics.Set("torch_version", torch.__version__);
        metrics.Set("cpu_threads", torch.get_num_threads());
        metrics.Set("openmp_wait_policy", context.Session.OpenMpWaitPolicy);
        metrics.Set("logical_cores", Environment.ProcessorCount);
        // The check of CPU convolution gradients (oneDNN is turned off where they are wrong).
        var conv = context.Session.CpuConvolution;
        if (double.IsFinite(conv.GradientErrorBefore)) metrics.Set("cpu_conv_gradient_error", conv.GradientErrorBefore);
        else metrics.Set("cpu_conv_gradient_error", "non-finite (NaN gradients)");
        metrics.Set("mkldnn_disabled", conv.MkldnnDisabled);
        metrics.Set("cuda_available", inventory.TorchCudaAvailable);
        metrics.Set("cuda_device_count", inventory.TorchDeviceCount);
        metrics.Set("gpus", inventory.Devices.Select(d => new Metrics().Set("index", d.Index).Set("name", d.Name)
            .Set("total_bytes", d.TotalBytes).Set("free_bytes", d.FreeBytes)));
        var cpu = CpuModelName();
        if (cpu is not null) metrics.Set("cpu_model", cpu);
        section.Paragraph($"Computed on {context.Device} with {torch.get_num_threads()} CPU threads ({Environment.ProcessorCount} logical cores{(cpu is null ? "" : $", {cpu}")}), libtorch {torch.__version__}. " +
                          (inventory.Devices.Count == 0 ? "No GPU: " + inventory.Note : $"{inventory.Devices.Count} GPU(s) reported by the NVIDIA driver."));
        section.Paragraph("CPU convolution check: libtorch's oneDNN (MKL-DNN) kernels have given wrong convolution input gradients on some CPUs, so before the first " +
                          "gradient the library compares a small convolution's float32 input gradient (repeatedly, since the fault comes and goes) with the float64 computation and turns oneDNN off for the process if any run differs. " +
                          (double.IsFinite(conv.GradientErrorBefore) ? $"Here the relative error was {conv.GradientErrorBefore:G2}" : "Here the gradient was not finite") +
                          (conv.MkldnnDisabled ? ", so oneDNN is off for this run (every result is computed without it)." : ", so oneDNN stays on."));
        if (inventory.Devices.Count > 0)
            section.AddTable(new Table("GPUs (NVML)", new[] { "index", "name", "total memory", "free memory" },
                inventory.Devices.Select(d => (IReadOnlyList<string>)new[] { d.Index.ToString(), d.Name, $"{d.TotalBytes / (1 << 20)} MiB", $"{d.FreeBytes / (1 << 20)} MiB" }).ToList()));
        Report(context, "done", 1);
    }

    /// <summary>The CPU's model name from <c>/proc/cpuinfo</c> (Linux), or null where it cannot be read.</summary>
    private static string? CpuModelName()
    {
        try
        {
            if (!File.Exists("/proc/cpuinfo")) return null;
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line?.Split(':', 2)[1].Trim();
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }
}
