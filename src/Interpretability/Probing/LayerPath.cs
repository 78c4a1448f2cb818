using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Probing;

/// <summary>
/// Resolves layers of a module tree by their <c>named_modules()</c> path (<c>"features.3"</c>, <c>"conv1"</c>).
/// The empty path <c>""</c> names the root module itself.
/// </summary>
public static class LayerPath
{
    /// <summary>All addressable paths of <paramref name="model"/> in <c>named_modules()</c> order, the root (<c>""</c>) excluded.</summary>
    /// <param name="model">Any TorchSharp module, including a TorchScript module from <c>torch.jit.load</c>.</param>
    public static IReadOnlyList<string> All(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.named_modules().Select(t => t.Item1).ToList();
    }

    /// <summary>
    /// Finds the module at <paramref name="path"/>.
    /// </summary>
    /// <param name="model">The root module.</param>
    /// <param name="path">A <c>named_modules()</c> path, or <c>""</c> for the root.</param>
    /// <exception cref="ArgumentException">No module has that path; the message lists the paths that exist.</exception>
    public static nn.Module Find(nn.Module model, string path)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0) return model;
        foreach (var (name, module) in model.named_modules())
            if (name == path) return module;
        throw UnknownPath(model, path, nameof(path));
    }

    /// <summary>
    /// Finds a hookable single-tensor layer at <paramref name="path"/> (every <c>Module&lt;Tensor, Tensor&gt;</c> is hookable).
    /// </summary>
    /// <exception cref="ArgumentException">The path does not exist (the message lists the real ones), or the module at
    /// it cannot carry forward hooks (e.g. a TorchScript submodule), with the reason.</exception>
    public static nn.Module<Tensor, Tensor> FindHookable(nn.Module model, string path)
    {
        var module = Find(model, path);
        if (module is nn.Module<Tensor, Tensor> hookable) return hookable;
        var kind = module.GetType().Name;
        var why = module is jit.ScriptModule
            ? "it is a submodule of a TorchScript model; TorchSharp gives TorchScript submodules no forward hooks. " +
              "Load the weights into a matching C# module (see the README, 'Bring your own model') to probe inner layers, " +
              "or use input-level methods on the whole model."
            : "it does not map one tensor to one tensor (it is not a Module<Tensor, Tensor>), so it has no tensor forward hooks.";
        throw new ArgumentException($"Layer '{path}' ({kind}) cannot be hooked: {why}", nameof(path));
    }

    internal static ArgumentException UnknownPath(nn.Module model, string path, string paramName)
    {
        var paths = All(model);
        var list = paths.Count == 0 ? "(the model has no submodules)" : string.Join(", ", paths.Select(p => $"'{p}'"));
        return new ArgumentException($"No layer named '{path}' in {model.GetName()}. Layers that exist: {list}.", paramName);
    }
}
