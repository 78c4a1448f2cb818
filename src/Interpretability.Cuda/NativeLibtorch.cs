using System.Runtime.InteropServices;
using TorchSharp;

namespace Interpretability.Cuda;

/// <summary>
/// Loads libtorch from an existing installation instead of a NuGet natives package — e.g. the <c>lib/</c> folder of a
/// libtorch 2.10 CUDA zip, or <c>site-packages/torch/lib</c> of a matching PyTorch wheel.
/// </summary>
/// <remarks>
/// TorchSharp loads its natives by name (<c>torch_cuda</c> or <c>torch_cpu</c>, then <c>LibTorchSharp</c>, whose glue
/// library ships inside the managed TorchSharp package). Loading the installation's libraries by full path first makes
/// those by-name loads find them (the dynamic loader matches already-loaded libraries by soname), so no natives package
/// and no <c>LD_LIBRARY_PATH</c> are needed. The installation must be libtorch 2.10 (the version TorchSharp 0.107 was
/// built against, C++11 ABI). Build the application with <c>-p:TorchBackend=external</c> so it references no natives
/// package, and set <c>INTERP_LIBTORCH_DIR</c> (the CLI reads it) or call <see cref="LoadFrom"/> before any tensor op.
/// </remarks>
public static class NativeLibtorch
{
    /// <summary>The environment variable the CLI reads: a folder holding libtorch's shared libraries.</summary>
    public const string DirectoryVariable = "INTERP_LIBTORCH_DIR";

    /// <summary>
    /// Loads libtorch from <paramref name="directory"/> and initialises TorchSharp on it (CUDA when the folder has
    /// <c>libtorch_cuda.so</c>). Returns the device type initialised.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">The folder lacks <c>libtorch.so</c>, <c>libtorch_cpu.so</c> or <c>libc10.so</c>.</exception>
    public static DeviceType LoadFrom(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"{DirectoryVariable} / libtorch folder '{directory}' does not exist.");
        string Lib(string name) => Path.Combine(directory, $"lib{name}.so");
        foreach (var required in new[] { "c10", "torch_cpu", "torch" })
            if (!File.Exists(Lib(required)))
                throw new FileNotFoundException($"'{directory}' is not a libtorch lib folder: lib{required}.so is missing.", Lib(required));
        var cuda = File.Exists(Lib("torch_cuda"));
        // Dependencies first; RUNPATH=$ORIGIN in libtorch's libraries resolves the rest from the same folder.
        var order = cuda ? new[] { "c10", "c10_cuda", "torch_cpu", "torch_cuda", "torch" } : new[] { "c10", "torch_cpu", "torch" };
        foreach (var name in order)
            if (File.Exists(Lib(name))) NativeLibrary.Load(Lib(name));
        var type = cuda ? DeviceType.CUDA : DeviceType.CPU;
        torch.InitializeDeviceType(type);
        return type;
    }

    /// <summary>Loads libtorch from <see cref="DirectoryVariable"/> when it is set; returns false when it is not.</summary>
    public static bool LoadFromEnvironment()
    {
        var dir = Environment.GetEnvironmentVariable(DirectoryVariable);
        if (string.IsNullOrEmpty(dir)) return false;
        LoadFrom(dir);
        return true;
    }
}
