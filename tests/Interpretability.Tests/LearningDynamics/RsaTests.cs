using Interpretability.LearningDynamics;
using MathNet.Numerics.LinearAlgebra;

namespace Interpretability.Tests.LearningDynamics;

/// <summary>Similarity matrices and dendrograms against hand computations.</summary>
public class RsaTests
{
    [Fact]
    public void Correlation_distance_and_gram_match_hand_computations()
    {
        var h = new double[,] { { 1, 2, 3 }, { 2, 4, 6.5 }, { 3, 1, 0 } };
        var r = RepresentationalSimilarity.Correlation(h);
        double Pearson(double[] a, double[] b)
        {
            double ma = a.Average(), mb = b.Average();
            return a.Zip(b, (x, y) => (x - ma) * (y - mb)).Sum() / Math.Sqrt(a.Sum(x => (x - ma) * (x - ma)) * b.Sum(y => (y - mb) * (y - mb)));
        }
        double[] Row(int i) => Enumerable.Range(0, 3).Select(k => h[i, k]).ToArray();
        Assert.Equal(Pearson(Row(0), Row(1)), r[0, 1], 12);
        Assert.Equal(Pearson(Row(0), Row(2)), r[2, 0], 12);
        Assert.Equal(1, r[1, 1]);
        Assert.Equal(Math.Sqrt(1 + 4 + 12.25), RepresentationalSimilarity.EuclideanDistances(h)[0, 1], 12);
        Assert.Equal(2 + 8 + 19.5, RepresentationalSimilarity.Gram(h)[0, 1], 12);
        // A constant hidden vector has no correlation: 0, not NaN.
        var flat = RepresentationalSimilarity.Correlation(new double[,] { { 1, 1, 1 }, { 1, 2, 3 } });
        Assert.Equal(0, flat[0, 1]);
        Assert.Throws<ArgumentException>(() => RepresentationalSimilarity.Correlation(new double[,] { { double.NaN, 1 }, { 1, 2 } }));
    }

    [Fact]
    public void Average_linkage_finds_two_clear_clusters_with_the_upgma_heights()
    {
        // Points on a line: 0, 1, 10, 12. UPGMA merges {0,1} at 1, {10,12} at 2, and the two at mean(10,12,9,11) = 10.5.
        var x = new[] { 0.0, 1, 10, 12 };
        var d = new double[4, 4];
        for (int i = 0; i < 4; i++) for (int j = 0; j < 4; j++) d[i, j] = Math.Abs(x[i] - x[j]);
        var tree = Dendrogram.AverageLinkage(d);
        Assert.Equal(3, tree.Merges.Count);
        Assert.Equal(1, tree.Merges[0].Height, 12);
        Assert.Equal(2, tree.Merges[1].Height, 12);
        Assert.Equal(10.5, tree.Merges[2].Height, 12);
        Assert.True(Dendrogram.SamePartition(tree.Cut(2), new[] { 0, 0, 1, 1 }));
        Assert.True(Dendrogram.SamePartition(tree.Cut(3), new[] { 0, 0, 1, 2 }));
        Assert.Equal(4, tree.Cut(4).Distinct().Count());
        Assert.False(Dendrogram.SamePartition(new[] { 0, 0, 1, 1 }, new[] { 0, 1, 0, 1 }));
        Assert.Equal(new[] { 0, 1, 2, 3 }, tree.LeafOrder.OrderBy(i => i));
    }

    [Fact]
    public void Level_bases_are_orthonormal_and_span_the_item_space()
    {
        var h = SemanticData.Eight().Hierarchy!;
        var all = Enumerable.Range(0, h.Levels).Select(h.LevelBasis).ToList();
        Assert.Equal(new[] { 1, 1, 2, 4 }, all.Select(b => b.ColumnCount));
        var stacked = Matrix<double>.Build.DenseOfColumnVectors(all.SelectMany(b => b.EnumerateColumns()));
        var gram = stacked.TransposeThisAndMultiply(stacked);
        Assert.True((gram - Matrix<double>.Build.DenseIdentity(8)).FrobeniusNorm() < 1e-12);
        // Level 2 puts items 0 and 2 together although level 1 separates them: not a tree.
        Assert.Throws<ArgumentException>(() => new ItemHierarchy(new[] { "all", "a", "b" }, new[] { new[] { 0, 0, 0 }, new[] { 0, 0, 1 }, new[] { 0, 1, 0 } }));
        Assert.Throws<ArgumentException>(() => new ItemHierarchy(new[] { "all" }, new[] { new[] { 0, 1 } }));
    }
}
