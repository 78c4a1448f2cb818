using Interpretability.Cuda;

namespace Interpretability.Cuda.Tests;

/// <summary>
/// A fact that runs only where TorchSharp can use a CUDA device; elsewhere xunit reports it as skipped with the reason,
/// never as passed.
/// </summary>
public sealed class CudaFactAttribute : FactAttribute
{
    /// <summary>Skips (with the reason) when no CUDA device is usable.</summary>
    public CudaFactAttribute()
    {
        if (!DevicePolicy.CudaAvailable)
            Skip = "No CUDA device: TorchSharp sees no GPU (CPU natives, or no NVIDIA driver). Run on a GPU machine built with ./build.sh build --cuda, or use ./build.sh publish-gpu.";
    }
}
