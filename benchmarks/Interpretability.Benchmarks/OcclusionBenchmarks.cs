using System.ComponentModel;
using BenchmarkDotNet.Attributes;
using Interpretability.Attribution;
using Interpretability.Models;
using Interpretability.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Benchmarks;

/// <summary>
/// Occlusion of one image through the zoo's trained ShapesNet, 8×8 window, stride 4 (225 windows at 64×64): all windows
/// in batches of 128, and incremental inference (only the part of each layer a window reaches is recomputed, from the
/// model's <see cref="SpatialChain"/>; also batched 128), against the naive baseline of one forward pass per window
/// (the same code with batch size 1).
/// </summary>
[Config(typeof(BenchConfig))]
[Description("Occlusion (8×8 window, stride 4) of one Size×Size image through Model (ShapesNet, or a small 4-8-16-channel CNN where per-call overhead dominates), one libtorch thread: one forward per window vs all windows batched (128 per pass) vs incremental inference on the model's spatial chain (only the layer regions a window reaches are recomputed; 128 windows per pass).")]
public class OcclusionBenchmarks : ISmokeTestable
{
    private nn.Module<Tensor, Tensor> model = null!;
    private Tensor image = null!;
    private Occlusion occlusion = null!;
    private Occlusion incremental = null!;
    private IDisposable? threads;

    /// <summary>The model: the zoo's ShapesNet or a small seeded CNN (4-8-16 channels).</summary>
    [Params("shapesnet", "smallcnn")]
    public string Model { get; set; } = "shapesnet";

    /// <summary>Image side in pixels.</summary>
    [Params(64)]
    public int Size { get; set; }

    /// <summary>Window side (tiny sizes use a smaller one).</summary>
    public int Window { get; set; } = 8;

    /// <inheritdoc />
    public void UseTinySizes()
    {
        Size = 16;
        Window = 8;
    }

    /// <summary>Builds the model and the input.</summary>
    [GlobalSetup]
    public void Setup()
    {
        threads = BenchSession.OneThread();
        // ShapesNet: compute-bound (17 M multiply-adds per image); the small CNN: per-call overhead dominates.
        model = Model == "shapesnet" ? ModelZoo.ShapesNet() : ReferenceModels.SmallCnn(3, 11, width: 4, seed: 1);
        image = rand(new long[] { 1, 3, Size, Size }, generator: new Generator(4));
        occlusion = new Occlusion(model);
        incremental = new Occlusion(model is ShapesNet shapes ? shapes.AsSpatialChain() : SpatialChain.FromSequential((TorchSharp.Modules.Sequential)model));
    }

    /// <summary>Naive: one forward pass per window position.</summary>
    [Benchmark(Baseline = true)]
    public double OneForwardPerWindow()
    {
        using var r = occlusion.Attribute(image, 0, new OcclusionOptions(Window, Window, Window / 2, Window / 2, PerturbationsPerEval: 1));
        return r.Attributions.sum().ToDouble();
    }

    /// <summary>The library: windows batched 128 per forward pass.</summary>
    [Benchmark]
    public double Batched()
    {
        using var r = occlusion.Attribute(image, 0, new OcclusionOptions(Window, Window, Window / 2, Window / 2, PerturbationsPerEval: 128));
        return r.Attributions.sum().ToDouble();
    }

    /// <summary>The library's incremental inference: per window only the reachable box of every layer, 128 windows per pass.</summary>
    [Benchmark]
    public double Incremental()
    {
        using var r = incremental.Attribute(image, 0, new OcclusionOptions(Window, Window, Window / 2, Window / 2, PerturbationsPerEval: 128));
        return r.Attributions.sum().ToDouble();
    }

    /// <summary>Frees everything.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        image.Dispose();
        model.Dispose();
        threads?.Dispose();
    }
}
