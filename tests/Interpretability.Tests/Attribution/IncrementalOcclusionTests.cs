using FsCheck.Xunit;
using Interpretability.Attribution;
using Interpretability.Models;
using Interpretability.Nn;
using Interpretability.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Interpretability.Tests.Attribution;

/// <summary>
/// Incremental occlusion against the independent truth of a full forward pass per occluded image (the plain
/// <see cref="Occlusion"/> on the model itself): the two must agree on every pixel.
/// </summary>
public sealed class IncrementalOcclusionTests
{
    [Fact]
    public void ShapesNet_chain_computes_the_model()
    {
        using var scope = NewDisposeScope();
        using var model = ModelZoo.ShapesNet();
        var x = rand(new long[] { 3, 3, 64, 64 }, generator: new Generator(2));
        using var noGrad = no_grad();
        var expected = model.call(x);
        var actual = model.AsSpatialChain().Forward(x);
        Assert.True(actual.allclose(expected, rtol: 1e-5, atol: 1e-5), $"max difference {(actual - expected).abs().max().item<float>()}");
    }

    [Theory]
    [InlineData(8, 8, 4, 4, 128)]     // the benchmark's windows
    [InlineData(5, 7, 3, 5, 17)]      // windows not aligned to the pooling grid, uneven batches
    [InlineData(1, 1, 9, 11, 64)]     // single pixels
    [InlineData(64, 64, 1, 1, 4)]     // one window covering everything
    [InlineData(20, 3, 11, 9, 1)]     // tall thin windows, one per pass
    public void Incremental_occlusion_of_ShapesNet_equals_a_forward_pass_per_window(int wh, int ww, int sy, int sx, int batch)
    {
        using var scope = NewDisposeScope();
        using var model = ModelZoo.ShapesNet();
        var (images, labels, _) = ShapesDataset.Generate(2, seed: 7, size: 64);
        var options = new OcclusionOptions(wh, ww, sy, sx, Baseline: 0.3f, PerturbationsPerEval: batch);
        using var full = new Occlusion(model).Attribute(images, labels, options);
        using var incremental = new Occlusion(model.AsSpatialChain()).Attribute(images, labels, options);
        var scale = full.Attributions.abs().max().item<float>();
        var error = (incremental.Attributions - full.Attributions).abs().max().item<float>();
        Assert.True(error <= 1e-4 * Math.Max(scale, 1), $"max difference {error} (attribution scale {scale})");
        Assert.Equal(1, incremental.Metadata["incremental"]);
        Assert.Equal(0, full.Metadata["incremental"]);
    }

    /// <summary>
    /// Random VGG-like chains (convolutions of kernel 1–5 with stride, padding and dilation, max and average pooling,
    /// ReLU and tanh, then global pooling and a linear head) and random windows: incremental equals full, in float64.
    /// </summary>
    [Property(MaxTest = 40)]
    public bool Incremental_occlusion_equals_full_forward_on_random_chains(int seed)
    {
        using var scope = NewDisposeScope();
        var rng = new Random(seed);
        var gen = new Generator((ulong)(uint)seed);
        int channels = rng.Next(1, 4), h = rng.Next(9, 21), w = rng.Next(9, 21);
        var layers = new List<(string, Module<Tensor, Tensor>)>();
        long c = channels, ch = h, cw = w;
        int count = rng.Next(2, 6);
        for (int i = 0; i < count; i++)
        {
            Module<Tensor, Tensor> layer;
            long nextH, nextW, nextC = c;
            switch (rng.Next(4))
            {
                case 0 or 1:
                {
                    int k = rng.Next(1, 6), s = rng.Next(1, 3), p = rng.Next(0, 3), d = rng.Next(1, 3);
                    nextC = rng.Next(1, 5);
                    layer = Conv2d(c, nextC, k, stride: s, padding: p, dilation: d, dtype: float64);
                    nextH = Output(ch, d * (k - 1) + 1, s, p);
                    nextW = Output(cw, d * (k - 1) + 1, s, p);
                    break;
                }
                case 2:
                {
                    int k = rng.Next(2, 4), s = rng.Next(1, 4), p = rng.Next(0, k / 2 + 1);
                    if (rng.Next(2) == 0)
                    {
                        layer = MaxPool2d(k, stride: s, padding: p);
                    }
                    else
                    {
                        p = 0;
                        layer = AvgPool2d(k, stride: s);
                    }
                    nextH = Output(ch, k, s, p);
                    nextW = Output(cw, k, s, p);
                    break;
                }
                default:
                    layer = rng.Next(2) == 0 ? ReLU() : Tanh();
                    nextH = ch;
                    nextW = cw;
                    break;
            }
            if (nextH < 1 || nextW < 1) break;
            layers.Add(($"l{i}", layer));
            (c, ch, cw) = (nextC, nextH, nextW);
        }
        if (layers.Count == 0) layers.Add(("l0", ReLU()));
        layers.Add(("gap", AdaptiveAvgPool2d(1)));
        layers.Add(("flatten", Flatten()));
        layers.Add(("fc", Linear(c, 3, dtype: float64)));
        using var model = Sequential(layers);
        using (no_grad())
            foreach (var p in model.parameters()) p.copy_(randn(p.shape, dtype: float64, generator: gen));
        model.eval();
        var chain = SpatialChain.FromSequential(model);
        var x = rand(new long[] { 1, channels, h, w }, dtype: float64, generator: gen);
        int wh = rng.Next(1, h + 1), ww = rng.Next(1, w + 1);
        var options = new OcclusionOptions(wh, ww, rng.Next(1, 5), rng.Next(1, 5), Baseline: (float)rng.NextDouble(), PerturbationsPerEval: rng.Next(1, 9));
        using var full = new Occlusion(model).Attribute(x, 2, options);
        using var incremental = new Occlusion(chain).Attribute(x, 2, options);
        return incremental.Attributions.allclose(full.Attributions, rtol: 1e-9, atol: 1e-9);
    }

