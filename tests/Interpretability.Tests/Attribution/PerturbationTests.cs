using FsCheck.Xunit;
using Interpretability.Attribution;
using Interpretability.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Tests.Attribution;

public sealed class PerturbationTests
{
    /// <summary>A "model" whose class-0 score is Σ w ⊙ x over the image and class 1 is 0: every method's answer is known.</summary>
    private static (Func<Tensor, Tensor> Forward, Tensor Weights) WeightedSum(int c, int h, int w, int seed)
    {
        using var g = new Generator((ulong)seed);
        var weights = randn(new long[] { c, h, w }, generator: g, dtype: float64);
        Tensor Forward(Tensor x) => stack(new[] { (x.to(float64) * weights).sum(new long[] { 1, 2, 3 }), zeros(x.shape[0], dtype: float64) }, 1);
        return (Forward, weights);
    }

    [Fact]
    public void Occlusion_is_exact_on_a_weighted_region_sum()
    {
        var (f, w) = WeightedSum(2, 6, 7, 1);
        var x = rand(new long[] { 1, 2, 6, 7 }, dtype: float64);
        using var r = new Occlusion(f).Attribute(x, 0, new OcclusionOptions(3, 2, 2, 2, Baseline: 0, PerturbationsPerEval: 5));
        // Hand computation: window effect = Σ_window w ⊙ x; pixel = mean effect of the windows covering it.
        var contribution = (w * x[0]).sum(new long[] { 0 });
        var expected = zeros(6, 7, dtype: float64);
        var count = zeros(6, 7, dtype: float64);
        for (int y0 = 0; y0 + 3 <= 6; y0 += 2)
        for (int x0 = 0; x0 + 2 <= 7; x0 += 2)
        {
            var effect = contribution[TensorIndex.Slice(y0, y0 + 3), TensorIndex.Slice(x0, x0 + 2)].sum();
            expected[TensorIndex.Slice(y0, y0 + 3), TensorIndex.Slice(x0, x0 + 2)] += effect;
            count[TensorIndex.Slice(y0, y0 + 3), TensorIndex.Slice(x0, x0 + 2)] += 1;
        }
        expected = torch.where(count > 0, expected / count.clamp_min(1), zeros_like(expected));
        Assert.True(r.Attributions[0, 0].allclose(expected, 1e-9, 1e-9));
        Assert.True(r.Attributions[0, 1].allclose(expected, 1e-9, 1e-9));      // every channel of a pixel shares its value
        Assert.Equal(0, r.Attributions[0, 0, TensorIndex.Ellipsis, 6].abs().sum().item<double>());   // column 6: no window reaches it
    }

    [Fact]
    public void Occlusion_gives_the_same_map_for_every_batch_size()
    {
        using var model = GradientTestNets.Cnn();
        model.eval();
        var x = rand(2, 3, 16, 16);
        using var one = new Occlusion(model).Attribute(x, 1, new OcclusionOptions(4, 4, 2, 2, PerturbationsPerEval: 1));
        using var many = new Occlusion(model).Attribute(x, 1, new OcclusionOptions(4, 4, 2, 2, PerturbationsPerEval: 64));
        Assert.True(one.Attributions.allclose(many.Attributions, 1e-4, 1e-5));
    }

    [Fact]
    public void Feature_ablation_of_a_linear_model_is_w_times_x_minus_baseline_per_group()
    {
        var (f, w) = WeightedSum(3, 8, 8, 2);
        var x = rand(new long[] { 1, 3, 8, 8 }, dtype: float64);
        var mask = FeatureMasks.Grid(8, 8, 4);
        using var r = new FeatureAblation(f).Attribute(x, 0, new FeatureAblationOptions(mask, Baseline: tensor(0.25, dtype: float64), PerturbationsPerEval: 3));
        var contribution = (w * (x[0] - 0.25)).sum(new long[] { 0 });           // [8, 8]
        for (int gy = 0; gy < 2; gy++)
        for (int gx = 0; gx < 2; gx++)
        {
            var cell = (TensorIndex.Slice(gy * 4, gy * 4 + 4), TensorIndex.Slice(gx * 4, gx * 4 + 4));
            var expected = contribution[cell.Item1, cell.Item2].sum().item<double>();
            var got = r.Attributions[0, TensorIndex.Colon, cell.Item1, cell.Item2].sum().item<double>();
            Assert.Equal(expected, got, 9);
        }
    }

