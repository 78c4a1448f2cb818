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
/// parameterisation, the transforms and the hook. The transforms enlarge the picture the model sees (pad 12, jitter 8
/// and 4: 224 → 236), so <see cref="RawForwardBackwardAtTransformedSize"/> shows how much of that overhead is only the
/// larger image. Models: a randomly initialised ResNet-18 at 224 × 224 (objective on <c>layer3</c>) and the zoo's trained
/// ShapesNet at 64 × 64 (objective on <c>relu3</c>). Batch 1; libtorch's thread count as the process has it (all methods alike).
/// </summary>
[Config(typeof(BenchConfig))]
[Description("Feature-visualisation step (Fourier image + standard transforms + forward + backward to the spectrum) vs a raw forward+backward of the model at the same size; also the raw forward+backward at the size the model sees after the transforms (224 → 236, 64 → 76); batch 1; oneDNN on where the model's own layers verify (TorchSession.UseOneDnnWhereVerified).")]
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
    private Parameter rawTransformed = null!;
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
        var (th, tw) = transforms.Aggregate((H: size, W: size), (s, t) => t.OutputSize(s.H, s.W));
        using (var g = new Generator(3)) rawTransformed = new Parameter(rand(new long[] { 1, 3, th, tw }, generator: g));
        // Where the CPU check turned oneDNN off, use it for this model if its own layers verify against float64, so the
        // baseline is the fast convolution a user gets (otherwise the slow fallback would flatter the overhead ratio).
        // Not in the smoke test (tiny sizes): the switch is process-wide and other tests run beside it there.
        if (!tiny) oneDnn = BenchSession.Current.UseOneDnnWhereVerified(model, rawTransformed.detach());
    }

    private IDisposable? oneDnn;

    /// <summary>The spatial size the model sees in <see cref="FeatureVisualizationStep"/> (after the transforms).</summary>
    public (int Height, int Width) TransformedSize => ((int)rawTransformed.shape[2], (int)rawTransformed.shape[3]);

    /// <summary>Baseline: forward of the model and backward of its summed output to the input image.</summary>
    [Benchmark(Baseline = true)]
    public double RawForwardBackward() => ForwardBackward(raw);

    /// <summary>
    /// The baseline at the size the model sees after the transforms (pad 12, jitter 8 and 4: H + 12): the part of the
    /// step's overhead that is only the larger picture.
    /// </summary>
    [Benchmark]
    public double RawForwardBackwardAtTransformedSize() => ForwardBackward(rawTransformed);

    private double ForwardBackward(Parameter input)
    {
        using var scope = NewDisposeScope();
        var y = model.call(input).sum();
        y.backward(inputs: new Tensor[] { input });
        input.grad!.zero_();
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
        oneDnn?.Dispose();
        recorder.Dispose();
        generator.Dispose();
        image.Dispose();
        raw.Dispose();
        rawTransformed.Dispose();
        model.Dispose();
    }
}
