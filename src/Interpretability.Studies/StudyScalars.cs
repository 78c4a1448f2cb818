using TorchSharp;

namespace Interpretability.Studies;

/// <summary>
/// Scalars that live as long as the process, for the studies' code that runs once per picture (see the library's
/// <c>Scalars</c>: TorchSharp's temporary scalars from C# numbers can be freed by a collection during a native call).
/// </summary>
internal static class StudyScalars
{
    internal static readonly Scalar Zero = 0.0.ToScalar();
    internal static readonly Scalar One = 1.0.ToScalar();
    internal static readonly Scalar Five = 5.0.ToScalar();
    internal static readonly Scalar TwoHundredFifty = 250.0.ToScalar();
    internal static readonly Scalar TwoHundredFiftyFive = 255.0.ToScalar();
}
