using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>
/// Feature masks group the features of one input row so perturbation methods switch them on and off together (Captum's
/// <c>feature_mask</c>): an int64 tensor whose entries are group ids, broadcastable to the row's shape.
/// </summary>
public static class FeatureMasks
{
    /// <summary>
    /// A grid segmentation of an image: square cells of <paramref name="cell"/> pixels, numbered row by row; every
    /// channel of a pixel is in the same group (the superpixels of LIME reduced to a regular grid).
    /// </summary>
    /// <param name="height">Image height (≥ 1).</param>
    /// <param name="width">Image width (≥ 1).</param>
    /// <param name="cell">Cell side in pixels (1 … max(height, width)).</param>
    /// <returns>Group ids <c>[1, height, width]</c> int64 (broadcasts over channels).</returns>
    public static Tensor Grid(int height, int width, int cell)
    {
        if (height < 1) throw new ArgumentOutOfRangeException(nameof(height), height, "height must be at least 1.");
        if (width < 1) throw new ArgumentOutOfRangeException(nameof(width), width, "width must be at least 1.");
        if (cell < 1 || cell > Math.Max(height, width)) throw new ArgumentOutOfRangeException(nameof(cell), cell, $"cell must be in [1, {Math.Max(height, width)}]; got {cell}.");
        var columns = (width + cell - 1) / cell;
        var ids = new long[height * width];
        for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
            ids[y * width + x] = (y / cell) * columns + x / cell;
        return tensor(ids, new long[] { 1, height, width });
    }

    /// <summary>
    /// Resolves a mask for rows of <paramref name="input"/>: null = every scalar feature its own group; otherwise the mask
    /// broadcast to one row's shape with its ids renumbered to 0 … G−1.
    /// </summary>
    /// <returns>The group of every flattened feature <c>[D]</c> int64 and the group count G.</returns>
    internal static (Tensor GroupOfFeature, int Groups) Resolve(Tensor input, Tensor? mask, string parameterName)
    {
        var rowShape = input.shape.Skip(1).ToArray();
        var d = rowShape.Aggregate(1L, (a, b) => a * b);
        if (mask is null)
        {
            using var dScalar = d.ToScalar();
            return (arange(Scalars.IntZero, dScalar, Scalars.IntOne, dtype: int64, device: input.device), checked((int)d));
        }
        if (mask.dtype is not (ScalarType.Int64 or ScalarType.Int32))
            throw new ArgumentException($"{parameterName} must hold integer group ids (int64); got {mask.dtype}.", parameterName);
        var m = mask;
        if (m.dim() == input.dim() && m.shape[0] == 1) m = m.squeeze(0);
        Tensor expanded;
        try
        {
            expanded = m.to(int64, input.device).expand(rowShape).reshape(d);
        }
        catch (Exception e) when (e is ArgumentException or System.Runtime.InteropServices.ExternalException)
        {
            throw new ArgumentException($"{parameterName} must broadcast to one input row's shape [{string.Join(", ", rowShape)}]; got [{string.Join(", ", mask.shape)}].", parameterName, e);
        }
        if (expanded.min().item<long>() < 0) throw new ArgumentException($"{parameterName} must hold non-negative group ids.", parameterName);
        var (unique, inverse, _) = expanded.unique(sorted: true, return_inverse: true);
        return (inverse!.reshape(d), checked((int)unique.shape[0]));
    }

    /// <summary>
    /// The target scores of inputs built from coalitions: input k keeps the features of the groups with
    /// <c>z[k, g] = 1</c> from <paramref name="row"/> and takes the others from <paramref name="baseline"/>; evaluated
    /// <paramref name="perEval"/> at a time through the call (progress, cancellation).
    /// </summary>
    /// <param name="forward">The model.</param>
    /// <param name="call">The attribution call.</param>
    /// <param name="row">One input row <c>[1, ...]</c>.</param>
    /// <param name="baseline">The baseline row <c>[1, ...]</c>.</param>
    /// <param name="groupOfFeature"><c>[D]</c> group id per flattened feature.</param>
    /// <param name="coalitions"><c>[K, G]</c> 0/1 (any dtype).</param>
    /// <param name="target">Class whose score is read, <c>[1]</c> int64.</param>
    /// <param name="perEval">Inputs per forward pass.</param>
    /// <returns>Scores <c>[K]</c> float64 on the CPU.</returns>
    internal static Tensor CoalitionScores(Func<Tensor, Tensor> forward, AttributionCall call, Tensor row, Tensor baseline, Tensor groupOfFeature, Tensor coalitions,
        Tensor target, int perEval)
    {
        var flatRow = row.reshape(1, -1);
        var flatBase = baseline.reshape(1, -1);
        var keep = coalitions.to(row.dtype, row.device);
        var rowShape = row.shape.Skip(1).ToArray();
        return PerturbationBatches.Evaluate(forward, call, coalitions.shape[0], perEval, target, (start, n) =>
        {
            var m = keep.narrow(0, start, n).index_select(1, groupOfFeature);     // [n, D]
            return (flatBase + m * (flatRow - flatBase)).reshape(new[] { n }.Concat(rowShape).ToArray());
        }).to(float64).cpu();
    }
}
