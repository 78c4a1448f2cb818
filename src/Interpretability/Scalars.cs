using TorchSharp;

namespace Interpretability;

/// <summary>
/// Scalars that live as long as the process. TorchSharp turns a C# number given to a tensor operation into a temporary
/// <see cref="Scalar"/> whose finalizer frees its native value, and nothing keeps the temporary alive while the native
/// operation runs: a garbage collection during the call can free the value under it (seen as "Expected false to be
/// true … Scalar.h" aborting a long feature-visualisation run, and as "INTERNAL ASSERT FAILED at Scalar.h"). The library
/// therefore never converts a number to a <see cref="Scalar"/> implicitly (an architecture test reads the IL of every
/// method, closures and iterators included, and fails on any call of <c>Scalar.op_Implicit</c>): a constant comes from
/// here (or from a <c>static readonly</c> field of the class that uses it), a computed value is held in a
/// <c>using var s = value.ToScalar();</c> declared before the operation, so it stays reachable until the call returns.
/// Each scalar keeps the type of the literal it replaces (an <see cref="int"/> scalar leaves an integer tensor integer,
/// a <see cref="double"/> one would promote it), so results are unchanged. The rule covers our IL only: TorchSharp's
/// own overloads still make temporaries inside (<c>t * 0.5</c> compiles to <c>Tensor.op_Multiply(Tensor, double)</c>,
/// <c>a + b</c> passes an <c>alpha</c> of 1, <c>square()</c> is <c>pow(2)</c>).
/// </summary>
internal static class Scalars
{
    /// <summary>0.</summary>
    internal static readonly Scalar Zero = 0.0.ToScalar();

    /// <summary>0.5.</summary>
    internal static readonly Scalar Half = 0.5.ToScalar();

    /// <summary>1.</summary>
    internal static readonly Scalar One = 1.0.ToScalar();

    /// <summary>−1.</summary>
    internal static readonly Scalar MinusOne = (-1.0).ToScalar();

    /// <summary>0.5f (a <see cref="float"/>).</summary>
    internal static readonly Scalar HalfFloat = 0.5f.ToScalar();

    /// <summary>The integer 0.</summary>
    internal static readonly Scalar IntZero = 0.ToScalar();

    /// <summary>The integer 1.</summary>
    internal static readonly Scalar IntOne = 1.ToScalar();

    /// <summary>The integer 2.</summary>
    internal static readonly Scalar IntTwo = 2.ToScalar();

    /// <summary>The integer −1.</summary>
    internal static readonly Scalar IntMinusOne = (-1).ToScalar();

    /// <summary>The boolean true.</summary>
    internal static readonly Scalar True = true.ToScalar();
}
