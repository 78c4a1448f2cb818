using MathNet.Numerics.LinearAlgebra;

namespace Interpretability.LearningDynamics;

/// <summary>
/// The input–output correlation of a dataset and its modes (Saxe et al. 2014 §2): <c>Σ31 = Σ_μ y^μ x^μᵀ = Y Xᵀ</c>,
/// <c>Σ11 = X Xᵀ</c>, and the SVD <c>Σ31 = U S Vᵀ = Σ_α s_α u_α v_αᵀ</c>. Column α of <see cref="ObjectAnalysers"/> is
/// <c>v_α</c> (input space), of <see cref="FeatureSynthesisers"/> is <c>u_α</c> (output space). Double precision
/// (MathNet.Numerics). Signs are fixed so that each object analyser has a positive sum (or, if its sum is zero, a
/// positive largest entry); within a group of equal singular values the basis is the SVD's (any rotation is as good).
/// </summary>
public sealed class InputOutputModes
{
    private InputOutputModes(Matrix<double> s31, Matrix<double> s11, double traceS33, double[] s, Matrix<double> u, Matrix<double> v)
    {
        Sigma31 = s31;
        Sigma11 = s11;
        TraceSigma33 = traceS33;
        SingularValues = s;
        FeatureSynthesisers = u;
        ObjectAnalysers = v;
        var identity = Matrix<double>.Build.DenseIdentity(s11.RowCount);
        InputWhitenessDeviation = (s11 - identity).FrobeniusNorm() / Math.Sqrt(s11.RowCount);
    }

    /// <summary>Computes the modes of <paramref name="data"/>.</summary>
    /// <param name="data">The dataset.</param>
    /// <param name="relativeTolerance">Singular values below <c>tolerance · s_max</c> are dropped (they are not modes).</param>
    public static InputOutputModes Of(DynamicsDataset data, double relativeTolerance = 1e-9)
    {
        ArgumentNullException.ThrowIfNull(data);
        var s31 = data.Targets * data.Inputs.Transpose();
        var s11 = data.Inputs * data.Inputs.Transpose();
        var traceS33 = data.Targets.Enumerate().Sum(v => v * v);
        return FromCorrelation(s31, s11, traceS33, relativeTolerance);
    }

    /// <summary>Computes the modes of a given <c>Σ31</c> (e.g. a random one in a property test).</summary>
    /// <param name="sigma31"><c>[N3, N1]</c>.</param>
    /// <param name="sigma11"><c>[N1, N1]</c>; null means white inputs (identity).</param>
    /// <param name="traceSigma33"><c>tr Σ33</c> for the loss; null uses <c>‖Σ31‖²_F</c> (exact for one-hot items).</param>
    /// <param name="relativeTolerance">Relative cut-off for zero singular values.</param>
    public static InputOutputModes FromCorrelation(Matrix<double> sigma31, Matrix<double>? sigma11 = null, double? traceSigma33 = null, double relativeTolerance = 1e-9)
    {
        ArgumentNullException.ThrowIfNull(sigma31);
        if (sigma31.Enumerate().Any(x => !double.IsFinite(x))) throw new ArgumentException("Σ31 holds NaN or infinity.", nameof(sigma31));
        sigma11 ??= Matrix<double>.Build.DenseIdentity(sigma31.ColumnCount);
        if (sigma11.RowCount != sigma31.ColumnCount || sigma11.ColumnCount != sigma31.ColumnCount)
            throw new ArgumentException($"Σ11 must be [N1, N1] = [{sigma31.ColumnCount}, {sigma31.ColumnCount}]; got [{sigma11.RowCount}, {sigma11.ColumnCount}].", nameof(sigma11));
        var svd = sigma31.Svd(computeVectors: true);
        var sAll = svd.S.ToArray();
        var max = sAll.Length > 0 ? sAll.Max() : 0;
        if (!(max > 0)) throw new ArgumentException("Σ31 = 0: the dataset has no input–output correlation, so there is no mode to learn.", nameof(sigma31));
        int rank = sAll.Count(x => x > relativeTolerance * max);
        var u = svd.U.SubMatrix(0, sigma31.RowCount, 0, rank);
        var v = svd.VT.Transpose().SubMatrix(0, sigma31.ColumnCount, 0, rank);
        for (int a = 0; a < rank; a++)
        {
            var col = v.Column(a);
            var sum = col.Sum();
            var sign = Math.Abs(sum) > 1e-9 ? Math.Sign(sum) : Math.Sign(col[col.AbsoluteMaximumIndex()]);
            if (sign < 0)
            {
                v.SetColumn(a, -col);
                u.SetColumn(a, -u.Column(a));
            }
        }
        var trace = traceSigma33 ?? sigma31.FrobeniusNorm() * sigma31.FrobeniusNorm();
        return new InputOutputModes(sigma31, sigma11, trace, sAll.Take(rank).ToArray(), u, v);
    }

