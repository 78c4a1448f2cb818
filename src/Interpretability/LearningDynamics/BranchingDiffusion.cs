using MathNet.Numerics.LinearAlgebra;
using static TorchSharp.torch;

namespace Interpretability.LearningDynamics;

/// <summary>The predicted spectrum of one level of a branching-diffusion tree.</summary>
/// <param name="Level">Hierarchy level: 0 = the root (constant) mode, <c>k + 1</c> = the splits of the nodes at depth k.</param>
/// <param name="Eigenvalue">Eigenvalue λ of the item covariance <c>E[YᵀY]/N_f</c> for this level.</param>
/// <param name="Multiplicity">How many modes share it: 1 for the root, <c>B^k (B − 1)</c> for depth-k splits.</param>
/// <param name="SingularValue">Expected singular value of <c>Σ31 = Y</c> (one-hot items): <c>√(N_f λ)</c>.</param>
public sealed record LevelSpectrum(int Level, double Eigenvalue, int Multiplicity, double SingularValue);

/// <summary>
/// Hierarchical data from a branching diffusion process on a tree (Saxe, McClelland &amp; Ganguli 2014,
/// arXiv:1312.6120, §5 and Fig. 3; Saxe, McClelland &amp; Ganguli 2013, "Learning hierarchical category structure in
/// deep neural networks", Proc. CogSci 2013): a tree with <c>D</c> levels of branching factor <c>B</c> has
/// <c>P = B^D</c> leaf items; each feature independently draws ±1 at the root, and every edge flips the sign with
/// probability ε; the leaves' values are that feature across the items. Items are one-hot. Broader splits explain more
/// correlation, so they have larger singular values and are learned first.
/// </summary>
public static class BranchingDiffusion
{
    /// <summary>Samples a dataset.</summary>
    /// <param name="depth">Levels of branching D ≥ 1 (the paper's figure: 5).</param>
    /// <param name="branching">Branching factor B ≥ 2 (the paper: 2).</param>
    /// <param name="flipProbability">ε in [0, 0.5) (the paper: 0.1).</param>
    /// <param name="features">Number of features N_f ≥ 1 (the paper: 1000).</param>
    /// <param name="seed">Seed of the sampling.</param>
    /// <returns>A dataset with <c>B^D</c> one-hot items, <c>[N_f, P]</c> targets of ±1 and the tree as its hierarchy.</returns>
    public static DynamicsDataset Generate(int depth = 5, int branching = 2, double flipProbability = 0.1, int features = 1000, int seed = 0)
    {
        Validate(depth, branching, flipProbability);
        if (features < 1) throw new ArgumentOutOfRangeException(nameof(features), features, "features must be at least 1.");
        long items = (long)Math.Pow(branching, depth);
        if (items > 4096) throw new ArgumentOutOfRangeException(nameof(depth), $"B^D = {items} items is more than this study supports (4096).");
        int p = (int)items;
        // Node n at depth k has children B·n + j at depth k + 1; depth 0 is the root.
        var levelStart = new int[depth + 2];
        for (int k = 0; k <= depth; k++) levelStart[k + 1] = levelStart[k] + (int)Math.Pow(branching, k);
        int nodes = levelStart[depth + 1];
        double[] uniform;
        using (var g = new Generator((ulong)seed))
        using (var u = rand(new long[] { features, nodes }, dtype: ScalarType.Float64, generator: g))
            uniform = u.data<double>().ToArray();
        var y = Matrix<double>.Build.Dense(features, p);
        var value = new double[nodes];
        for (int f = 0; f < features; f++)
        {
            int row = f * nodes;
            value[0] = uniform[row] < 0.5 ? 1 : -1;
            for (int k = 0; k < depth; k++)
                for (int n = 0; n < levelStart[k + 1] - levelStart[k]; n++)
                    for (int j = 0; j < branching; j++)
                    {
                        int child = levelStart[k + 1] + n * branching + j;
                        value[child] = uniform[row + child] < flipProbability ? -value[levelStart[k] + n] : value[levelStart[k] + n];
                    }
            for (int i = 0; i < p; i++) y[f, i] = value[levelStart[depth] + i];
        }
        var groups = new int[depth + 1][];
        for (int l = 0; l <= depth; l++)
        {
            int size = (int)Math.Pow(branching, depth - l);        // items under one node at depth l
            groups[l] = Enumerable.Range(0, p).Select(i => i / size).ToArray();
        }
        var names = new List<string> { "root" };
        for (int k = 0; k < depth; k++) names.Add($"depth-{k} split");
        var hierarchy = new ItemHierarchy(names, groups);
        var itemNames = Enumerable.Range(0, p).Select(i => $"leaf {i}").ToArray();
        return new DynamicsDataset("hierarchy", Matrix<double>.Build.DenseIdentity(p), y, itemNames,
            Enumerable.Range(0, features).Select(f => $"f{f}").ToArray(), hierarchy,
            $"branching diffusion: depth {depth}, branching {branching}, flip probability {flipProbability}, {features} features, {p} one-hot items");
    }

    /// <summary>
    /// The exact spectrum of <c>C = E[YᵀY]/N_f</c> per level (our derivation, for any branching B): with
    /// <c>c_m = (1 − 2ε)^{2(D − m)}</c> the correlation of two leaves whose lowest common ancestor is at depth m, the
    /// split of a depth-k node has <c>λ_k = 1 + Σ_{m=k+1}^{D−1} (B−1) B^{D−m−1} c_m − B^{D−k−1} c_k</c> (multiplicity
    /// <c>B^k (B−1)</c>) and the root mode <c>λ_root = 1 + Σ_{m=0}^{D−1} (B−1) B^{D−m−1} c_m</c>.
    /// </summary>
    /// <returns>One entry per hierarchy level: root first, then depth-0 splits, …, depth-(D−1) splits.</returns>
    public static IReadOnlyList<LevelSpectrum> PredictedSpectrum(int depth, int branching, double flipProbability, int features)
    {
        Validate(depth, branching, flipProbability);
        if (features < 1) throw new ArgumentOutOfRangeException(nameof(features), features, "features must be at least 1.");
        double C(int m) => Math.Pow(1 - 2 * flipProbability, 2.0 * (depth - m));
        double Within(int fromDepth)
        {
            double sum = 1;
            for (int m = fromDepth; m <= depth - 1; m++) sum += (branching - 1) * Math.Pow(branching, depth - m - 1) * C(m);
            return sum;
        }
        var result = new List<LevelSpectrum>();
        var root = Within(0);
        result.Add(new LevelSpectrum(0, root, 1, Math.Sqrt(features * root)));
        for (int k = 0; k < depth; k++)
        {
            var lambda = Within(k + 1) - Math.Pow(branching, depth - k - 1) * C(k);
            result.Add(new LevelSpectrum(k + 1, lambda, (int)(Math.Pow(branching, k) * (branching - 1)), Math.Sqrt(features * Math.Max(lambda, 0))));
        }
        return result;
    }

    private static void Validate(int depth, int branching, double flipProbability)
    {
        if (depth < 1) throw new ArgumentOutOfRangeException(nameof(depth), depth, "depth (levels of branching) must be at least 1.");
        if (branching < 2) throw new ArgumentOutOfRangeException(nameof(branching), branching, "the branching factor must be at least 2.");
        if (!(flipProbability >= 0 && flipProbability < 0.5))
            throw new ArgumentOutOfRangeException(nameof(flipProbability), flipProbability, "the flip probability ε must be in [0, 0.5).");
    }
}
