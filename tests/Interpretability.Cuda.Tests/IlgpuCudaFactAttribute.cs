namespace Interpretability.Cuda.Tests;

/// <summary>A fact that runs only where ILGPU sees a CUDA device (the NVIDIA driver alone suffices).</summary>
public sealed class IlgpuCudaFactAttribute : FactAttribute
{
    /// <summary>Skips (with the reason) when ILGPU finds no CUDA device.</summary>
    public IlgpuCudaFactAttribute()
    {
        try
        {
            using var k = new FusedSynapseKernel(KernelAccelerator.Cuda);
        }
        catch (InvalidOperationException e)
        {
            Skip = "No CUDA device for ILGPU: " + e.Message;
        }
    }
}
