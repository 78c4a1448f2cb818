using System.Diagnostics;
using Interpretability.Probing;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Interpretability.FeatureVisualization;

/// <summary>How the optimised images are parameterised.</summary>
public enum ParameterizationKind
{
    /// <summary>Lucid's default: a 1/f-scaled spectrum with colour decorrelation and a sigmoid (<see cref="FourierImage"/>).</summary>
    Fourier,

    /// <summary>Raw pixels through a sigmoid (<see cref="PixelImage"/>).</summary>
    Pixel,

    /// <summary>A coordinate network per image (<see cref="CppnImage"/>).</summary>
    Cppn,
}

/// <summary>Options of <see cref="FeatureVisualizer"/>; defaults are Lucid's (<c>render.render_vis</c>: Adam, learning
/// rate 0.05, 512 steps, <c>standard_transforms</c>, Fourier parameterisation with colour decorrelation, 128 × 128).</summary>
/// <param name="Steps">Optimisation steps.</param>
/// <param name="LearningRate">Adam's learning rate (Lucid 0.05; CPPNs want about 0.002).</param>
/// <param name="Height">Image height in pixels.</param>
/// <param name="Width">Image width in pixels.</param>
/// <param name="Batch">Images optimised together (B).</param>
/// <param name="Parameterization">Fourier, pixel or CPPN.</param>
/// <param name="Decorrelate">Colour decorrelation (Fourier and pixel parameterisations).</param>
/// <param name="Transforms">Transforms applied before each forward pass; null = <see cref="ImageTransforms.Standard"/>, empty = none.</param>
/// <param name="Thresholds">Steps after which a snapshot of the images is kept; null = none (the final images are always kept).</param>
/// <param name="Seed">Seed of the initial parameters and of the transforms.</param>
/// <param name="RedirectRelu">Lucid's redirected ReLU gradient on every <c>ReLU</c> module while optimising (see
/// <see cref="RedirectedReluScope"/>): a unit that is off for the current picture still gets a gradient.</param>
public sealed record FeatureVisualizationOptions(int Steps = 512, double LearningRate = 0.05, int Height = 128, int Width = 128, int Batch = 1,
    ParameterizationKind Parameterization = ParameterizationKind.Fourier, bool Decorrelate = true,
    IReadOnlyList<ImageTransform>? Transforms = null, IReadOnlyList<int>? Thresholds = null, long Seed = 0, bool RedirectRelu = true)
{
    internal void Check()
    {
        if (Steps < 0) throw new ArgumentOutOfRangeException(nameof(Steps), Steps, "Steps must not be negative.");
        if (!(LearningRate > 0)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "LearningRate must be positive.");
        if (Height < 2 || Width < 2) throw new ArgumentOutOfRangeException(nameof(Height), $"The image must be at least 2×2; got {Height}×{Width}.");
        if (Batch < 1) throw new ArgumentOutOfRangeException(nameof(Batch), Batch, "Batch must be at least 1.");
        if (Thresholds is not null && Thresholds.Any(t => t < 1 || t > Steps))
            throw new ArgumentOutOfRangeException(nameof(Thresholds), $"Every threshold must be a step between 1 and {Steps}; got {string.Join(", ", Thresholds)}.");
    }
}

/// <summary>Progress of a feature-visualisation run.</summary>
/// <param name="Step">Steps done.</param>
/// <param name="Steps">Steps in all.</param>
/// <param name="Objective">The objective's value at the last step.</param>
public sealed record FeatureVisualizationProgress(int Step, int Steps, double Objective);

/// <summary>Images kept at a threshold step.</summary>
/// <param name="Step">The step after which they were taken.</param>
/// <param name="Images"><c>[B, 3, H, W]</c> in [0, 1], detached.</param>
public sealed record FeatureSnapshot(int Step, Tensor Images);

/// <summary>The outcome of a feature-visualisation run; the caller disposes it (it owns <see cref="Images"/> and the snapshots).</summary>
public sealed class FeatureVisualizationResult : IDisposable
{
    internal FeatureVisualizationResult(Tensor images, IReadOnlyList<double> trace, IReadOnlyList<FeatureSnapshot> snapshots, string objective, double seconds)
    {
        Images = images;
        Trace = trace;
        Snapshots = snapshots;
        Objective = objective;
        Seconds = seconds;
    }

