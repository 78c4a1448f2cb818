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
        section.Paragraph($"Computed on {context.Device} with {torch.get_num_threads()} CPU threads ({Environment.ProcessorCount} logical cores), libtorch {torch.__version__}. " +
                          (inventory.Devices.Count == 0 ? "No GPU: " + inventory.Note : $"{inventory.Devices.Count} GPU(s) reported by the NVIDIA driver."));
        if (inventory.Devices.Count > 0)
            section.AddTable(new Table("GPUs (NVML)", new[] { "index", "name", "total memory", "free memory" },
                inventory.Devices.Select(d => (IReadOnlyList<string>)new[] { d.Index.ToString(), d.Name, $"{d.TotalBytes / (1 << 20)} MiB", $"{d.FreeBytes / (1 << 20)} MiB" }).ToList()));
        Report(context, "done", 1);
    }
}
