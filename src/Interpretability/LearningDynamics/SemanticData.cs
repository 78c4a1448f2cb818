using MathNet.Numerics.LinearAlgebra;

namespace Interpretability.LearningDynamics;

/// <summary>
/// The items × attributes datasets of the semantic-development story (Rumelhart &amp; Todd 1993, "Learning and
/// connectionist representations", Attention and Performance XIV; Rogers &amp; McClelland 2004, "Semantic Cognition: A
/// Parallel Distributed Processing Approach", MIT Press; Saxe, McClelland &amp; Ganguli 2019, PNAS,
/// doi:10.1073/pnas.1820226116), in our simplified form: one-hot items in, their attributes out. Our choice: the
/// attributes form a strict balanced tree (no cross-cutting attributes such as colour), so the SVD is exact.
/// </summary>
public static class SemanticData
{
    /// <summary>The eight items of <see cref="Eight"/>, in column order.</summary>
    public static IReadOnlyList<string> EightItems { get; } = new[] { "canary", "robin", "salmon", "sunfish", "oak", "pine", "rose", "daisy" };

    /// <summary>
    /// The 8-item, 22-feature dataset: living, grow (all); move, skin (animals); roots, leaves (plants); fly, feathers
    /// (canary, robin); swim, gills (salmon, sunfish); bark, branches (oak, pine); petals, pretty (rose, daisy); and one
    /// "isa_item" feature per item. Item Gram: self 7, sibling 6, same kingdom 4, other kingdom 2; singular values
    /// √29, √13, √5 (×2), 1 (×4). Hierarchy: all items / kingdom / class / item.
    /// </summary>
    public static DynamicsDataset Eight()
    {
        var items = EightItems;
        var features = new List<(string Name, int[] Items)>
        {
            ("living", All(8)), ("grow", All(8)),
            ("move", new[] { 0, 1, 2, 3 }), ("skin", new[] { 0, 1, 2, 3 }),
            ("roots", new[] { 4, 5, 6, 7 }), ("leaves", new[] { 4, 5, 6, 7 }),
            ("fly", new[] { 0, 1 }), ("feathers", new[] { 0, 1 }),
            ("swim", new[] { 2, 3 }), ("gills", new[] { 2, 3 }),
            ("bark", new[] { 4, 5 }), ("branches", new[] { 4, 5 }),
            ("petals", new[] { 6, 7 }), ("pretty", new[] { 6, 7 }),
        };
        for (int i = 0; i < 8; i++) features.Add(("isa_" + items[i], new[] { i }));
        var hierarchy = new ItemHierarchy(new[] { "all items", "kingdom", "class", "item" }, new[]
        {
            new[] { 0, 0, 0, 0, 0, 0, 0, 0 },
            new[] { 0, 0, 0, 0, 1, 1, 1, 1 },
            new[] { 0, 0, 1, 1, 2, 2, 3, 3 },
            new[] { 0, 1, 2, 3, 4, 5, 6, 7 },
        });
        return Build("semantic", items, features, hierarchy,
            "8 living things × 22 attributes (strict balanced tree: all / animals–plants / birds, fish, trees, flowers / items), one-hot items.");
    }

    /// <summary>
    /// The 4-item, 7-feature toy (after PNAS 2019's canary/salmon/oak/rose): grow 1111, move 1100, roots 0011, fly 1000,
    /// swim 0100, leaves 0010, petals 0001. Singular values √7, √3, 1, 1.
    /// </summary>
    public static DynamicsDataset Toy()
    {
        var items = new[] { "canary", "salmon", "oak", "rose" };
        var features = new List<(string, int[])>
        {
            ("grow", All(4)), ("move", new[] { 0, 1 }), ("roots", new[] { 2, 3 }),
            ("fly", new[] { 0 }), ("swim", new[] { 1 }), ("leaves", new[] { 2 }), ("petals", new[] { 3 }),
        };
        var hierarchy = new ItemHierarchy(new[] { "all items", "kingdom", "item" }, new[]
        {
            new[] { 0, 0, 0, 0 }, new[] { 0, 0, 1, 1 }, new[] { 0, 1, 2, 3 },
        });
        return Build("toy", items, features, hierarchy, "4 living things × 7 attributes (canary, salmon, oak, rose), one-hot items.");
    }

    private static int[] All(int n) => Enumerable.Range(0, n).ToArray();

    private static DynamicsDataset Build(string name, IReadOnlyList<string> items, IReadOnlyList<(string Name, int[] Items)> features,
        ItemHierarchy hierarchy, string description)
    {
        var y = Matrix<double>.Build.Dense(features.Count, items.Count);
        for (int f = 0; f < features.Count; f++)
            foreach (var i in features[f].Items) y[f, i] = 1;
        return new DynamicsDataset(name, Matrix<double>.Build.DenseIdentity(items.Count), y, items, features.Select(f => f.Name).ToList(), hierarchy, description);
    }
}
