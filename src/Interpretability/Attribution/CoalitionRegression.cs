using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>
/// The surrogate fit shared by <see cref="KernelShap"/> and <see cref="Lime"/>: sampled coalitions z ∈ {0,1}^G, the model's
/// scores on them, and a weighted ridge regression score ≈ φ₀ + Σ_g φ_g z_g solved in double precision.
/// </summary>
internal static class CoalitionRegression
{
    /// <summary>Solves min Σ_k w_k (y_k − φ₀ − z_kᵀφ)² + λ‖φ‖² (the intercept is not penalised); returns (φ₀, φ).</summary>
    internal static (double Intercept, double[] Coefficients) Fit(double[,] z, double[] y, double[] w, double lambda)
    {
        int k = y.Length, g = z.GetLength(1), p = g + 1;
        var a = new double[p, p];
        var rhs = new double[p];
        var row = new double[p];
        for (int i = 0; i < k; i++)
        {
            row[0] = 1;
            for (int j = 0; j < g; j++) row[j + 1] = z[i, j];
            for (int r = 0; r < p; r++)
            {
                rhs[r] += w[i] * row[r] * y[i];
                for (int c = 0; c < p; c++) a[r, c] += w[i] * row[r] * row[c];
            }
        }
        for (int j = 1; j < p; j++) a[j, j] += lambda;
        var matrix = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.DenseOfArray(a);
        var solution = matrix.Solve(MathNet.Numerics.LinearAlgebra.Vector<double>.Build.DenseOfArray(rhs));
        if (solution.Any(v => !double.IsFinite(v)))
            solution = matrix.PseudoInverse() * MathNet.Numerics.LinearAlgebra.Vector<double>.Build.DenseOfArray(rhs);
        return (solution[0], solution.Skip(1).ToArray());
    }

    /// <summary>Scores of coalitions <c>z</c> [K, G] for one row, as doubles.</summary>
    internal static double[] Scores(Func<Tensor, Tensor> forward, AttributionCall call, Tensor row, Tensor baseline, Tensor groupOf, double[,] z, Tensor target, int perEval)
    {
        int k = z.GetLength(0), g = z.GetLength(1);
        var flat = new float[k * g];
        for (int i = 0; i < k; i++)
        for (int j = 0; j < g; j++)
            flat[i * g + j] = (float)z[i, j];
        return FeatureMasks.CoalitionScores(forward, call, row, baseline, groupOf, tensor(flat, new long[] { k, g }), target, perEval).data<double>().ToArray();
    }

    /// <summary>Spreads per-group coefficients over the features of each group (a group's value divided by its size).</summary>
    internal static Tensor ToMap(double[] coefficients, Tensor groupOf, int groups, Tensor input) =>
        tensor(coefficients).to(input.dtype, input.device).index_select(0, groupOf).reshape(input.shape.Skip(1).ToArray())
        / ShapleyValueSampling.GroupSizes(groupOf, groups, input);
}