    [Fact]
    public void Feature_permutation_of_a_linear_model_is_w_times_the_swapped_difference()
    {
        var lin = GradientTestNets.LinearNet(4, 2, 5);
        var x = randn(5, 4);
        using var r = new FeaturePermutation(lin).Attribute(x, 1, new FeaturePermutationOptions(Seed: 3));
        // Recompute the permutation the method uses: a seeded shuffle of the rows.
        var order = Enumerable.Range(0, 5).ToArray();
        new Random(3).Shuffle(order);
        var permuted = x.index_select(0, tensor(order.Select(i => (long)i).ToArray()));
        var expected = (x - permuted) * lin.weight![1].detach();
        Assert.True(r.Attributions.allclose(expected, 1e-5, 1e-5));
    }

    /// <summary>Exact Shapley values of a small nonlinear game, by enumerating all orderings of 4 players.</summary>
    private static double[] ExactShapley(Func<bool[], double> value, int n)
    {
        var phi = new double[n];
        var perms = Permutations(Enumerable.Range(0, n).ToArray()).ToList();
        foreach (var p in perms)
        {
            var on = new bool[n];
            var previous = value(on);
            foreach (var i in p)
            {
                on[i] = true;
                var v = value(on);
                phi[i] += v - previous;
                previous = v;
            }
        }
        return phi.Select(v => v / perms.Count).ToArray();
    }

    private static IEnumerable<int[]> Permutations(int[] items)
    {
        if (items.Length <= 1) { yield return items; yield break; }
        for (int i = 0; i < items.Length; i++)
            foreach (var rest in Permutations(items.Where((_, j) => j != i).ToArray()))
                yield return new[] { items[i] }.Concat(rest).ToArray();
    }

    private static Tensor Quadratic(Tensor x) // class 0: x0·x1 + 2·x2 − x3² + x1·x3; class 1: 0
    {
        var s = x[TensorIndex.Colon, 0] * x[TensorIndex.Colon, 1] + 2 * x[TensorIndex.Colon, 2] - x[TensorIndex.Colon, 3].pow(2) + x[TensorIndex.Colon, 1] * x[TensorIndex.Colon, 3];
        return stack(new[] { s, zeros_like(s) }, 1);
    }

    [Fact]
    public void Shapley_sampling_approaches_the_exact_shapley_values_and_is_efficient()
    {
        var x = tensor(new double[] { 0.9, -1.2, 0.4, 1.5 }).reshape(1, 4);
        var xs = x[0].data<double>().ToArray();
        double Value(bool[] on)
        {
            var v = Enumerable.Range(0, 4).Select(i => on[i] ? xs[i] : 0.0).ToArray();
            return v[0] * v[1] + 2 * v[2] - v[3] * v[3] + v[1] * v[3];
        }
        var exact = ExactShapley(Value, 4);
        using var r = new ShapleyValueSampling(Quadratic).Attribute(x, 0, new ShapleyValueSamplingOptions(Permutations: 400, Seed: 1));
        var got = r.Attributions[0].data<double>().ToArray();
        for (int i = 0; i < 4; i++) Assert.InRange(got[i], exact[i] - 0.12, exact[i] + 0.12);
        Assert.Equal(Value(new[] { true, true, true, true }), got.Sum(), 9);     // efficiency holds exactly
    }

    [Property(MaxTest = 30)]
    public bool Shapley_sampling_is_efficient_for_random_quadratic_models(int seed)
    {
        using var scope = NewDisposeScope();
        using var g = new Generator((ulong)(seed & 0x7fffffff));
        var a = randn(new long[] { 5, 5 }, dtype: float64, generator: g);
        var b = randn(new long[] { 5 }, dtype: float64, generator: g);
        Tensor F(Tensor x)
        {
            var s = ((x.matmul(a)) * x).sum(new long[] { 1 }) + x.matmul(b);
            return stack(new[] { s, -s }, 1);
        }
        var x = randn(new long[] { 1, 5 }, dtype: float64, generator: g);
        var baseline = randn(new long[] { 1, 5 }, dtype: float64, generator: g);
        using var r = new ShapleyValueSampling(F).Attribute(x, 0, new ShapleyValueSamplingOptions(Baseline: baseline, Permutations: 3, Seed: seed));
        var total = (F(x)[0, 0] - F(baseline)[0, 0]).item<double>();
        return Math.Abs(r.Attributions.sum().item<double>() - total) < 1e-8 * Math.Max(1, Math.Abs(total));
    }

