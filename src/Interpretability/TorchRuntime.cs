using System.Runtime.InteropServices;
using TorchSharp;

namespace Interpretability;

/// <summary>Process-wide settings of the native libtorch runtime.</summary>
public static class TorchRuntime
{
    /// <summary>
    /// Raises libtorch's C++ log threshold to ERROR, silencing warnings such as "Could not initialize NNPACK!
    /// Reason: Unsupported hardware", which libtorch 2.10 prints on every convolution on CPUs without NNPACK support.
    /// libtorch reads the <c>TORCH_CPP_LOG_LEVEL</c> variable only when Python initialises it, so this sets the exported
    /// flag <c>FLAGS_caffe2_log_level</c> of <c>libc10</c> directly. Returns false (and changes nothing) when the flag
    /// cannot be found.
    /// </summary>
    public static bool SilenceNativeWarnings()
    {
        _ = torch.get_num_threads(); // make sure TorchSharp has loaded libtorch (and so libc10)
        foreach (var name in new[] { "libc10.so", "c10", "libc10.dylib", "c10.dll" })
        {
            if (!NativeLibrary.TryLoad(name, out var handle)) continue;
            if (!NativeLibrary.TryGetExport(handle, "FLAGS_caffe2_log_level", out var flag)) continue;
            Marshal.WriteInt32(flag, 2); // 0 INFO, 1 WARNING, 2 ERROR, 3 FATAL
            return true;
        }
        return false;
    }
}
