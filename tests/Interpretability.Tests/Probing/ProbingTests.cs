using Interpretability.Probing;
using Interpretability.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Tests.Probing;

public class ProbingTests
{
    private static readonly double[][] Inputs = { new[] { 1.0, 2.0, -0.5 }, new[] { -1.0, 0.5, 2.0 }, new[] { 0.3, -0.7, 0.9 } };

    private static Tensor X() => tensor(Inputs.SelectMany(r => r).ToArray(), dtype: float64).reshape(3, 3);

    [Fact]
    public void Captured_activations_equal_a_hand_computation()
    {
        using var model = HandNets.Mlp();
        using var capture = ActivationRecorder.Capture(model, X(), new[] { "fc1", "relu1", "fc2" }, captureInputs: true);
        var fc1 = HandNets.Rows(capture["fc1"]);
        var relu = HandNets.Rows(capture["relu1"]);
        var output = HandNets.Rows(capture.ModelOutput!);
        for (int r = 0; r < Inputs.Length; r++)
        {
            var z = HandNets.Fc1(Inputs[r]);
            var y = HandNets.Forward(Inputs[r]);
            for (int i = 0; i < 4; i++)
            {
                Assert.Equal(z[i], fc1[r][i], 12);
                Assert.Equal(Math.Max(0, z[i]), relu[r][i], 12);
            }
            for (int o = 0; o < 2; o++) Assert.Equal(y[o], output[r][o], 12);
        }
        // The input of relu1 is fc1's output.
        Assert.True(capture.Inputs["relu1"].allclose(capture["fc1"]));
    }

    [Fact]
    public void Zero_ablating_a_unit_changes_the_output_exactly_as_by_hand()
    {
        using var model = HandNets.Mlp();
        using (Ablation.Zero(model, "relu1", new long[] { 1, 3 }))
        using (no_grad())
        {
            var y = HandNets.Rows(model.call(X()));
            for (int r = 0; r < Inputs.Length; r++)
            {
                var expected = HandNets.Forward(Inputs[r], (i, h) => i is 1 or 3 ? 0 : h);
                for (int o = 0; o < 2; o++) Assert.Equal(expected[o], y[r][o], 12);
            }
        }
        // Removed on dispose: the plain output returns.
        using (no_grad())
        {
            var y = HandNets.Rows(model.call(X()));
            Assert.Equal(HandNets.Forward(Inputs[0])[0], y[0][0], 12);
        }
    }

    [Fact]
    public void Mean_ablation_uses_the_mean_over_the_data()
    {
        using var model = HandNets.Mlp();
        var x = X();
        using var means = Ablation.UnitMeans(model, "relu1", x, batchSize: 2);
        var hidden = Inputs.Select(i => HandNets.Fc1(i).Select(v => Math.Max(0, v)).ToArray()).ToArray();
        var handMeans = Enumerable.Range(0, 4).Select(u => hidden.Average(h => h[u])).ToArray();
        var m = means.data<double>().ToArray();
        for (int u = 0; u < 4; u++) Assert.Equal(handMeans[u], m[u], 12);
        using (Ablation.Mean(model, "relu1", new long[] { 0 }, means))
        using (no_grad())
        {
            var y = HandNets.Rows(model.call(x));
            var expected = HandNets.Forward(Inputs[2], (i, h) => i == 0 ? handMeans[0] : h);
            Assert.Equal(expected[0], y[2][0], 12);
            Assert.Equal(expected[1], y[2][1], 12);
        }
    }

