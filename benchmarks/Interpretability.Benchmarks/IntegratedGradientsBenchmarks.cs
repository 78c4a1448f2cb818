using System.ComponentModel;
using BenchmarkDotNet.Attributes;
using Interpretability.Attribution;
using Interpretability.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Benchmarks;

/// <summary>
/// Integrated gradients of one 64×64 image through the zoo's trained ShapesNet:
/// the library's internal batching (all Steps scaled inputs in one forward+backward) against the naive baseline of one
/// forward+backward per step, and against a bare forward+backward of a batch of Steps images (the floor: the ratio
/// IG / bare is the library's overhead).
/// </summary>
[Config(typeof(BenchConfig))]
[Description("Integrated gradients (Gauss–Legendre, Steps steps) of one Size×Size image through Model (ShapesNet; a small 4-8-16-channel CNN; a 64-64-64-11 tabular MLP on one 64-feature row, where per-call overhead dominates), one libtorch thread: batched (one pass of Steps rows) vs one forward+backward per step; plus a bare forward+backward at batch Steps for the overhead.")]
public class IntegratedGradientsBenchmarks : ISmokeTestable
{
    private nn.Module<Tensor, Tensor> model = null!;
    private Tensor image = null!;
    private Tensor batch = null!;
    private IntegratedGradients ig = null!;
    private IntegratedGradientsOptions options = null!;
    private IDisposable? threads;

    /// <summary>The model: the zoo's ShapesNet, a small seeded CNN (4-8-16 channels), or a tabular MLP (64-64-64-11) on 64 features.</summary>
    [Params("shapesnet", "smallcnn", "mlp")]
    public string Model { get; set; } = "shapesnet";

    /// <summary>Integration steps.</summary>
    [Params(50)]
    public int Steps { get; set; }

    /// <summary>Image side in pixels.</summary>
    public int Size { get; set; } = 64;

    /// <inheritdoc />
    public void UseTinySizes()
    {
        Steps = 3;
        Size = 16;
    }

    /// <summary>Builds the model and the input.</summary>
    [GlobalSetup]
    public void Setup()
    {
        threads = BenchSession.OneThread();
        // ShapesNet: compute-bound (17 M multiply-adds per image); the small CNN: per-call overhead dominates.
        // The MLP: a tabular model, where each pass is microseconds of arithmetic and per-call overhead dominates.
        model = Model switch
        {
            "shapesnet" => ModelZoo.ShapesNet(),
            "smallcnn" => ReferenceModels.SmallCnn(3, 11, width: 4, seed: 1),
            _ => ReferenceModels.Mlp(64, new[] { 64, 64 }, 11, seed: 1),
        };
        var row = Model == "mlp" ? new long[] { 64 } : new long[] { 3, Size, Size };
        image = rand(new long[] { 1 }.Concat(row).ToArray(), generator: new Generator(2));
        batch = rand(new long[] { Steps }.Concat(row).ToArray(), generator: new Generator(3));
        ig = new IntegratedGradients(model);
        options = new IntegratedGradientsOptions(Steps, IntegrationRule.GaussLegendre, InternalBatchSize: Steps, ReturnConvergenceDelta: true);
    }

    /// <summary>Naive: one forward+backward per step on α_k·x, gradients summed with the quadrature weights.</summary>
    [Benchmark(Baseline = true)]
    public double OnePassPerStep()
    {
        using var scope = NewDisposeScope();
        var (alphas, weights) = IntegratedGradients.Quadrature(IntegrationRule.GaussLegendre, Steps);
        var sum = zeros_like(image);
        for (int k = 0; k < Steps; k++)
        {
            var x = (image * alphas[k]).requires_grad_(true);
            var y = model.call(x)[0, 1];
            var g = autograd.grad(new[] { y }, new[] { x })[0];
            sum.add_(g * weights[k]);
        }
        return (sum * image).sum().ToDouble();
    }

    /// <summary>The library: all steps in one batch (internal batch size = Steps), plus its completeness check.</summary>
    [Benchmark]
    public double Batched()
    {
        using var r = ig.Attribute(image, 1, options);
        return r.Metadata["convergence_delta"];
    }

    /// <summary>The floor: one bare forward+backward of a batch of Steps images.</summary>
    [Benchmark]
    public double BareForwardBackwardAtBatch()
    {
        using var scope = NewDisposeScope();
        var x = batch.detach().requires_grad_(true);
        var y = model.call(x)[.., 1].sum();
        return autograd.grad(new[] { y }, new[] { x })[0].sum().ToDouble();
    }

    /// <summary>Frees everything.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        image.Dispose();
        batch.Dispose();
        model.Dispose();
        threads?.Dispose();
    }
}
