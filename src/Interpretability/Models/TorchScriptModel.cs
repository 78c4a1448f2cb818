using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Models;

/// <summary>
/// Loads TorchScript modules (<c>torch.jit.save</c> of a <c>torch.jit.trace</c>/<c>script</c> in PyTorch) for the
/// library. Input-level methods (saliency, integrated gradients, occlusion, LIME, feature visualisation of outputs) run
/// on them unchanged. Their submodules are TorchScript, not TorchSharp modules, so they cannot carry forward hooks:
/// layer capture and patching of a TorchScript model throw a clear error naming the layer (load the weights into a
/// matching C# module with <see cref="TorchSharpWeights"/> to hook its layers).
/// </summary>
public static class TorchScriptModel
{
    /// <summary>Loads a TorchScript file as a module from tensor to tensor, in eval mode, on the CPU.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a TorchScript archive.</exception>
    public static nn.Module<Tensor, Tensor> Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"TorchScript file '{path}' does not exist.", path);
        try
        {
            var module = new TorchScriptAdapter(jit.load<Tensor, Tensor>(path));
            module.eval();
            return module;
        }
        catch (Exception e) when (e is ExternalException or ArgumentException or InvalidOperationException)
        {
            throw new InvalidDataException($"'{path}' is not a loadable TorchScript file ({FirstLine(e.Message)}).", e);
        }
    }

    /// <summary>Whether <paramref name="module"/> is a TorchScript module (its layers cannot be hooked).</summary>
    public static bool IsTorchScript(nn.Module module) => module is jit.ScriptModule or TorchScriptAdapter;

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();
}

/// <summary>
/// A TorchScript module seen as a TorchSharp <c>Module&lt;Tensor, Tensor&gt;</c>: forward hooks on the whole model work,
/// parameters are the script's (submodule <c>script</c>), and its layers appear as <c>script.0</c>, <c>script.1</c>, … —
/// which Probing reports as not hookable, naming the layer.
/// </summary>
public sealed class TorchScriptAdapter : nn.Module<Tensor, Tensor>
{
    private readonly jit.ScriptModule<Tensor, Tensor> script;

    /// <summary>Wraps <paramref name="script"/> (the adapter owns and disposes it).</summary>
    public TorchScriptAdapter(jit.ScriptModule<Tensor, Tensor> script) : base("TorchScript")
    {
        this.script = script ?? throw new ArgumentNullException(nameof(script));
        register_module("script", script);
    }

    /// <summary>Runs the script's forward on <paramref name="input"/>.</summary>
    /// <param name="input">Any shape the script accepts (e.g. images <c>[N, 3, H, W]</c>), on the script's device (the
    /// CPU after <see cref="TorchScriptModel.Load"/>).</param>
    /// <returns>The script's output (e.g. logits <c>[N, classes]</c>).</returns>
    public override Tensor forward(Tensor input) => script.call(input);

    /// <summary>Disposes the script once: TorchSharp's base disposal would walk the script's submodules after freeing it.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _internal_submodules.Clear();
            script.Dispose();
        }
        base.Dispose(disposing);
    }
}
