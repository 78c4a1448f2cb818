using Interpretability.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Ensembles;

/// <summary>The gradient of a picture property over every weight.</summary>
/// <param name="Property">The property's name.</param>
/// <param name="Value">Its value for the current weights.</param>
/// <param name="Gradient"><c>∂P/∂w_s</c> per synapse (length S).</param>
/// <param name="BiasGradient"><c>∂P/∂b_j</c> per neuron (length N).</param>
public sealed record PropertyGradientResult(string Property, double Value, IReadOnlyList<double> Gradient, IReadOnlyList<double> BiasGradient)
{
    /// <summary>Euclidean norm of the weight gradient.</summary>
    public double Norm => Math.Sqrt(Gradient.Sum(g => g * g));

    /// <summary>The <paramref name="count"/> synapses with the largest |∂P/∂w|, strongest first.</summary>
    public IReadOnlyList<int> TopSynapses(int count) =>
        Enumerable.Range(0, Gradient.Count).OrderByDescending(s => Math.Abs(Gradient[s])).ThenBy(s => s).Take(count).ToArray();

    /// <summary>Share of the squared gradient norm carried by the top <paramref name="count"/> synapses.</summary>
    public double TopShare(int count)
    {
        var total = Gradient.Sum(g => g * g);
        return total > 0 ? TopSynapses(count).Sum(s => Gradient[s] * Gradient[s]) / total : 0;
    }
}

/// <summary>The first-order check of a property gradient: a small step along it changes the property by α·|∇P|.</summary>
/// <param name="Property">The property's name.</param>
/// <param name="Alpha">Step length α along the unit gradient direction.</param>
/// <param name="Predicted">α |∇P|.</param>
/// <param name="Actual">P(w + α d/|d|) − P(w).</param>
public sealed record FirstOrderCheck(string Property, double Alpha, double Predicted, double Actual)
{
    /// <summary>|Actual − Predicted| / |Predicted| (below 5% for the mask moments at α = 1e−3 in our tests).</summary>
    public double RelativeError => Predicted != 0 ? Math.Abs(Actual - Predicted) / Math.Abs(Predicted) : Math.Abs(Actual);
}

/// <summary>
/// Property directions (our method): the gradient <c>∇_w P = Σ_p (∂P/∂O(p)) · ∂O(p)/∂w</c> of a scalar property of the
/// rendered picture, by one backward pass; its top synapses; a first-order check; and steps along the gradient
/// restricted to an ensemble.
/// </summary>
public static class PropertyGradient
{
    /// <summary>The gradient of <paramref name="property"/> over every weight and bias.</summary>
    /// <param name="network">The network.</param>
    /// <param name="grid">The picture's pixel grid.</param>
    /// <param name="property">The property.</param>
    public static PropertyGradientResult Compute(CoordinateNetwork network, PixelGrid grid, ImageProperty property)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(grid);
        ArgumentNullException.ThrowIfNull(property);
        using var scope = NewDisposeScope();
        var coords = grid.Coordinates(network.DType, network.Device);
        var value = property.Evaluate(network.forward(coords), coords);
        if (value.numel() != 1) throw new InvalidOperationException($"Property '{property.Name}' returned {value.numel()} values; it must return one.");
        var grads = autograd.grad(new[] { value }, new Tensor[] { network.Weights, network.Biases }, allow_unused: true);
        var gw = grads[0] is null ? zeros_like(network.Weights) : grads[0];
        var gb = grads[1] is null ? zeros_like(network.Biases) : grads[1];
        var v = value.ToDouble();
        if (!double.IsFinite(v)) throw new InvalidOperationException($"Property '{property.Name}' is {v} for this picture.");
        return new PropertyGradientResult(property.Name, v, ToDoubles(gw), ToDoubles(gb));
    }

    /// <summary>The property's value (no gradient).</summary>
    public static double Value(CoordinateNetwork network, PixelGrid grid, ImageProperty property)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(grid);
        ArgumentNullException.ThrowIfNull(property);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var coords = grid.Coordinates(network.DType, network.Device);
        using var trace = network.Trace(coords);
        return property.Evaluate(trace.Outputs, coords).ToDouble();
    }

    /// <summary>
    /// The first-order check (α = 1e−3 by default): steps the weights by α along the unit gradient and compares the
    /// change of the property with α |∇P|. Runs on a float64 copy of the network.
    /// </summary>
    public static FirstOrderCheck Check(CoordinateNetwork network, PixelGrid grid, ImageProperty property, double alpha = 1e-3)
    {
        ArgumentNullException.ThrowIfNull(network);
        if (!(alpha > 0) || !double.IsFinite(alpha)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "alpha must be positive.");
        using var copy = network.Copy(ScalarType.Float64);
        var g = Compute(copy, grid, property);
        var norm = g.Norm;
        if (norm == 0) return new FirstOrderCheck(property.Name, alpha, 0, 0);
        var before = Value(copy, grid, property);
        using var step = tensor(g.Gradient.Select(v => v * alpha / norm).ToArray(), dtype: ScalarType.Float64);
        double after;
        using (copy.Perturb(step)) after = Value(copy, grid, property);
        return new FirstOrderCheck(property.Name, alpha, alpha * norm, after - before);
    }

    /// <summary>
    /// A direction restricted to some synapses and renormalised (for editing along an ensemble): zero outside
    /// <paramref name="synapses"/>, unit Euclidean norm inside.
    /// </summary>
    /// <param name="direction">A weight direction (length S), e.g. a property gradient.</param>
    /// <param name="synapses">The ensemble.</param>
    /// <returns>Length S; all zeros when the direction vanishes on the ensemble.</returns>
    public static double[] Restrict(IReadOnlyList<double> direction, IReadOnlyList<int> synapses)
    {
        ArgumentNullException.ThrowIfNull(direction);
        ArgumentNullException.ThrowIfNull(synapses);
        var result = new double[direction.Count];
        foreach (var s in synapses)
        {
            if (s < 0 || s >= direction.Count) throw new ArgumentOutOfRangeException(nameof(synapses), s, $"Synapses are numbered 0…{direction.Count - 1}.");
            result[s] = direction[s];
        }
        var norm = Math.Sqrt(result.Sum(v => v * v));
        if (norm > 0) for (int i = 0; i < result.Length; i++) result[i] /= norm;
        return result;
    }

    private static double[] ToDoubles(Tensor t)
    {
        using var d = t.detach().to(ScalarType.Float64).cpu();
        return d.data<double>().ToArray();
    }
}