    /// <summary><c>Σ31 = Y Xᵀ</c>, <c>[N3, N1]</c>.</summary>
    public Matrix<double> Sigma31 { get; }

    /// <summary><c>Σ11 = X Xᵀ</c>, <c>[N1, N1]</c>.</summary>
    public Matrix<double> Sigma11 { get; }

    /// <summary><c>tr Σ33 = Σ_μ |y^μ|²</c>: twice the loss of the zero network.</summary>
    public double TraceSigma33 { get; }

    /// <summary>The nonzero singular values <c>s_α</c>, descending (length r = rank of Σ31).</summary>
    public IReadOnlyList<double> SingularValues { get; }

    /// <summary><c>U</c>, <c>[N3, r]</c>: column α is the feature synthesiser <c>u_α</c>.</summary>
    public Matrix<double> FeatureSynthesisers { get; }

    /// <summary><c>V</c>, <c>[N1, r]</c>: column α is the object analyser <c>v_α</c>.</summary>
    public Matrix<double> ObjectAnalysers { get; }

    /// <summary>Number of modes r.</summary>
    public int Count => SingularValues.Count;

    /// <summary>
    /// <c>‖Σ11 − I‖_F / √N1</c>: 0 for white inputs. The closed-form dynamics assume <c>Σ11 = I</c>; a dataset far from it
    /// should be <see cref="DynamicsDataset.Whitened"/> first (the study reports this number).
    /// </summary>
    public double InputWhitenessDeviation { get; }

    /// <summary>The smallest number of leading modes whose <c>Σ s²</c> reaches <paramref name="fraction"/> of the total.</summary>
    public int ModesCarrying(double fraction = 0.99)
    {
        if (!(fraction > 0 && fraction <= 1)) throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "fraction must be in (0, 1].");
        var total = SingularValues.Sum(s => s * s);
        double cum = 0;
        for (int a = 0; a < Count; a++)
        {
            cum += SingularValues[a] * SingularValues[a];
            if (cum >= fraction * total * (1 - 1e-12)) return a + 1;
        }
        return Count;
    }

    /// <summary>
    /// The item vector of each mode: <c>Xᵀ v_α</c> normalised, <c>[P, r]</c> (for one-hot items, <c>v_α</c> itself): how
    /// strongly each item expresses the mode.
    /// </summary>
    public Matrix<double> ItemVectors(DynamicsDataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.InputSize != ObjectAnalysers.RowCount) throw new ArgumentException($"The dataset has N1 = {data.InputSize}; these modes have {ObjectAnalysers.RowCount}.", nameof(data));
        var m = data.Inputs.TransposeThisAndMultiply(ObjectAnalysers);
        for (int a = 0; a < m.ColumnCount; a++)
        {
            var n = m.Column(a).L2Norm();
            if (n > 0) m.SetColumn(a, m.Column(a) / n);
        }
        return m;
    }

    /// <summary>The hierarchy level of each mode (see <see cref="ItemHierarchy.AssignLevels"/>), and the share of the
    /// mode's item vector that lies in its level's subspace.</summary>
    public (int[] Level, double[] Purity) Levels(DynamicsDataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Hierarchy is null) throw new InvalidOperationException($"The dataset '{data.Name}' has no hierarchy to assign modes to.");
        return data.Hierarchy.AssignLevels(ItemVectors(data));
    }
}