    [Fact]
    public void Ablating_a_unit_out_of_range_names_the_layer_and_the_count()
    {
        using var model = HandNets.Mlp();
        using var ablate = Ablation.Zero(model, "relu1", new long[] { 4 });
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => model.call(X()));
        Assert.Contains("relu1", e.Message);
        Assert.Contains("4 units", e.Message);
    }

    [Fact]
    public void Patching_with_identical_clean_and_corrupted_inputs_changes_nothing()
    {
        using var model = HandNets.Mlp();
        var x = X();
        var result = ActivationPatching.Run(model, x, x.clone(), new PatchSite[] { "relu1", new("fc1", new long[] { 2 }) }, y => y[0, 1]);
        Assert.Equal(result.Clean, result.Corrupted, 12);
        Assert.Equal(result.Clean, result.Patched, 12);
    }

    [Fact]
    public void Patching_a_unit_gives_the_hand_computed_mix_of_clean_and_corrupted()
    {
        using var model = HandNets.Mlp();
        var clean = X();
        var corrupted = -X();
        // Patch unit 1 of relu1 from clean into corrupted: output = W2 · h_corrupted with h[1] from the clean run.
        var result = ActivationPatching.Run(model, clean, corrupted, new[] { new PatchSite("relu1", new long[] { 1 }) }, y => y[0, 0]);
        var cleanHidden = HandNets.Fc1(Inputs[0]).Select(v => Math.Max(0, v)).ToArray();
        var corruptedInput = Inputs[0].Select(v => -v).ToArray();
        var expected = HandNets.Forward(corruptedInput, (i, h) => i == 1 ? cleanHidden[1] : h)[0];
        Assert.Equal(expected, result.Patched, 12);
        Assert.Equal(HandNets.Forward(Inputs[0])[0], result.Clean, 12);
        Assert.Equal(HandNets.Forward(corruptedInput)[0], result.Corrupted, 12);
        // Patching the whole hidden layer restores the clean metric: nothing else reaches the output.
        var whole = ActivationPatching.Run(model, clean, corrupted, new PatchSite[] { "relu1" }, y => y[0, 0]);
        Assert.Equal(1.0, whole.Recovery, 12);
    }

    [Fact]
    public void Hooks_are_removed_when_the_forward_pass_throws()
    {
        using var model = HandNets.Mlp();
        var x = X();
        Tensor reference;
        using (no_grad()) reference = model.call(x);
        int calls = 0;
        Assert.Throws<InvalidOperationException>(() =>
        {
            using var replace = OutputReplacement.Apply(model, "relu1", o => { calls++; throw new InvalidOperationException("boom"); });
            using var recorder = new ActivationRecorder(model, new[] { "fc2" });
            model.call(x);
        });
        Assert.Equal(1, calls);
        using (no_grad())
        {
            var after = model.call(x);
            Assert.True(after.allclose(reference));
        }
        Assert.Equal(1, calls); // the throwing hook did not run again
    }

    [Fact]
    public void Recorder_hooks_are_gone_after_dispose()
    {
        using var model = HandNets.Mlp();
        var recorder = new ActivationRecorder(model, new[] { "fc1" });
        using (no_grad()) model.call(X());
        Assert.Equal(1, recorder.CallCount["fc1"]);
        Assert.Equal(1, recorder.HookCount);
        recorder.Dispose();
        Assert.Equal(0, recorder.HookCount);
        using (no_grad()) model.call(X());
        Assert.Throws<ObjectDisposedException>(() => recorder.Output("fc1"));
    }

    [Fact]
    public void Unknown_layer_path_lists_the_real_ones()
    {
        using var model = HandNets.Mlp();
        var e = Assert.Throws<ArgumentException>(() => new ActivationRecorder(model, new[] { "fc9" }));
        Assert.Contains("'fc9'", e.Message);
        foreach (var real in new[] { "'fc1'", "'relu1'", "'fc2'" }) Assert.Contains(real, e.Message);
        Assert.Throws<ArgumentException>(() => OutputReplacement.Apply(model, "nope", o => o * 2));
        Assert.Throws<ArgumentException>(() => LayerGradient.Compute(model, X(), "conv1", y => y.sum()));
    }

    [Fact]
    public void Layer_gradient_equals_the_hand_computed_gradient()
    {
        using var model = HandNets.Mlp();
        // d (sum of output 0 over the batch) / d relu1 = W2[0, :] for every row.
        using var g = LayerGradient.Compute(model, X(), "relu1", y => y.select(1, 0).sum());
        var rows = HandNets.Rows(g.Gradient);
        foreach (var row in rows)
            for (int i = 0; i < 4; i++) Assert.Equal(HandNets.W2[0, i], row[i], 12);
        var act = HandNets.Rows(g.Activation);
        Assert.Equal(Math.Max(0, HandNets.Fc1(Inputs[1])[2]), act[1][2], 12);
        Assert.Equal(Inputs.Sum(i => HandNets.Forward(i)[0]), g.Objective, 10);
    }

    [Fact]
    public void Layer_gradient_matches_autograd_through_the_whole_model_on_a_cnn()
    {
        using var model = Interpretability.Models.ReferenceModels.SmallCnn(3, 5, width: 4, seed: 3);
        using var gen = new Generator(11);
        var x = randn(new long[] { 2, 3, 16, 16 }, generator: gen);
        using var result = LayerGradient.Compute(model, x, "conv2", y => y[TensorIndex.Colon, 2].sum());
        // Independent route: keep the graph (alias) with the recorder and differentiate with autograd.
        using var rec = new ActivationRecorder(model, new[] { "conv2" }, new ActivationRecorderOptions(KeepGraph: true));
        var y = model.call(x)[TensorIndex.Colon, 2].sum();
        var g = autograd.grad(new[] { y }, new[] { rec.Output("conv2") })[0];
        Assert.True(g.allclose(result.Gradient, rtol: 1e-5, atol: 1e-6));
        Assert.True(rec.Output("conv2").detach().allclose(result.Activation));
    }

    [Fact]
    public void Replacement_with_a_wrong_shape_is_a_clear_error()
    {
        using var model = HandNets.Mlp();
        using var replace = OutputReplacement.Apply(model, "fc1", o => o.narrow(1, 0, 2));
        var e = Assert.Throws<InvalidOperationException>(() => model.call(X()));
        Assert.Contains("fc1", e.Message);
        Assert.Contains("[3, 2]", e.Message);
    }
}

[Collection(RunsAloneCollection.Name)]
public class ProbingMemoryTests
{
    [Fact]
    public void Repeated_captures_do_not_grow_native_memory()
    {
        using var model = Interpretability.Models.ReferenceModels.SmallCnn(3, 10, width: 8, seed: 0);
        using var gen = new Generator(5);
        var x = randn(new long[] { 4, 3, 32, 32 }, generator: gen);
        var (rss, tensors) = MemoryProbe.Measure(() =>
        {
            using var capture = ActivationRecorder.Capture(model, x, new[] { "conv1", "relu2", "conv3" });
        }, repeats: 500);
        Assert.Equal(0, tensors);
        Assert.True(rss < MemoryProbe.LeakThresholdBytes, $"native memory in use grew by {rss / 1024} KiB per 500 captures.");
    }
}
