using System.Globalization;
using MathNet.Numerics.LinearAlgebra;
using static TorchSharp.torch;

namespace Interpretability.LearningDynamics;

/// <summary>
/// Items with inputs and target features, the data of a deep linear network (columns are items, as in Saxe et al.:
/// <c>x^μ</c> is column μ of <see cref="Inputs"/>, <c>y^μ</c> column μ of <see cref="Targets"/>). Validated on
/// construction: finite numbers, matching sizes, and something to learn.
/// </summary>
public sealed class DynamicsDataset
{
    /// <summary>Creates and validates a dataset.</summary>
    /// <param name="name">Short name (e.g. "semantic").</param>
    /// <param name="inputs"><c>[N1, P]</c>: one input vector per item (one-hot for the built-in datasets).</param>
    /// <param name="targets"><c>[N3, P]</c>: one target (feature) vector per item.</param>
    /// <param name="itemNames">P names; null numbers the items.</param>
    /// <param name="featureNames">N3 names; null numbers the features.</param>
    /// <param name="hierarchy">The tree over the items, when the data has one.</param>
    /// <param name="description">One sentence for a person.</param>
    /// <exception cref="ArgumentException">A NaN or infinity (the message names the entry), mismatched sizes, or a
    /// dataset with no variance (all targets equal, all inputs zero, or every item given the same input).</exception>
    public DynamicsDataset(string name, Matrix<double> inputs, Matrix<double> targets, IReadOnlyList<string>? itemNames = null,
        IReadOnlyList<string>? featureNames = null, ItemHierarchy? hierarchy = null, string? description = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(targets);
        if (inputs.ColumnCount != targets.ColumnCount)
            throw new ArgumentException($"inputs [N1, P] and targets [N3, P] must have the same number of items (columns); got inputs [{inputs.RowCount}, {inputs.ColumnCount}] and targets [{targets.RowCount}, {targets.ColumnCount}].", nameof(targets));
        if (inputs.ColumnCount == 0) throw new ArgumentException("The dataset has no items (P = 0).", nameof(inputs));
        RequireFinite(inputs, nameof(inputs));
        RequireFinite(targets, nameof(targets));
        var first = targets[0, 0];
        if (targets.Enumerate().All(v => v == first))
            throw new ArgumentException($"The targets have no variance: every entry equals {first.ToString(CultureInfo.InvariantCulture)}, so there are no modes to tell items apart and nothing for the dynamics to show.", nameof(targets));
        if (inputs.Enumerate().All(v => v == 0)) throw new ArgumentException("The inputs are all zero: Σ11 = 0 and Σ31 = 0, nothing can be learned.", nameof(inputs));
        if (inputs.ColumnCount > 1 && Enumerable.Range(1, inputs.ColumnCount - 1).All(c => inputs.Column(c).Equals(inputs.Column(0))))
            throw new ArgumentException("The inputs have no variance across items: every item gets the same input vector, so the network cannot tell them apart.", nameof(inputs));
        int p = inputs.ColumnCount;
        if (itemNames is not null && itemNames.Count != p) throw new ArgumentException($"itemNames must have P = {p} entries; got {itemNames.Count}.", nameof(itemNames));
        if (featureNames is not null && featureNames.Count != targets.RowCount)
            throw new ArgumentException($"featureNames must have N3 = {targets.RowCount} entries; got {featureNames.Count}.", nameof(featureNames));
        if (hierarchy is not null && hierarchy.Items != p) throw new ArgumentException($"The hierarchy covers {hierarchy.Items} items; the dataset has {p}.", nameof(hierarchy));
        Name = name;
        Inputs = inputs.Clone();
        Targets = targets.Clone();
        ItemNames = itemNames?.ToArray() ?? Enumerable.Range(0, p).Select(i => $"item {i}").ToArray();
        FeatureNames = featureNames?.ToArray() ?? Enumerable.Range(0, targets.RowCount).Select(i => $"feature {i}").ToArray();
        Hierarchy = hierarchy;
        Description = description ?? name;
    }

