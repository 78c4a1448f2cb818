using MathNet.Numerics.LinearAlgebra;

namespace Interpretability.LearningDynamics;

/// <summary>
/// A tree over the items, given as nested partitions: level 0 puts every item into one group (the root), each further
/// level refines the previous one (animals | plants, then birds | fish | trees | flowers, …). The tree says which
/// <i>level</i> each SVD mode belongs to: the item vectors of level <c>k ≥ 1</c> are the contrasts between the level-k
/// children of one level-(k−1) group (Haar-like splits, Saxe, McClelland &amp; Ganguli 2014, arXiv:1312.6120, §5).
/// </summary>
public sealed class ItemHierarchy
{
    /// <summary>Creates the hierarchy.</summary>
    /// <param name="levelNames">One name per level (e.g. "all items", "kingdom", "class", "item").</param>
    /// <param name="groupOfItem">Per level, the group index of every item; level 0 must be one group, each level must
    /// refine the one before (two items in one group share the group at every coarser level).</param>
    public ItemHierarchy(IReadOnlyList<string> levelNames, IReadOnlyList<int[]> groupOfItem)
    {
        ArgumentNullException.ThrowIfNull(levelNames);
        ArgumentNullException.ThrowIfNull(groupOfItem);
        if (groupOfItem.Count == 0) throw new ArgumentException("A hierarchy needs at least one level.", nameof(groupOfItem));
        if (levelNames.Count != groupOfItem.Count)
            throw new ArgumentException($"levelNames has {levelNames.Count} entries but groupOfItem has {groupOfItem.Count} levels.", nameof(levelNames));
        var items = groupOfItem[0].Length;
        if (items == 0) throw new ArgumentException("A hierarchy needs at least one item.", nameof(groupOfItem));
        for (int l = 0; l < groupOfItem.Count; l++)
        {
            if (groupOfItem[l].Length != items)
                throw new ArgumentException($"Level {l} assigns {groupOfItem[l].Length} items; level 0 assigns {items}.", nameof(groupOfItem));
            if (groupOfItem[l].Any(g => g < 0)) throw new ArgumentException($"Level {l} has a negative group index.", nameof(groupOfItem));
        }
        if (groupOfItem[0].Distinct().Count() != 1) throw new ArgumentException("Level 0 must put every item into one group (the root).", nameof(groupOfItem));
        for (int l = 1; l < groupOfItem.Count; l++)
            for (int i = 0; i < items; i++)
                for (int j = i + 1; j < items; j++)
                    if (groupOfItem[l][i] == groupOfItem[l][j] && groupOfItem[l - 1][i] != groupOfItem[l - 1][j])
                        throw new ArgumentException($"Level {l} does not refine level {l - 1}: items {i} and {j} share a level-{l} group but not a level-{l - 1} group.", nameof(groupOfItem));
        LevelNames = levelNames.ToArray();
        GroupOfItem = groupOfItem.Select(g => (int[])g.Clone()).ToArray();
    }

    /// <summary>Name of each level, coarsest first.</summary>
    public IReadOnlyList<string> LevelNames { get; }

    /// <summary>Per level, the group index of every item.</summary>
    public IReadOnlyList<int[]> GroupOfItem { get; }

    /// <summary>Number of levels.</summary>
    public int Levels => GroupOfItem.Count;

    /// <summary>Number of items.</summary>
    public int Items => GroupOfItem[0].Length;

    /// <summary>
    /// An orthonormal basis of the item vectors that belong to level <paramref name="level"/>: level 0 is the constant
    /// vector; level k is span{indicators of level-k groups} minus span{indicators of level-(k−1) groups}.
    /// </summary>
    /// <returns><c>[items, dimension]</c> with orthonormal columns (dimension 0 when the level adds no split).</returns>
    public Matrix<double> LevelBasis(int level)
    {
        if (level < 0 || level >= Levels) throw new ArgumentOutOfRangeException(nameof(level), level, $"level must be in [0, {Levels - 1}].");
        var fine = Indicators(level);
        if (level == 0) return fine;
        var coarse = Indicators(level - 1);
        // Project the fine indicators off the coarse span, then orthonormalise what is left.
        var residual = fine - coarse * (coarse.TransposeThisAndMultiply(fine));
        return OrthonormalColumns(residual);
    }

    /// <summary>
    /// Assigns each item vector (a column of <paramref name="itemVectors"/>) to the level whose subspace holds most of its
    /// energy, and returns that share as the purity of the assignment.
    /// </summary>
    /// <param name="itemVectors"><c>[items, modes]</c>, e.g. the object analysers of one-hot data.</param>
    public (int[] Level, double[] Purity) AssignLevels(Matrix<double> itemVectors)
    {
        ArgumentNullException.ThrowIfNull(itemVectors);
        if (itemVectors.RowCount != Items)
            throw new ArgumentException($"itemVectors must have one row per item ({Items}); got {itemVectors.RowCount}.", nameof(itemVectors));
        var bases = Enumerable.Range(0, Levels).Select(LevelBasis).ToArray();
        var level = new int[itemVectors.ColumnCount];
        var purity = new double[itemVectors.ColumnCount];
        for (int a = 0; a < itemVectors.ColumnCount; a++)
        {
            var v = itemVectors.Column(a);
            var norm2 = v.DotProduct(v);
            if (norm2 == 0) throw new ArgumentException($"Item vector {a} is zero.", nameof(itemVectors));
            double best = -1;
            for (int l = 0; l < Levels; l++)
            {
                if (bases[l].ColumnCount == 0) continue;
                var p = bases[l].TransposeThisAndMultiply(v);
                var share = p.DotProduct(p) / norm2;
                if (share > best) { best = share; level[a] = l; }
            }
            purity[a] = best;
        }
        return (level, purity);
    }

    /// <summary>Normalised group indicators of a level: <c>[items, groups]</c>, orthonormal columns.</summary>
    private Matrix<double> Indicators(int level)
    {
        var groups = GroupOfItem[level].Distinct().OrderBy(g => g).ToArray();
        var m = Matrix<double>.Build.Dense(Items, groups.Length);
        for (int c = 0; c < groups.Length; c++)
        {
            var members = Enumerable.Range(0, Items).Where(i => GroupOfItem[level][i] == groups[c]).ToArray();
            foreach (var i in members) m[i, c] = 1.0 / Math.Sqrt(members.Length);
        }
        return m;
    }

    private static Matrix<double> OrthonormalColumns(Matrix<double> m)
    {
        var svd = m.Svd(computeVectors: true);
        var tol = 1e-10 * Math.Max(1, svd.S.Count > 0 ? svd.S[0] : 0);
        var rank = svd.S.Count(x => x > tol);
        return svd.U.SubMatrix(0, m.RowCount, 0, rank);
    }
}
