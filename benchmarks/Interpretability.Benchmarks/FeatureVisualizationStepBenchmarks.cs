using System.ComponentModel;
using BenchmarkDotNet.Attributes;
using Interpretability.FeatureVisualization;
using Interpretability.Probing;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Interpretability.Benchmarks;

/// <summary>
/// One feature-visualisation step (Fourier parameterisation with colour decorrelation, Lucid's standard transforms,
/// forward through the model with a recording hook, a channel objective, backward to the spectrum) against a raw
/// forward + backward of the model on an image of the same size (baseline): the ratio is the overhead of the
/// parameterisation, the transforms and the hook. Models: a randomly initialised ResNet-18 at 224 × 224 (objective on
/// <c>layer3</c>) and the zoo's trained ShapesNet at 64 × 64 (objective on <c>relu3</c>). Batch 1; libtorch's thread count as
/// the process has it (both methods alike).
/// </summary>
[Config(typeof(BenchConfig))]
[Description("Feature-visualisation step (Fourier image + standard transforms + forward + backward to the spectrum) vs a raw forward+backward of the model at the same size; batch 1.")]
public class FeatureVisualizationStepBenchmarks : ISmokeTestable
{
    private nn.Module<Tensor, Tensor> model = null!;
    private FourierImage image = null!;
    private IReadOnlyList<ImageTransform> transforms = null!;
    private Generator generator = null!;
    private ActivationRecorder recorder = null!;
    private FeatureVisualizer visualizer = null!;
    private Objective objective = null!;
    private Parameter raw = null!;
    private bool tiny;

    /// <summary>The model: <c>resnet18</c> (224 × 224) or <c>shapesnet</c> (64 × 64).</summary>
    [Params("resnet18", "shapesnet")]
    public string Model { get; set; } = "resnet18";

    /// <inheritdoc />
    public void UseTinySizes() => tiny = true;

    /// <summary>Builds the model, the image, the transforms and the hook.</summary>
    [GlobalSetup]
    public void Setup()
    {
        int size = tiny ? 32 : Model == "resnet18" ? 224 : 64;
        string layer;
        if (Model == "resnet18")
        {
            model = ResNet18.Create(tiny ? 10 : 1000);
            layer = "layer3";
        }
        else
        {
            model = Interpretability.Models.ModelZoo.ShapesNet();
            model.eval();
            layer = "relu3";
        }
        using (var g = new Generator(0)) image = new FourierImage(1, size, size, generator: g);
        transforms = ImageTransforms.Standard();
        generator = new Generator(1);
        objective = Objective.Channel(layer, 0);
        recorder = new ActivationRecorder(model, new[] { layer }, new ActivationRecorderOptions(KeepGraph: true));
        visualizer = new FeatureVisualizer(model);
        using (var g = new Generator(2)) raw = new Parameter(rand(new long[] { 1, 3, size, size }, generator: g));
    }

    /// <summary>Baseline: forward of the model and backward of its summed output to the input image.</summary>
    [Benchmark(Baseline = true)]
    public double RawForwardBackward()
    {
        using var scope = NewDisposeScope();
        var y = model.call(raw).sum();
        y.backward(inputs: new Tensor[] { raw });
        raw.grad!.zero_();
        recorder.Clear();
        return y.ToDouble();
    }

    /// <summary>
    /// The same objective (the channel's mean at the layer) from a plain pixel image, no parameterisation or transforms:
    /// the feature-visualisation step's own cost floor (its backward starts at the layer, not at the output).
    /// </summary>
    [Benchmark]
    public double RawForwardBackwardOfTheObjective()
    {
        using var scope = NewDisposeScope();
        model.call(raw);
        var value = objective.Evaluate(new ObjectiveInputs(recorder.Output, raw));
        value.backward(inputs: new Tensor[] { raw });
        raw.grad!.zero_();
        recorder.Clear();
        return value.ToDouble();
    }

    /// <summary>One feature-visualisation step up to the gradient of the spectrum (the optimiser's update excluded).</summary>
    [Benchmark]
    public double FeatureVisualizationStep()
    {
        using var scope = NewDisposeScope();
        var value = visualizer.Step(objective, image, transforms, generator, recorder);
        (-value).backward(inputs: new Tensor[] { image.Spectrum });
        image.Spectrum.grad!.zero_();
        recorder.Clear();
        return value.ToDouble();
    }

    /// <summary>Frees everything.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        recorder.Dispose();
        generator.Dispose();
        image.Dispose();
        raw.Dispose();
        model.Dispose();
    }
}