    /// <summary>Short name.</summary>
    public string Name { get; }

    /// <summary>One sentence for a person.</summary>
    public string Description { get; }

    /// <summary><c>[N1, P]</c> inputs, one column per item.</summary>
    public Matrix<double> Inputs { get; }

    /// <summary><c>[N3, P]</c> targets, one column per item.</summary>
    public Matrix<double> Targets { get; }

    /// <summary>Item names (P).</summary>
    public IReadOnlyList<string> ItemNames { get; }

    /// <summary>Feature names (N3).</summary>
    public IReadOnlyList<string> FeatureNames { get; }

    /// <summary>The tree over the items, or null.</summary>
    public ItemHierarchy? Hierarchy { get; }

    /// <summary>Number of items P.</summary>
    public int Items => Inputs.ColumnCount;

    /// <summary>Input size N1.</summary>
    public int InputSize => Inputs.RowCount;

    /// <summary>Output size N3.</summary>
    public int OutputSize => Targets.RowCount;

    /// <summary>True when every input is a distinct one-hot vector (then <c>Σ11 = I</c> on the items' span).</summary>
    public bool IsOneHot =>
        Inputs.Enumerate().All(v => v == 0 || v == 1) &&
        Enumerable.Range(0, Items).All(c => Inputs.Column(c).Sum() == 1) &&
        Enumerable.Range(0, Items).Select(c => Inputs.Column(c).MaximumIndex()).Distinct().Count() == Items;

    /// <summary>
    /// The same items with inputs <c>Σ11^{-1/2} x</c>, so that <c>Σ11 = I</c> as the theory assumes. Needs a full-rank
    /// <c>Σ11</c> (at least as many items as input dimensions, inputs spanning the space).
    /// </summary>
    /// <exception cref="InvalidOperationException">Σ11 is singular.</exception>
    public DynamicsDataset Whitened()
    {
        var s11 = Inputs * Inputs.Transpose();
        var evd = s11.Evd(MathNet.Numerics.LinearAlgebra.Symmetricity.Symmetric);
        var eig = evd.EigenValues.Select(c => c.Real).ToArray();
        var max = eig.Max();
        if (eig.Min() <= 1e-10 * max)
            throw new InvalidOperationException($"Σ11 is singular (smallest eigenvalue {eig.Min():G3}, largest {max:G3}); inputs with fewer items than input dimensions, or linearly dependent inputs, cannot be whitened.");
        var invSqrt = evd.EigenVectors * Matrix<double>.Build.DenseOfDiagonalArray(eig.Select(e => 1 / Math.Sqrt(e)).ToArray()) * evd.EigenVectors.Transpose();
        return new DynamicsDataset(Name + "-whitened", invSqrt * Inputs, Targets, ItemNames, FeatureNames, Hierarchy, Description + " (inputs whitened)");
    }

    /// <summary>The data as float64 tensors with one row per item: <c>X [P, N1]</c>, <c>Y [P, N3]</c>.</summary>
    /// <param name="device">Device of the tensors (CPU when null).</param>
    public (Tensor X, Tensor Y) ToTensors(Device? device = null)
    {
        var x = tensor(Inputs.Transpose().ToArray(), dtype: ScalarType.Float64, device: device);
        var y = tensor(Targets.Transpose().ToArray(), dtype: ScalarType.Float64, device: device);
        return (x, y);
    }

    private static void RequireFinite(Matrix<double> m, string name)
    {
        for (int r = 0; r < m.RowCount; r++)
            for (int c = 0; c < m.ColumnCount; c++)
                if (!double.IsFinite(m[r, c]))
                    throw new ArgumentException($"{name}[{r}, {c}] is {m[r, c].ToString(CultureInfo.InvariantCulture)}; a dataset must hold finite numbers only (row = {(name == "inputs" ? "input dimension" : "feature")}, column = item).", name);
    }
}
