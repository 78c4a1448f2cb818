using Interpretability.Attribution;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Tests.Attribution;

public sealed class MetricTests
{
    [Fact]
    public void Infidelity_is_zero_for_the_gradient_of_a_linear_model_and_positive_for_a_wrong_map()
    {
        var lin = GradientTestNets.LinearNet(6, 3, 7);
        var x = randn(1, 6);
        var w = lin.weight![2].detach().unsqueeze(0);
        // f(x) − f(x − I) = Iᵀw exactly for a linear model.
        Assert.True(Infidelity.Compute(lin.call, x, 2, w, new InfidelityOptions(Normalize: false)) < 1e-10);
        Assert.True(Infidelity.Compute(lin.call, x, 2, w * 3, new InfidelityOptions(Normalize: true)) < 1e-10);   // the scale is normalised away
        Assert.True(Infidelity.Compute(lin.call, x, 2, w.flip(1), new InfidelityOptions(Normalize: false)) > 1e-4);
    }

    [Fact]
    public void Max_sensitivity_is_zero_for_saliency_of_a_linear_model_and_bounded_for_input_x_gradient()
    {
        var lin = GradientTestNets.LinearNet(6, 3, 8);
        var x = randn(1, 6);
        var saliency = MaxSensitivity.Compute((input, t) => new Saliency(lin).Attribute(input, t, new SaliencyOptions(false)).Attributions, x, 1);
        Assert.True(saliency.Absolute < 1e-6);
        // InputXGradient of a linear model: φ(x + δ) − φ(x) = w ⊙ δ, so ‖·‖ ≤ r ‖w‖₂ for ‖δ‖∞ ≤ r.
        var r = 0.05;
        var ixg = MaxSensitivity.Compute((input, t) => new InputXGradient(lin).Attribute(input, t).Attributions, x, 1, new MaxSensitivityOptions(20, r));
        var bound = r * lin.weight![1].norm().item<float>();
        Assert.InRange(ixg.Absolute, 0.2 * bound, bound + 1e-6);
    }

    [Fact]
    public void Insertion_starts_from_the_blurred_image_and_ends_at_the_image()
    {
        using var g = new Generator(6);
        var weights = rand(new long[] { 1, 1, 16, 16 }, generator: g);
        Tensor F(Tensor x) => stack(new[] { (x * weights).sum(new long[] { 1, 2, 3 }), zeros(x.shape[0]) }, 1);
        var x = rand(new long[] { 1, 1, 16, 16 }, generator: g);
        var c = DeletionInsertion.Compute(F, x, 0, weights, new DeletionInsertionOptions(Steps: 8, UseProbability: false));
        Assert.Equal(F(Interpretability.Imaging.GaussianBlur.Apply(x, 2))[0, 0].ToDouble(), c.Insertion[0], 4);   // σ = 16 / 8
        Assert.Equal(F(x)[0, 0].ToDouble(), c.Insertion[^1], 4);
        Assert.NotEqual(c.Insertion[0], c.Deletion[^1], 3);                    // not the flat start of deletion
    }

    [Fact]
    public void Deletion_of_the_true_importance_order_has_a_lower_area_than_the_reverse_and_insertion_the_opposite()
    {
        using var g = new Generator(5);
        var weights = rand(new long[] { 1, 1, 6, 6 }, generator: g);
        Tensor F(Tensor x) => stack(new[] { (x * weights).sum(new long[] { 1, 2, 3 }), zeros(x.shape[0]) }, 1);
        var x = ones(1, 1, 6, 6);
        var truth = DeletionInsertion.Compute(F, x, 0, weights, new DeletionInsertionOptions(Steps: 36, Baseline: 0f, UseProbability: false, InsertionBlurSigma: 0));
        var reverse = DeletionInsertion.Compute(F, x, 0, -weights, new DeletionInsertionOptions(Steps: 36, Baseline: 0f, UseProbability: false, InsertionBlurSigma: 0));
        Assert.True(truth.DeletionAuc < reverse.DeletionAuc);
        Assert.True(truth.InsertionAuc > reverse.InsertionAuc);
        Assert.Equal(weights.sum().item<float>(), truth.Deletion[0], 4);       // nothing deleted yet
        Assert.Equal(0, truth.Deletion[^1], 6);                                  // everything deleted
        // Deleting in the order of w the curve is the total minus the cumulative sum of the sorted weights.
        var sorted = weights.flatten().sort(descending: true).Values.data<float>().ToArray();
        Assert.Equal(weights.sum().item<float>() - sorted.Take(10).Sum(), truth.Deletion[10], 4);
        Assert.Equal(0.5, DeletionInsertion.Trapezoid(new[] { 0.0, 1.0 }, new[] { 0.0, 1.0 }), 12);
    }

    [Fact]
    public void Randomisation_keeps_the_model_and_destroys_a_faithful_map()
    {
        using var model = GradientTestNets.Cnn(classes: 4, seed: 3);
        model.eval();
        var snapshot = GradientTestNets.Snapshot(model);
        var x = rand(1, 3, 16, 16);
        using var result = ModelRandomization.Run(model, () => GradientTestNets.Cnn(classes: 4, seed: 99),
            (m, input, t) => new Saliency(m).Attribute(input, t).Attributions, x, 2, seed: 1);
        GradientTestNets.AssertUnchanged(model, snapshot);
        Assert.Equal("original", result.Steps[0].Layer);
        Assert.Equal(new[] { "fc", "conv3", "conv2", "conv1" }, result.Steps.Skip(1).Select(s => s.Layer));
        // The copy starts as the model: the original map is the model's own saliency.
        using var own = new Saliency(model).Attribute(x, 2);
        Assert.True(own.Attributions[0].allclose(result.Steps[0].Map, 1e-5, 1e-6));
        Assert.True(result.Steps[^1].RankCorrelation < 0.8, $"after randomising every layer ρ = {result.Steps[^1].RankCorrelation:F3}");
        Assert.Equal(1.0, ModelRandomization.Spearman(tensor(new[] { 1.0, 2, 3, 4 }), tensor(new[] { 10.0, 20, 30, 40 })), 12);
        Assert.Equal(-1.0, ModelRandomization.Spearman(tensor(new[] { 1.0, 2, 3, 4 }), tensor(new[] { 4.0, 3, 2, 1 })), 12);
    }
}
