using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>
/// The result of an attribution method: detached attributions, the per-example convergence delta where the method has
/// one and it was asked for, and scalar metadata. It owns its tensors: dispose it (a copy cannot share them, as a
/// record's <c>with</c> would).
/// </summary>
public sealed class AttributionResult : IDisposable
{
    private bool disposed;

    /// <summary>Creates a result that takes ownership of <paramref name="attributions"/> and <paramref name="convergenceDelta"/>.</summary>
    /// <param name="attributions">Attributions, detached; the shape of the explained input unless the method says otherwise
    /// (Grad-CAM: <c>[batch, 1, H, W]</c>; layer methods: the layer's output shape).</param>
    /// <param name="method">The method's name as the CLI and <c>metrics.json</c> spell it (e.g. <c>integrated_gradients</c>).</param>
    /// <param name="metadata">Scalar metadata by snake_case key (e.g. <c>convergence_delta</c>, the worst example's); null = none.</param>
    /// <param name="convergenceDelta">Per example <c>[batch]</c>: Σ attributions − (S(x) − S(x′)) (signed, as Captum's) for
    /// methods with a completeness property (integrated gradients, layer integrated gradients, DeepLift), when asked for;
    /// else null.</param>
    public AttributionResult(Tensor attributions, string method, IReadOnlyDictionary<string, double>? metadata = null, Tensor? convergenceDelta = null)
    {
        ArgumentNullException.ThrowIfNull(attributions);
        ArgumentException.ThrowIfNullOrEmpty(method);
        if (convergenceDelta is not null && (convergenceDelta.dim() != 1 || convergenceDelta.shape[0] != attributions.shape[0]))
            throw new ArgumentException($"convergenceDelta must be [batch] = [{attributions.shape[0]}]; got [{string.Join(", ", convergenceDelta.shape)}].", nameof(convergenceDelta));
        Attributions = attributions;
        Method = method;
        Metadata = metadata ?? new Dictionary<string, double>();
        ConvergenceDelta = convergenceDelta;
    }

    /// <summary>Attributions, detached (see the constructor for the shape).</summary>
    public Tensor Attributions { get; }

    /// <summary>The method's name as the CLI and <c>metrics.json</c> spell it.</summary>
    public string Method { get; }

    /// <summary>Scalar metadata by snake_case key; empty when the method has none.</summary>
    public IReadOnlyDictionary<string, double> Metadata { get; }

    /// <summary>Per-example convergence delta <c>[batch]</c> (float64 on the input's device), or null.</summary>
    public Tensor? ConvergenceDelta { get; }

    /// <summary>Moves the tensors out of the current dispose scope (the method's scope), so that the caller owns them.</summary>
    internal AttributionResult MoveToOuterDisposeScope()
    {
        Attributions.MoveToOuterDisposeScope();
        ConvergenceDelta?.MoveToOuterDisposeScope();
        return this;
    }

    /// <summary>Disposes the attributions and the convergence delta.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        Attributions.Dispose();
        ConvergenceDelta?.Dispose();
    }
}

/// <summary>Progress of one attribution call: forward passes (or quadrature chunks, or samples) done of the total.</summary>
/// <param name="Method">The method's name.</param>
/// <param name="Done">Units of work done.</param>
/// <param name="Total">Units of work in all.</param>
public sealed record AttributionProgress(string Method, long Done, long Total);

/// <summary>Checks shared by every attribution method: the target index against the model's output.</summary>
public static class AttributionChecks
{
    /// <summary>
    /// Throws <see cref="ArgumentOutOfRangeException"/> naming <paramref name="parameterName"/> when
    /// <paramref name="target"/> is not a valid index into the last dimension of <paramref name="output"/>
    /// (<c>[batch, classes]</c>).
    /// </summary>
    public static void Target(Tensor output, long target, string parameterName = "target")
    {
        var classes = output.shape[^1];
        if (target < 0 || target >= classes)
            throw new ArgumentOutOfRangeException(parameterName, target, $"{parameterName} must be a class index in [0, {classes - 1}] of the model's output [batch, {classes}]; got {target}.");
    }

    /// <summary>
    /// Throws <see cref="ArgumentException"/> naming <paramref name="parameterName"/> when <paramref name="actual"/>'s shape
    /// differs from <paramref name="expected"/>'s.
    /// </summary>
    public static void SameShape(Tensor expected, Tensor actual, string parameterName)
    {
        if (!expected.shape.SequenceEqual(actual.shape))
            throw new ArgumentException($"{parameterName} must have the input's shape [{string.Join(", ", expected.shape)}]; got [{string.Join(", ", actual.shape)}].", parameterName);
    }
}
