using TorchSharp;

namespace Interpretability;

/// <summary>
/// Scalars that live as long as the process. TorchSharp turns a C# number given to a tensor operation into a temporary
/// <see cref="Scalar"/> whose finalizer frees its native value, and nothing keeps the temporary alive while the native
/// operation runs: a garbage collection during the call can free the value under it (seen as "Expected false to be
/// true … Scalar.h" aborting a long feature-visualisation run, and as "INTERNAL ASSERT FAILED at Scalar.h"). Code that runs
/// thousands of times per call (autograd rules, optimisation steps) uses these instead of literals.
/// </summary>
internal static class Scalars
{
    /// <summary>0.</summary>
    internal static readonly Scalar Zero = 0.0.ToScalar();

    /// <summary>1.</summary>
    internal static readonly Scalar One = 1.0.ToScalar();
}
