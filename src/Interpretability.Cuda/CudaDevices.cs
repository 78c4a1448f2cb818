using System.Runtime.InteropServices;
using System.Text;
using TorchSharp;

namespace Interpretability.Cuda;

/// <summary>One CUDA device as the driver reports it.</summary>
/// <param name="Index">CUDA device index (<c>cuda:Index</c>).</param>
/// <param name="Name">Product name, e.g. "NVIDIA H100 80GB HBM3".</param>
/// <param name="TotalBytes">Total device memory.</param>
/// <param name="FreeBytes">Free device memory at the time of the query.</param>
public sealed record CudaDeviceInfo(int Index, string Name, long TotalBytes, long FreeBytes);

/// <summary>What the machine offers: whether TorchSharp can run CUDA, and the devices the NVIDIA driver reports.</summary>
/// <param name="TorchCudaAvailable">TorchSharp's natives can run CUDA kernels (CUDA natives loaded and a GPU present).</param>
/// <param name="TorchDeviceCount">Devices TorchSharp sees (0 without CUDA natives).</param>
/// <param name="Devices">Devices from NVML (names and memory), empty when the driver library is absent.</param>
/// <param name="Note">Why information is missing, for a person; empty when everything was found.</param>
public sealed record CudaInventory(bool TorchCudaAvailable, int TorchDeviceCount, IReadOnlyList<CudaDeviceInfo> Devices, string Note);

/// <summary>
/// Device discovery. TorchSharp 0.107 reports availability and the device count but no names or memory, so those come
/// from NVML (<c>libnvidia-ml.so.1</c>, part of the NVIDIA driver) through P/Invoke. Everything fails soft: on a machine
/// without a driver the inventory is empty and says why.
/// </summary>
public static class CudaDevices
{
    /// <summary>Queries TorchSharp and NVML.</summary>
    public static CudaInventory Discover()
    {
        var notes = new List<string>();
        var torchCuda = DevicePolicy.CudaAvailable;
        var torchCount = 0;
        if (torchCuda) torchCount = torch.cuda.device_count();
        else notes.Add("TorchSharp sees no CUDA device (CPU natives, or no GPU/driver).");
        var devices = new List<CudaDeviceInfo>();
        try
        {
            devices.AddRange(Nvml.Query());
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            notes.Add("NVML (libnvidia-ml.so.1) is not present: no NVIDIA driver on this machine.");
        }
        catch (InvalidOperationException e)
        {
            notes.Add(e.Message);
        }
        return new CudaInventory(torchCuda, torchCount, devices, string.Join(" ", notes));
    }

    /// <summary>Minimal NVML binding: init, count, name, memory, shutdown.</summary>
    private static class Nvml
    {
        private const string Lib = "libnvidia-ml.so.1";

        [StructLayout(LayoutKind.Sequential)]
        private struct Memory { public ulong Total; public ulong Free; public ulong Used; }

        [DllImport(Lib, EntryPoint = "nvmlInit_v2")] private static extern int Init();
        [DllImport(Lib, EntryPoint = "nvmlShutdown")] private static extern int Shutdown();
        [DllImport(Lib, EntryPoint = "nvmlDeviceGetCount_v2")] private static extern int GetCount(out uint count);
        [DllImport(Lib, EntryPoint = "nvmlDeviceGetHandleByIndex_v2")] private static extern int GetHandle(uint index, out IntPtr device);
        [DllImport(Lib, EntryPoint = "nvmlDeviceGetName")] private static extern int GetName(IntPtr device, byte[] name, uint length);
        [DllImport(Lib, EntryPoint = "nvmlDeviceGetMemoryInfo")] private static extern int GetMemory(IntPtr device, out Memory memory);

        public static IEnumerable<CudaDeviceInfo> Query()
        {
            var rc = Init();
            if (rc != 0) throw new InvalidOperationException($"NVML did not initialise (code {rc}); the NVIDIA driver may not be loaded.");
            try
            {
                Check(GetCount(out var count), "nvmlDeviceGetCount");
                var list = new List<CudaDeviceInfo>();
                for (uint i = 0; i < count; i++)
                {
                    Check(GetHandle(i, out var handle), "nvmlDeviceGetHandleByIndex");
                    var buffer = new byte[96];
                    Check(GetName(handle, buffer, (uint)buffer.Length), "nvmlDeviceGetName");
                    Check(GetMemory(handle, out var mem), "nvmlDeviceGetMemoryInfo");
                    var name = Encoding.ASCII.GetString(buffer, 0, Math.Max(0, Array.IndexOf(buffer, (byte)0)));
                    list.Add(new CudaDeviceInfo((int)i, name, (long)mem.Total, (long)mem.Free));
                }
                return list;
            }
            finally
            {
                Shutdown();
            }
        }

        private static void Check(int rc, string what)
        {
            if (rc != 0) throw new InvalidOperationException($"{what} failed with NVML code {rc}.");
        }
    }
}
