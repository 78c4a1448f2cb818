using System.Text.RegularExpressions;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Cuda;

/// <summary>CUDA was asked for where none can be used; the message says what is missing and how to get it.</summary>
public sealed class CudaUnavailableException(string message) : InvalidOperationException(message);

/// <summary>
/// Where and how work runs: the device, the floating-point type, and whether CUDA matrix products may use TF32
/// (faster on Ampere and newer GPUs, about 10 bits of mantissa). The CLI's <c>--device</c> builds one with
/// <see cref="Resolve"/>.
/// </summary>
/// <param name="Device">The device tensors and models live on.</param>
/// <param name="DType">Floating-point type of models and inputs (float32 by default).</param>
/// <param name="AllowTF32">Allow TF32 in CUDA matmul and cuDNN convolutions; ignored on the CPU.</param>
public sealed partial record DevicePolicy(Device Device, ScalarType DType = ScalarType.Float32, bool AllowTF32 = false)
{
    [GeneratedRegex("^(cpu|cuda(:[0-9]+)?)$")]
    private static partial Regex DeviceName();

    /// <summary>The CPU, float32.</summary>
    public static DevicePolicy Cpu { get; } = new(CPU);

    /// <summary>True for <c>cpu</c>, <c>cuda</c> and <c>cuda:N</c>.</summary>
    public static bool IsValidDeviceName(string? name) => name is not null && DeviceName().IsMatch(name);

    /// <summary>True when TorchSharp's natives can run CUDA kernels here (CUDA natives referenced and a GPU present).</summary>
    public static bool CudaAvailable
    {
        get
        {
            try { return cuda.is_available(); }
            catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException) { return false; }
        }
    }

    /// <summary>
    /// Turns <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c> into a policy, checking that the device exists.
    /// </summary>
    /// <exception cref="ArgumentException">The name is not one of those forms.</exception>
    /// <exception cref="CudaUnavailableException">CUDA was asked for and cannot be used here.</exception>
    public static DevicePolicy Resolve(string name, ScalarType dtype = ScalarType.Float32, bool allowTF32 = false)
    {
        if (!IsValidDeviceName(name)) throw new ArgumentException($"Device must be 'cpu', 'cuda' or 'cuda:N'; got '{name}'.", nameof(name));
        if (name == "cpu") return new DevicePolicy(CPU, dtype, allowTF32);
        if (!CudaAvailable)
            throw new CudaUnavailableException(
                $"--device {name} was asked for, but TorchSharp sees no CUDA device. Either this machine has no NVIDIA GPU/driver, " +
                "or the program was built with the CPU natives (the default). Build with './build.sh build --cuda' " +
                "(-p:TorchBackend=cuda, references TorchSharp-cuda-linux) on a machine with an NVIDIA driver, or use --device cpu.");
        var index = name.Contains(':') ? int.Parse(name[(name.IndexOf(':') + 1)..]) : 0;
        var count = cuda.device_count();
        if (index >= count) throw new CudaUnavailableException($"--device {name} was asked for, but only {count} CUDA device(s) exist (cuda:0..cuda:{count - 1}).");
        return new DevicePolicy(new Device(DeviceType.CUDA, index), dtype, allowTF32);
    }

    /// <summary>Applies the TF32 switches (process-wide, CUDA only).</summary>
    public void Apply()
    {
        if (Device.type != DeviceType.CUDA) return;
        backends.cuda.matmul.allow_tf32 = AllowTF32;
        backends.cudnn.allow_tf32 = AllowTF32;
    }
}
