using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.NeuronStudies;

/// <summary>
/// Non-negative matrix factorisation of activations (Lee &amp; Seung 2001, "Algorithms for Non-negative Matrix
/// Factorization", NIPS 13): a <c>[positions, channels]</c> matrix of post-ReLU activations as a few spatial maps
/// (<c>W</c>) times a few channel groups (<c>H</c>), as in "The Building Blocks of Interpretability" (Olah et al. 2018,
/// Distill, doi:10.23915/distill.00010).
/// </summary>
public static class Nmf
{
    /// <summary>
    /// Factorises <c>A ≈ W H</c> with W, H ≥ 0 by the multiplicative updates for the Frobenius norm, from a seeded random
    /// start.
    /// </summary>
    /// <param name="a">Non-negative matrix <c>[positions, channels]</c>.</param>
    /// <param name="rank">Components k ≥ 1.</param>
    /// <param name="iterations">Update steps.</param>
    /// <param name="seed">Seed of the random initialisation.</param>
    /// <returns>W <c>[positions, k]</c>, H <c>[k, channels]</c> (float64, on the device of <paramref name="a"/>) and
    /// the relative error ‖A − WH‖ / ‖A‖.</returns>
    public static (Tensor W, Tensor H, double RelativeError) Factorize(Tensor a, int rank, int iterations = 500, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(a);
        if (a.dim() != 2) throw new ArgumentException($"a must be a matrix; got [{string.Join(", ", a.shape)}].", nameof(a));
        if (rank < 1 || rank > Math.Min(a.shape[0], a.shape[1]))
            throw new ArgumentOutOfRangeException(nameof(rank), rank, $"rank must be in [1, {Math.Min(a.shape[0], a.shape[1])}].");
        if (iterations < 1) throw new ArgumentOutOfRangeException(nameof(iterations), iterations, "iterations must be at least 1.");
        using var scope = NewDisposeScope();
        var x = a.to(ScalarType.Float64);
        if (x.min().item<double>() < 0) throw new ArgumentException("a must be non-negative (e.g. post-ReLU activations).", nameof(a));
        var gen = new Generator((ulong)seed);
        var scale = Math.Sqrt(Math.Max(x.mean().item<double>(), 1e-12) / rank);
        var w = rand(new long[] { x.shape[0], rank }, dtype: ScalarType.Float64, generator: gen, device: x.device) * scale + 1e-3;
        var h = rand(new long[] { rank, x.shape[1] }, dtype: ScalarType.Float64, generator: gen, device: x.device) * scale + 1e-3;
        const double eps = 1e-12;
        for (int i = 0; i < iterations; i++)
        {
            using var step = NewDisposeScope();
            var hn = h * w.t().matmul(x) / (w.t().matmul(w).matmul(h) + eps);
            var wn = w * x.matmul(hn.t()) / (w.matmul(hn).matmul(hn.t()) + eps);
            h = hn.MoveToOuterDisposeScope();
            w = wn.MoveToOuterDisposeScope();
        }
        var err = ((x - w.matmul(h)).norm().item<double>()) / Math.Max(x.norm().item<double>(), eps);
        return (w.MoveToOuterDisposeScope(), h.MoveToOuterDisposeScope(), err);
    }
}
