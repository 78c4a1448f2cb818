namespace Interpretability.Cuda.Tests;

/// <summary>
/// The GPU self-checks as xunit tests. Each is reported as skipped, with the reason, where its prerequisite is missing —
/// never as passed.
/// </summary>
public class GpuSelfCheckTests
{
    private static void Verify(CheckResult result)
    {
        // The attributes already skip where the device is missing; a check that still skips here lacks something else.
        Assert.True(result.Status == CheckStatus.Passed, $"{result.Name}: {result.Detail}");
    }

    [IlgpuCudaFact]
    public void Fused_kernel_gpu_equals_ilgpu_cpu() => Verify(GpuSelfCheck.FusedKernelGpuVersusCpu());

    [CudaFact]
    public void Torch_cuda_matmul_equals_cpu() => Verify(GpuSelfCheck.TorchCudaMatmul());

    [IlgpuCudaFact]
    public void Fused_kernel_gpu_equals_torch_cpu() => Verify(GpuSelfCheck.FusedKernelGpuVersusTorch());

    [CudaFact]
    public void Out_of_gpu_memory_is_a_clear_exception() => Verify(GpuSelfCheck.TorchCudaOutOfMemory());
}
