using Interpretability.Cuda;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Cuda.Tests;

public class DevicePolicyCudaTests
{
    [CudaFact]
    public void Cuda_device_resolves_and_computes_like_the_cpu()
    {
        var policy = DevicePolicy.Resolve("cuda");
        Assert.Equal(DeviceType.CUDA, policy.Device.type);
        using var gen = new Generator(1);
        var a = randn(new long[] { 64, 64 }, generator: gen);
        var cpu = a.matmul(a);
        var gpu = a.to(policy.Device).matmul(a.to(policy.Device)).cpu();
        Assert.True(cpu.allclose(gpu, rtol: 1e-4, atol: 1e-4));
    }
}
