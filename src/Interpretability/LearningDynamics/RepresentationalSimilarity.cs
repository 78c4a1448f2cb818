namespace Interpretability.LearningDynamics;

/// <summary>
/// Representational similarity of the items in a hidden layer (Kriegeskorte, Mur &amp; Bandettini 2008,
/// "Representational similarity analysis – connecting the branches of systems neuroscience", Front. Syst. Neurosci.,
/// doi:10.3389/neuro.06.004.2008): the Pearson correlation between two items' hidden vectors across units, their
/// Euclidean distance, and their Gram matrix.
/// </summary>
public static class RepresentationalSimilarity
{
    /// <summary>
    /// Pearson correlation between items across hidden units, <c>[P, P]</c> (1 on the diagonal). An item whose hidden
    /// vector is constant across units has no defined correlation; it gets 0 with every other item.
    /// </summary>
    /// <param name="hidden"><c>[P, H]</c> hidden vectors, one row per item.</param>
    public static double[,] Correlation(double[,] hidden)
    {
        ArgumentNullException.ThrowIfNull(hidden);
        int p = hidden.GetLength(0), h = hidden.GetLength(1);
        if (h < 2) throw new ArgumentException($"A correlation across units needs at least 2 units; got {h}.", nameof(hidden));
        RequireFinite(hidden);
        var centred = new double[p, h];
        var norm = new double[p];
        for (int i = 0; i < p; i++)
        {
            double mean = 0;
            for (int k = 0; k < h; k++) mean += hidden[i, k];
            mean /= h;
            for (int k = 0; k < h; k++) { centred[i, k] = hidden[i, k] - mean; norm[i] += centred[i, k] * centred[i, k]; }
            norm[i] = Math.Sqrt(norm[i]);
        }
        var r = new double[p, p];
        for (int i = 0; i < p; i++)
            for (int j = 0; j < p; j++)
            {
                if (i == j) { r[i, j] = 1; continue; }
                if (norm[i] == 0 || norm[j] == 0) continue;
                double dot = 0;
                for (int k = 0; k < h; k++) dot += centred[i, k] * centred[j, k];
                r[i, j] = Math.Clamp(dot / (norm[i] * norm[j]), -1, 1);
            }
        return r;
    }

    /// <summary>Euclidean distances between items' hidden vectors, <c>[P, P]</c>.</summary>
    /// <param name="hidden"><c>[P, H]</c>.</param>
    public static double[,] EuclideanDistances(double[,] hidden)
    {
        ArgumentNullException.ThrowIfNull(hidden);
        RequireFinite(hidden);
        int p = hidden.GetLength(0), h = hidden.GetLength(1);
        var d = new double[p, p];
        for (int i = 0; i < p; i++)
            for (int j = i + 1; j < p; j++)
            {
                double s = 0;
                for (int k = 0; k < h; k++) s += (hidden[i, k] - hidden[j, k]) * (hidden[i, k] - hidden[j, k]);
                d[i, j] = d[j, i] = Math.Sqrt(s);
            }
        return d;
    }

    /// <summary>Gram matrix <c>h_i · h_j</c>, <c>[P, P]</c>.</summary>
    /// <param name="hidden"><c>[P, H]</c>.</param>
    public static double[,] Gram(double[,] hidden)
    {
        ArgumentNullException.ThrowIfNull(hidden);
        RequireFinite(hidden);
        int p = hidden.GetLength(0), h = hidden.GetLength(1);
        var g = new double[p, p];
        for (int i = 0; i < p; i++)
            for (int j = i; j < p; j++)
            {
                double s = 0;
                for (int k = 0; k < h; k++) s += hidden[i, k] * hidden[j, k];
                g[i, j] = g[j, i] = s;
            }
        return g;
    }

    /// <summary>Correlation distance <c>1 − r</c>, the dissimilarity a dendrogram of correlations clusters.</summary>
    public static double[,] CorrelationDistance(double[,] correlation)
    {
        ArgumentNullException.ThrowIfNull(correlation);
        int p = correlation.GetLength(0);
        var d = new double[p, p];
        for (int i = 0; i < p; i++)
            for (int j = 0; j < p; j++) d[i, j] = i == j ? 0 : 1 - correlation[i, j];
        return d;
    }

    private static void RequireFinite(double[,] m)
    {
        foreach (var v in m)
            if (!double.IsFinite(v)) throw new ArgumentException("The hidden vectors hold NaN or infinity (did the run diverge?).", "hidden");
    }
}

/// <summary>One merge of a dendrogram.</summary>
/// <param name="Left">Node id of one child: leaves are 0…P−1, the k-th merge is node P + k.</param>
/// <param name="Right">Node id of the other child.</param>
/// <param name="Height">Dissimilarity at which they merge.</param>
/// <param name="Size">Leaves under the new node.</param>
public sealed record DendrogramMerge(int Left, int Right, double Height, int Size);

