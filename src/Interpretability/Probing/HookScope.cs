using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Probing;

/// <summary>
/// A set of forward hooks that live exactly as long as this object: <see cref="Dispose()"/> removes every one of them,
/// also when the forward pass that ran under them threw. TorchSharp's <c>HookRemover</c> is not <see cref="IDisposable"/>;
/// this class is the <c>using</c>-friendly owner every probe and intervention builds on.
/// </summary>
public class HookScope : IDisposable
{
    private readonly List<Action> removers = new();
    private readonly List<IDisposable> owned = new();
    private bool disposed;

    /// <summary>The model whose layers this scope hooks.</summary>
    public nn.Module Model { get; }

    /// <summary>Creates an empty scope over <paramref name="model"/>.</summary>
    public HookScope(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
    }

    /// <summary>Number of hooks currently registered by this scope.</summary>
    public int HookCount => removers.Count;

    /// <summary>
    /// Registers a post-forward hook on the layer at <paramref name="path"/>. The hook receives the layer's input and
    /// output and returns a replacement output, or <c>null</c> to keep it.
    /// </summary>
    /// <param name="path">Layer path.</param>
    /// <param name="hook">Receives the layer's input and output (the layer's own shapes, e.g.
    /// <c>[batch, channels, height, width]</c>); a replacement must have the output's shape.</param>
    public void AddForwardHook(string path, Func<Tensor, Tensor, Tensor?> hook)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(hook);
        var layer = LayerPath.FindHookable(Model, path);
        var remover = layer.register_forward_hook((_, input, output) => hook(input, output)!);
        removers.Add(remover.remove);
    }

    /// <summary>
    /// Registers a pre-forward hook on the layer at <paramref name="path"/>: returns a replacement input, or
    /// <c>null</c>.
    /// </summary>
    /// <param name="path">Layer path.</param>
    /// <param name="hook">Receives the layer's input (its own shape); returns a replacement the layer accepts, or
    /// <c>null</c>.</param>
    public void AddForwardPreHook(string path, Func<Tensor, Tensor?> hook)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(hook);
        var layer = LayerPath.FindHookable(Model, path);
        var remover = layer.register_forward_pre_hook((_, input) => hook(input)!);
        removers.Add(remover.remove);
    }

    /// <summary>Makes this scope dispose <paramref name="resource"/> (e.g. a tensor its hooks read) when it ends.</summary>
    public T Own<T>(T resource) where T : IDisposable
    {
        ThrowIfDisposed();
        owned.Add(resource);
        return resource;
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> once the hooks are gone.</summary>
    protected void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(disposed, this);

    /// <summary>Removes every hook of this scope. Safe to call twice.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        foreach (var remove in removers) remove();
        removers.Clear();
        foreach (var resource in owned) resource.Dispose();
        owned.Clear();
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases what a derived scope owns, after its hooks are removed.</summary>
    protected virtual void Dispose(bool disposing) { }
}
