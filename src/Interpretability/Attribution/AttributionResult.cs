using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>
/// The result of an attribution method: detached attributions shaped like the input they explain, plus the method's
/// metadata (e.g. integrated gradients' convergence delta). The caller owns and disposes it.
/// </summary>
/// <param name="Attributions">Attributions, the shape of the explained input (e.g. <c>[batch, channels, height, width]</c>), detached.</param>
/// <param name="Method">The method's name as the CLI and <c>metrics.json</c> spell it (e.g. <c>integrated_gradients</c>).</param>
/// <param name="Metadata">Scalar metadata by snake_case key (e.g. <c>convergence_delta</c>); empty when the method has none.</param>
public sealed record AttributionResult(Tensor Attributions, string Method, IReadOnlyDictionary<string, double> Metadata) : IDisposable
{
    /// <summary>Creates a result without metadata.</summary>
    public AttributionResult(Tensor attributions, string method) : this(attributions, method, new Dictionary<string, double>()) { }

    /// <summary>Disposes the attributions tensor.</summary>
    public void Dispose() => Attributions.Dispose();
}

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