/// <summary>
/// Agglomerative clustering with average linkage (UPGMA: the dissimilarity of two clusters is the mean over their
/// pairs), our choice for RSA dendrograms. Ties merge the lowest node ids first, so the tree is deterministic.
/// </summary>
public sealed class Dendrogram
{
    private Dendrogram(int leaves, IReadOnlyList<DendrogramMerge> merges)
    {
        Leaves = leaves;
        Merges = merges;
        LeafOrder = Order(leaves, merges);
    }

    /// <summary>Number of leaves P.</summary>
    public int Leaves { get; }

    /// <summary>The P − 1 merges, lowest first.</summary>
    public IReadOnlyList<DendrogramMerge> Merges { get; }

    /// <summary>Leaves in drawing order (every cluster contiguous).</summary>
    public IReadOnlyList<int> LeafOrder { get; }

    /// <summary>Clusters a symmetric dissimilarity matrix.</summary>
    /// <param name="dissimilarity"><c>[P, P]</c>, symmetric, finite.</param>
    public static Dendrogram AverageLinkage(double[,] dissimilarity)
    {
        ArgumentNullException.ThrowIfNull(dissimilarity);
        int p = dissimilarity.GetLength(0);
        if (p < 1 || dissimilarity.GetLength(1) != p) throw new ArgumentException($"dissimilarity must be a square [P, P] matrix; got [{p}, {dissimilarity.GetLength(1)}].", nameof(dissimilarity));
        foreach (var v in dissimilarity) if (!double.IsFinite(v)) throw new ArgumentException("dissimilarity holds NaN or infinity.", nameof(dissimilarity));
        var active = new List<(int Id, List<int> Members)>();
        for (int i = 0; i < p; i++) active.Add((i, new List<int> { i }));
        var merges = new List<DendrogramMerge>();
        int next = p;
        while (active.Count > 1)
        {
            double best = double.PositiveInfinity;
            int bi = 0, bj = 1;
            for (int i = 0; i < active.Count; i++)
                for (int j = i + 1; j < active.Count; j++)
                {
                    double sum = 0;
                    foreach (var a in active[i].Members) foreach (var b in active[j].Members) sum += 0.5 * (dissimilarity[a, b] + dissimilarity[b, a]);
                    var d = sum / (active[i].Members.Count * active[j].Members.Count);
                    if (d < best - 1e-12) { best = d; bi = i; bj = j; }
                }
            var merged = active[bi].Members.Concat(active[bj].Members).ToList();
            merges.Add(new DendrogramMerge(active[bi].Id, active[bj].Id, best, merged.Count));
            active[bi] = (next++, merged);
            active.RemoveAt(bj);
        }
        return new Dendrogram(p, merges);
    }

    /// <summary>Cuts the tree into <paramref name="clusters"/> clusters (undoing the last merges).</summary>
    /// <returns>The cluster index of each leaf, numbered by first appearance in leaf index order.</returns>
    public int[] Cut(int clusters)
    {
        if (clusters < 1 || clusters > Leaves) throw new ArgumentOutOfRangeException(nameof(clusters), clusters, $"clusters must be in [1, {Leaves}].");
        var parent = Enumerable.Range(0, 2 * Leaves - 1).ToArray();
        for (int k = 0; k < Leaves - clusters; k++)
        {
            parent[Merges[k].Left] = Leaves + k;
            parent[Merges[k].Right] = Leaves + k;
        }
        int Root(int n) { while (parent[n] != n) n = parent[n]; return n; }
        var ids = new Dictionary<int, int>();
        var result = new int[Leaves];
        for (int i = 0; i < Leaves; i++)
        {
            var r = Root(i);
            if (!ids.TryGetValue(r, out var c)) ids[r] = c = ids.Count;
            result[i] = c;
        }
        return result;
    }

    /// <summary>True when two labelings describe the same partition (up to renaming the clusters).</summary>
    public static bool SamePartition(IReadOnlyList<int> a, IReadOnlyList<int> b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Count != b.Count) return false;
        for (int i = 0; i < a.Count; i++)
            for (int j = i + 1; j < a.Count; j++)
                if ((a[i] == a[j]) != (b[i] == b[j])) return false;
        return true;
    }

    private static int[] Order(int leaves, IReadOnlyList<DendrogramMerge> merges)
    {
        if (leaves == 1) return new[] { 0 };
        var order = new List<int>();
        void Walk(int node)
        {
            if (node < leaves) { order.Add(node); return; }
            var m = merges[node - leaves];
            Walk(Math.Min(m.Left, m.Right) == m.Left ? m.Left : m.Right);
            Walk(Math.Min(m.Left, m.Right) == m.Left ? m.Right : m.Left);
        }
        Walk(leaves + merges.Count - 1);
        return order.ToArray();
    }
}