    [Fact]
    public void KernelShap_and_Lime_recover_a_linear_models_coefficients_per_segment()
    {
        var (f, w) = WeightedSum(3, 8, 8, 4);
        var x = rand(new long[] { 1, 3, 8, 8 }, dtype: float64);
        var mask = FeatureMasks.Grid(8, 8, 2);                                    // 16 segments
        var contribution = (w * x[0]).sum(new long[] { 0 });
        var expected = new double[16];
        for (int i = 0; i < 16; i++)
            expected[i] = contribution[TensorIndex.Slice(i / 4 * 2, i / 4 * 2 + 2), TensorIndex.Slice(i % 4 * 2, i % 4 * 2 + 2)].sum().item<double>();
        using var shap = new KernelShap(f).Attribute(x, 0, new KernelShapOptions(mask, Samples: 300, Seed: 2));
        using var lime = new Lime(f).Attribute(x, 0, new LimeOptions(mask, Samples: 300, Ridge: 1e-6, Seed: 2));
        foreach (var r in new[] { shap, lime })
            for (int i = 0; i < 16; i++)
            {
                var got = r.Attributions[0, TensorIndex.Colon, TensorIndex.Slice(i / 4 * 2, i / 4 * 2 + 2), TensorIndex.Slice(i % 4 * 2, i % 4 * 2 + 2)].sum().item<double>();
                Assert.True(Math.Abs(got - expected[i]) < 1e-4 * Math.Max(1, Math.Abs(expected[i])), $"{r.Method} segment {i}: {got} vs {expected[i]}");
            }
    }

    [Fact]
    public void Every_perturbation_method_leaves_the_model_unchanged()
    {
        using var model = GradientTestNets.Cnn();
        model.eval();
        var snapshot = GradientTestNets.Snapshot(model);
        var x = rand(2, 3, 8, 8);
        var mask = FeatureMasks.Grid(8, 8, 4);
        new Occlusion(model).Attribute(x, 1, new OcclusionOptions(4, 4, 2, 2)).Dispose();
        new FeatureAblation(model).Attribute(x, 1, new FeatureAblationOptions(mask)).Dispose();
        new FeaturePermutation(model).Attribute(x, 1, new FeaturePermutationOptions(mask)).Dispose();
        new ShapleyValueSampling(model).Attribute(x, 1, new ShapleyValueSamplingOptions(mask, Permutations: 2)).Dispose();
        new KernelShap(model).Attribute(x, 1, new KernelShapOptions(mask, Samples: 20)).Dispose();
        new Lime(model).Attribute(x, 1, new LimeOptions(mask, Samples: 20)).Dispose();
        GradientTestNets.AssertUnchanged(model, snapshot);
    }

    [Fact]
    public void Bad_input_names_the_parameter()
    {
        using var model = GradientTestNets.Cnn();
        var x = rand(1, 3, 8, 8);
        var e1 = Assert.Throws<ArgumentOutOfRangeException>(() => new Occlusion(model).Attribute(x, 1, new OcclusionOptions(9, 4)));
        Assert.Contains("WindowHeight", e1.Message);
        Assert.Equal("target", Assert.Throws<ArgumentOutOfRangeException>(() => new Occlusion(model).Attribute(x, 7, new OcclusionOptions(4, 4))).ParamName);
        var e2 = Assert.Throws<ArgumentException>(() => new FeatureAblation(model).Attribute(x, 1, new FeatureAblationOptions(FeatureMasks.Grid(5, 5, 1))));
        Assert.Equal("FeatureMask", e2.ParamName);
        var e3 = Assert.Throws<ArgumentException>(() => new KernelShap(model).Attribute(x, 1, new KernelShapOptions(FeatureMasks.Grid(8, 8, 4), Baseline: zeros(2, 2))));
        Assert.Equal("Baseline", e3.ParamName);
        Assert.Throws<ArgumentException>(() => new FeaturePermutation(model).Attribute(x, 1));   // one row cannot be permuted
        Assert.Equal("cell", Assert.Throws<ArgumentOutOfRangeException>(() => FeatureMasks.Grid(8, 8, 0)).ParamName);
    }
}

[Collection(RunsAloneCollection.Name)]
public sealed class PerturbationMemoryTests
{
    [Fact]
    public void Repeated_occlusions_do_not_grow_native_memory()
    {
        using var model = GradientTestNets.Cnn();
        model.eval();
        var x = rand(1, 3, 8, 8);
        var occlusion = new Occlusion(model);
        var options = new OcclusionOptions(4, 4, 2, 2, PerturbationsPerEval: 4);
        var (rss, tensors) = MemoryProbe.Measure(() => occlusion.Attribute(x, 1, options).Dispose(), repeats: 100, warmup: 20);
        Assert.Equal(0, tensors);
        Assert.True(rss < MemoryProbe.LeakThresholdBytes, $"native memory in use grew by {rss / 1024} KiB per 100 runs");
    }
}