    /// <summary>The optimised images, <c>[B, 3, H, W]</c> float32 in [0, 1], detached.</summary>
    public Tensor Images { get; }

    /// <summary>The objective's value (on the transformed images) at every step, in order.</summary>
    public IReadOnlyList<double> Trace { get; }

    /// <summary>Images kept at the threshold steps.</summary>
    public IReadOnlyList<FeatureSnapshot> Snapshots { get; }

    /// <summary>The objective's description.</summary>
    public string Objective { get; }

    /// <summary>Wall-clock seconds of the optimisation.</summary>
    public double Seconds { get; }

    /// <summary>Frees the images.</summary>
    public void Dispose()
    {
        Images.Dispose();
        foreach (var s in Snapshots) s.Images.Dispose();
    }
}

/// <summary>
/// Feature visualisation by optimisation (Erhan et al. 2009; Olah, Mordvintsev and Schubert 2017, "Feature
/// Visualization"; tensorflow/lucid, greentfrapp/lucent): starting from a random parameterised image, Adam maximises an
/// <see cref="Objective"/> on named layers of any TorchSharp image model, with the image randomly transformed before
/// every forward pass. Layers are read through forward hooks (<see cref="ActivationRecorder"/>); the model is not
/// changed (its mode is the caller's: put it in eval mode first), and only the image parameters receive gradients.
/// </summary>
/// <example>
/// <code>
/// var viz = new FeatureVisualizer(model);
/// using var r = viz.Visualize(Objective.Channel("relu3", 5) - 0.5 * Objective.TotalVariation(), new FeatureVisualizationOptions(Height: 64, Width: 64, Steps: 128));
/// // r.Images: [1, 3, 64, 64]; r.Trace: one value per step
/// </code>
/// </example>
public sealed class FeatureVisualizer
{
    private readonly nn.Module<Tensor, Tensor> model;

    /// <summary>Creates a visualiser for <paramref name="model"/> (input <c>[B, 3, H, W]</c>).</summary>
    public FeatureVisualizer(nn.Module<Tensor, Tensor> model)
    {
        this.model = model ?? throw new ArgumentNullException(nameof(model));
    }

