namespace Interpretability.Models;

/// <summary>How the embedded <c>shapesnet.weights</c> were made (written by <c>interp models --train</c>; see the README).</summary>
public static class ShapesNetWeightsInfo
{
    /// <summary>Test accuracy on ShapesDataset.Test(1000).</summary>
    public const double TestAccuracy = 0.946;

    /// <summary>Training images.</summary>
    public const int TrainCount = 10000;

    /// <summary>Epochs.</summary>
    public const int Epochs = 15;
}