    /// <summary>Output size of a kernel over a padded input, 0 when the kernel does not fit.</summary>
    private static long Output(long size, int kernel, int stride, int pad) => size + 2 * pad < kernel ? 0 : (size + 2 * pad - kernel) / stride + 1;

    [Fact]
    public void FromSequential_splits_local_stages_from_the_head_and_rejects_a_model_without_them()
    {
        using var scope = NewDisposeScope();
        using var model = Sequential(("conv", Conv2d(2, 3, 3, padding: 1)), ("relu", ReLU()), ("pool", MaxPool2d(2)),
            ("gap", AdaptiveAvgPool2d(1)), ("flatten", Flatten()), ("relu2", ReLU()), ("fc", Linear(3, 4)));
        var chain = SpatialChain.FromSequential(model);
        Assert.Equal(new[] { "conv", "relu", "pool" }, chain.Stages.Select(s => s.Name));
        Assert.Equal((1, 1, 0, 0), (chain.Stages[1].KernelHeight, chain.Stages[1].StrideY, chain.Stages[1].PadY, chain.Stages[1].PadX));
        Assert.Equal((2, 2, 0, double.NegativeInfinity), (chain.Stages[2].KernelHeight, chain.Stages[2].StrideX, chain.Stages[2].PadY, chain.Stages[2].PadValue));
        var x = rand(2, 2, 8, 8);
        using (no_grad()) Assert.True(chain.Forward(x).allclose(model.call(x), 1e-6, 1e-6));

        using var linearFirst = Sequential(("flatten", Flatten()), ("fc", Linear(12, 2)));
        Assert.Equal("model", Assert.Throws<ArgumentException>(() => SpatialChain.FromSequential(linearFirst)).ParamName);
        using var reflect = Sequential(("conv", Conv2d(2, 3, 3, padding: 1, padding_mode: PaddingModes.Reflect)), ("fc", Flatten()));
        Assert.Equal("model", Assert.Throws<ArgumentException>(() => SpatialChain.FromSequential(reflect)).ParamName);   // reflect padding is not zero padding
        Assert.Throws<ArgumentException>(() => new SpatialChain(Array.Empty<SpatialStage>(), t => t));
        Assert.Throws<ArgumentException>(() => new SpatialChain(new[] { new SpatialStage("bad", 0, 1, 1, 1, 0, 0, 0, t => t) }, t => t));
    }
}

[Collection(RunsAloneCollection.Name)]
public sealed class IncrementalOcclusionMemoryTests
{
    [Fact]
    public void Repeated_incremental_occlusions_do_not_grow_native_memory()
    {
        using var model = GradientTestNets.Cnn();
        model.eval();
        var chain = SpatialChain.FromSequential(model);
        var x = rand(1, 3, 8, 8);
        var occlusion = new Occlusion(chain);
        var options = new OcclusionOptions(4, 4, 2, 2, PerturbationsPerEval: 4);
        var (rss, tensors) = MemoryProbe.Measure(() => occlusion.Attribute(x, 1, options).Dispose(), repeats: 100, warmup: 20);
        Assert.Equal(0, tensors);
        Assert.True(rss < MemoryProbe.LeakThresholdBytes, $"native memory in use grew by {rss / 1024} KiB per 100 runs");
    }
}