    /// <summary>Creates the parameterisation <paramref name="options"/> asks for.</summary>
    /// <param name="options">Kind, size, batch, seed.</param>
    /// <param name="device">Device of the parameters.</param>
    public static ImageParameterization CreateParameterization(FeatureVisualizationOptions options, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Check();
        using var generator = new Generator((ulong)options.Seed);
        return options.Parameterization switch
        {
            ParameterizationKind.Fourier => new FourierImage(options.Batch, options.Height, options.Width, options.Decorrelate, generator: generator, device: device),
            ParameterizationKind.Pixel => new PixelImage(options.Batch, options.Height, options.Width, options.Decorrelate, generator: generator, device: device),
            ParameterizationKind.Cppn => new CppnImage(options.Batch, options.Height, options.Width, seed: options.Seed, device: device),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Parameterization, "Unknown parameterisation."),
        };
    }

    /// <summary>Optimises a fresh parameterisation made from <paramref name="options"/> on the device of the model's parameters.</summary>
    /// <param name="objective">What to maximise.</param>
    /// <param name="options">Lucid's defaults when null.</param>
    /// <param name="progress">Receives every step.</param>
    /// <param name="cancellation">Checked before every step.</param>
    /// <returns>The images <c>[B, 3, H, W]</c> and the trace.</returns>
    public FeatureVisualizationResult Visualize(Objective objective, FeatureVisualizationOptions? options = null,
        IProgress<FeatureVisualizationProgress>? progress = null, CancellationToken cancellation = default)
    {
        options ??= new FeatureVisualizationOptions();
        var device = model.parameters().FirstOrDefault()?.device;
        using var parameterization = CreateParameterization(options, device);
        return Visualize(objective, parameterization, options, progress, cancellation);
    }

    /// <summary>
    /// Optimises <paramref name="parameterization"/> (changed in place; the caller keeps owning it) for
    /// <see cref="FeatureVisualizationOptions.Steps"/> Adam steps of <c>−objective</c>.
    /// </summary>
    /// <param name="objective">What to maximise.</param>
    /// <param name="parameterization">The image; its batch and size win over the options'.</param>
    /// <param name="options">Steps, learning rate, transforms, thresholds, seed (of the transforms).</param>
    /// <param name="progress">Receives every step.</param>
    /// <param name="cancellation">Checked before every step.</param>
    public FeatureVisualizationResult Visualize(Objective objective, ImageParameterization parameterization, FeatureVisualizationOptions? options = null,
        IProgress<FeatureVisualizationProgress>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(objective);
        ArgumentNullException.ThrowIfNull(parameterization);
        CpuConvolutionCheck.Ensure();
        options ??= new FeatureVisualizationOptions();
        options.Check();
        var transforms = options.Transforms ?? ImageTransforms.Standard();
        var thresholds = new HashSet<int>(options.Thresholds ?? Array.Empty<int>());
        var parameters = parameterization.Parameters;
        var trace = new List<double>(options.Steps);
        var snapshots = new List<FeatureSnapshot>();
        var watch = Stopwatch.StartNew();
        try
        {
            using var redirect = options.RedirectRelu ? new RedirectedReluScope(model) : null;
            using var recorder = objective.Layers.Count > 0 ? new ActivationRecorder(model, objective.Layers, new ActivationRecorderOptions(KeepGraph: true)) : null;
            using var generator = new Generator((ulong)options.Seed + 0x9E3779B9UL);
            using var adam = optim.Adam(parameters, lr: options.LearningRate);
            for (int step = 1; step <= options.Steps; step++)
            {
                cancellation.ThrowIfCancellationRequested();
                double value;
                using (var scope = NewDisposeScope())
                {
                    adam.zero_grad();
                    var value_t = Step(objective, parameterization, transforms, generator, recorder);
                    (-value_t).backward(inputs: parameters.Cast<Tensor>().ToArray());
                    adam.step();
                    value = value_t.ToDouble();
                }
                recorder?.Clear();
                trace.Add(value);
                if (thresholds.Contains(step)) snapshots.Add(new FeatureSnapshot(step, Render(parameterization)));
                progress?.Report(new FeatureVisualizationProgress(step, options.Steps, value));
            }
            return new FeatureVisualizationResult(Render(parameterization), trace, snapshots, objective.Description, watch.Elapsed.TotalSeconds);
        }
        catch
        {
            foreach (var s in snapshots) s.Images.Dispose();
            throw;
        }
    }

    /// <summary>
    /// One forward pass of the objective: image, transforms, model, objective value (differentiable, in the caller's
    /// dispose scope). Used by the loop and by the step benchmark.
    /// </summary>
    /// <param name="objective">What to maximise.</param>
    /// <param name="parameterization">The image.</param>
    /// <param name="transforms">Transforms applied before the model.</param>
    /// <param name="generator">Random source of the transforms.</param>
    /// <param name="recorder">A recorder (with <see cref="ActivationRecorderOptions.KeepGraph"/>) on the objective's layers; null if it reads none.</param>
    /// <returns>A scalar tensor.</returns>
    public Tensor Step(Objective objective, ImageParameterization parameterization, IReadOnlyList<ImageTransform> transforms, Generator generator, ActivationRecorder? recorder)
    {
        ArgumentNullException.ThrowIfNull(objective);
        ArgumentNullException.ThrowIfNull(parameterization);
        var image = parameterization.Image();
        var x = ImageTransforms.Apply(image, transforms, generator);
        model.call(x);
        Func<string, Tensor> activation = recorder is null
            ? layer => throw new ArgumentException($"The objective reads layer '{layer}' but no recorder was given.", nameof(recorder))
            : recorder.Output;
        return objective.Evaluate(new ObjectiveInputs(activation, x));
    }

    private static Tensor Render(ImageParameterization parameterization)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        return parameterization.Image().detach().clone().MoveToOuterDisposeScope();
    }
}
