using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>
/// An attribution method with its options fixed: what <see cref="NoiseTunnel"/>, <see cref="DatasetAttribution"/> and the
/// comparison grid call without knowing which method they hold.
/// </summary>
public interface IAttributionMethod
{
    /// <summary>The method's name as the CLI and <c>metrics.json</c> spell it (e.g. <c>integrated_gradients</c>).</summary>
    string Name { get; }

    /// <summary>The explained module, or null when the method wraps a forward function.</summary>
    nn.Module<Tensor, Tensor>? Model { get; }

    /// <summary>Attributes the score of class <c>targets[i]</c> of the model's output to input row <c>i</c>.</summary>
    /// <param name="input">The model's input, <c>[batch, ...]</c> (e.g. <c>[batch, 3, H, W]</c> float32).</param>
    /// <param name="targets">One class index per input row: <c>[batch]</c> int64.</param>
    /// <param name="progress">Receives the work done; may be null.</param>
    /// <param name="cancellation">Checked between forward passes.</param>
    /// <returns>Detached attributions shaped like <paramref name="input"/> (Grad-CAM: <c>[batch, 1, H, W]</c>), owned by the caller.</returns>
    AttributionResult Attribute(Tensor input, Tensor targets, IProgress<AttributionProgress>? progress = null, CancellationToken cancellation = default);
}

/// <summary>
/// One call of an attribution method, as <see cref="AttributionMethod{TOptions}.Compute"/> receives it: the detached
/// input, the per-row targets, the name of the caller's target parameter (for errors), and the progress sink and
/// cancellation token of the call.
/// </summary>
public sealed class AttributionCall
{
    private long total = 1;

    internal AttributionCall(string method, Tensor input, Tensor targets, string targetParameter, IProgress<AttributionProgress>? progress, CancellationToken cancellation)
    {
        Method = method;
        Input = input;
        Targets = targets;
        TargetParameter = targetParameter;
        Progress = progress;
        Cancellation = cancellation;
    }

    /// <summary>The method's name.</summary>
    public string Method { get; }

    /// <summary>The input, detached: <c>[batch, ...]</c>.</summary>
    public Tensor Input { get; }

    /// <summary>The class explained for each row: <c>[batch]</c> int64 on the input's device (range-checked by
    /// <see cref="AttributionMethod{TOptions}.Scores"/>).</summary>
    public Tensor Targets { get; }

    /// <summary>The name of the caller's target parameter (<c>target</c> or <c>targets</c>), for error messages.</summary>
    public string TargetParameter { get; }

    /// <summary>The progress sink of the call, or null.</summary>
    public IProgress<AttributionProgress>? Progress { get; }

    /// <summary>The cancellation token of the call.</summary>
    public CancellationToken Cancellation { get; }

    /// <summary>Units of work done so far.</summary>
    public long Done { get; private set; }

    /// <summary>Declares how many units of work (forward passes, chunks, samples) the call will do.</summary>
    /// <param name="units">Units in all (at least 1 is assumed).</param>
    public void Begin(long units)
    {
        total = Math.Max(1, units);
        Done = 0;
        Cancellation.ThrowIfCancellationRequested();
    }

    /// <summary>Records <paramref name="units"/> more units done, reports progress and throws if the call was cancelled.</summary>
    /// <param name="units">Units just done.</param>
    /// <exception cref="OperationCanceledException">The call's token was cancelled.</exception>
    public void Advance(long units = 1)
    {
        Done = Math.Min(total, Done + units);
        Progress?.Report(new AttributionProgress(Method, Done, total));
        Cancellation.ThrowIfCancellationRequested();
    }
}

/// <summary>
/// Base of the attribution methods that explain one class score of a classifier <c>[batch, ...] → [batch, classes]</c>
/// (Captum's <c>Attribution</c>): a class per method, configured once and applied many times. It validates the
/// arguments, builds the per-row targets, runs the CPU convolution check before the first gradient, keeps every
/// intermediate tensor inside a dispose scope, and gives subclasses the gradient helpers. Layer methods derive from
/// <see cref="LayerAttributionMethod{TOptions}"/>, perturbation methods from
/// <see cref="PerturbationAttributionMethod{TOptions}"/>.
/// </summary>
/// <typeparam name="TOptions">The method's options record.</typeparam>
public abstract class AttributionMethod<TOptions> : IAttributionMethod where TOptions : class
{
    private readonly Func<Tensor, Tensor>? forward;

    /// <summary>Wraps a module; the module's forward runs through <c>call()</c>, so hooks fire.</summary>
    /// <param name="model">A classifier mapping <c>[batch, ...]</c> to <c>[batch, classes]</c>.</param>
    protected AttributionMethod(nn.Module<Tensor, Tensor> model)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
        forward = model.call;
    }

    /// <summary>Wraps a forward function (as Captum's <c>forward_func</c>).</summary>
    /// <param name="forward">Maps <c>[batch, ...]</c> to <c>[batch, classes]</c>.</param>
    protected AttributionMethod(Func<Tensor, Tensor> forward)
    {
        ArgumentNullException.ThrowIfNull(forward);
        this.forward = forward;
    }

    /// <summary>Wraps another method (as <see cref="NoiseTunnel"/> does): the model is the inner method's, there is no
    /// forward function of its own.</summary>
    /// <param name="inner">The wrapped method.</param>
    protected AttributionMethod(IAttributionMethod inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        Model = inner.Model;
    }

    /// <summary>The wrapped module, or null when a forward function was given.</summary>
    public nn.Module<Tensor, Tensor>? Model { get; }

    /// <summary>The forward function <c>[batch, ...] → [batch, classes]</c>.</summary>
    /// <exception cref="InvalidOperationException">The method wraps another method and has no forward of its own.</exception>
    protected Func<Tensor, Tensor> Forward => forward ?? throw new InvalidOperationException($"{Name} wraps another method and has no forward function of its own.");

    /// <summary>The wrapped module, for methods that need its layers (hooks, rules).</summary>
    /// <exception cref="InvalidOperationException">The method was given a forward function, not a module.</exception>
    protected nn.Module<Tensor, Tensor> Module => Model ?? throw new InvalidOperationException($"{Name} needs the model as a module (its layers are hooked), not a forward function.");

    /// <summary>The method's name as the CLI and <c>metrics.json</c> spell it.</summary>
    public abstract string Name { get; }

    /// <summary>The literature's default options of this method.</summary>
    public abstract TOptions DefaultOptions { get; }

    /// <summary>Attributes the score of class <paramref name="target"/> to every row of <paramref name="input"/>.</summary>
    /// <param name="input">The model's input, <c>[batch, ...]</c> (e.g. <c>[batch, 3, H, W]</c> float32), on the model's
    /// device. One example still needs its batch dimension: <c>image.unsqueeze(0)</c>.</param>
    /// <param name="target">Class index into the model's output <c>[batch, classes]</c>.</param>
    /// <param name="options">Options; null = <see cref="DefaultOptions"/>.</param>
    /// <param name="progress">Receives the work done; may be null.</param>
    /// <param name="cancellation">Checked between forward passes.</param>
    /// <returns>Detached attributions (shaped like <paramref name="input"/> unless the method says otherwise) and metadata.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="target"/> is not a class of the model's output.</exception>
    /// <exception cref="ArgumentException"><paramref name="input"/> has no batch dimension, or the model cannot run on it.</exception>
    public AttributionResult Attribute(Tensor input, long target, TOptions? options = null, IProgress<AttributionProgress>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        CheckInput(input);
        if (target < 0) throw new ArgumentOutOfRangeException(nameof(target), target, $"target must be a non-negative class index; got {target}.");
        using var scope = NewDisposeScope();
        using var targetScalar = target.ToScalar();
        var targets = full(new[] { input.shape[0] }, targetScalar, dtype: int64, device: input.device);
        return Run(input, targets, options, nameof(target), progress, cancellation);
    }

    /// <summary>Attributes the score of class <c>targets[i]</c> to input row <c>i</c>.</summary>
    /// <param name="input">The model's input, <c>[batch, ...]</c>, on the model's device.</param>
    /// <param name="targets">One class index per row: <c>[batch]</c> int64.</param>
    /// <param name="options">Options; null = <see cref="DefaultOptions"/>.</param>
    /// <param name="progress">Receives the work done; may be null.</param>
    /// <param name="cancellation">Checked between forward passes.</param>
    public AttributionResult Attribute(Tensor input, Tensor targets, TOptions? options = null, IProgress<AttributionProgress>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(targets);
        CheckInput(input);
        if (targets.dim() != 1 || targets.shape[0] != input.shape[0])
            throw new ArgumentException($"targets must be [batch] = [{input.shape[0]}] class indices; got [{string.Join(", ", targets.shape)}].", nameof(targets));
        using var scope = NewDisposeScope();
        return Run(input, targets.to(int64, input.device), options, nameof(targets), progress, cancellation);
    }

    /// <inheritdoc />
    AttributionResult IAttributionMethod.Attribute(Tensor input, Tensor targets, IProgress<AttributionProgress>? progress, CancellationToken cancellation) =>
        Attribute(input, targets, null, progress, cancellation);

    /// <summary>This method with <paramref name="options"/> fixed, as an <see cref="IAttributionMethod"/>.</summary>
    /// <param name="options">The options every call uses; null = <see cref="DefaultOptions"/>.</param>
    /// <returns>The configured method (for <see cref="NoiseTunnel"/>, <see cref="DatasetAttribution"/>, …).</returns>
    public IAttributionMethod With(TOptions? options = null) => new Configured(this, options);

    private AttributionResult Run(Tensor input, Tensor targets, TOptions? options, string targetParameter, IProgress<AttributionProgress>? progress, CancellationToken cancellation)
    {
        CpuConvolutionCheck.Ensure();
        cancellation.ThrowIfCancellationRequested();
        var call = new AttributionCall(Name, input.detach(), targets, targetParameter, progress, cancellation);
        var result = Compute(call, options ?? DefaultOptions);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The algorithm. Runs inside a dispose scope; returns a result whose tensors are created in that scope (the base
    /// moves them out).
    /// </summary>
    /// <param name="call">The detached input <c>[batch, ...]</c>, the targets <c>[batch]</c>, progress and cancellation.</param>
    /// <param name="options">The options.</param>
    protected abstract AttributionResult Compute(AttributionCall call, TOptions options);

    /// <summary>
    /// The target scores of a model output: <c>output[i, targets[i]]</c> as <c>[batch]</c>; checks the output's shape and
    /// the targets' range first.
    /// </summary>
    /// <param name="output">The model's output, <c>[batch, classes]</c>.</param>
    /// <param name="targets">Class per row, <c>[batch]</c> int64.</param>
    /// <param name="targetParameter">The caller's name of the target, for errors.</param>
    protected static Tensor Scores(Tensor output, Tensor targets, string targetParameter) => GradientCore.Scores(output, targets, targetParameter);

    /// <summary>d Σᵢ output[i, targets[i]] / d input, detached, plus the scores <c>[batch]</c>.</summary>
    /// <param name="input">Where to differentiate, <c>[batch, ...]</c> (the call's input or a transformed copy).</param>
    /// <param name="targets">Class per row, <c>[batch]</c> int64.</param>
    /// <param name="call">The call (its input's shape names the input in errors).</param>
    protected (Tensor Gradient, Tensor Scores) InputGradient(Tensor input, Tensor targets, AttributionCall call) =>
        GradientCore.InputGradient(Forward, input, targets, call);

    private void CheckInput(Tensor input)
    {
        if (input.dim() < 1 || input.shape[0] < 1)
            throw new ArgumentException($"input must be [batch, ...] with at least one row; got [{string.Join(", ", input.shape)}].", nameof(input));
        if (Model is null) return;
        using (var scope = NewDisposeScope())   // a TorchScript model makes new parameter handles on every call
        {
            var p = Model.parameters().FirstOrDefault();
            if (p is not null && (p.device_type != input.device_type || p.device_index != input.device_index))
                throw new ArgumentException($"input is on {input.device} but the model is on {p.device}; move one of them (nothing is moved silently).", nameof(input));
        }
        InputShape.Check(Model, input);
    }

    private sealed class Configured(AttributionMethod<TOptions> method, TOptions? options) : IAttributionMethod
    {
        public string Name => method.Name;
        public nn.Module<Tensor, Tensor>? Model => method.Model;
        public AttributionResult Attribute(Tensor input, Tensor targets, IProgress<AttributionProgress>? progress, CancellationToken cancellation) =>
            method.Attribute(input, targets, options, progress, cancellation);
    }
}

/// <summary>Shared gradient helpers of the attribution methods.</summary>
internal static class GradientCore
{
    internal static Tensor Scores(Tensor output, Tensor targets, string targetParameter)
    {
        if (output.dim() != 2)
            throw new ArgumentException($"The model must return [batch, classes] logits; it returned [{string.Join(", ", output.shape)}]" +
                                        (output.dim() == 1 ? " (one row without a batch dimension: give the input its batch dimension, e.g. input.unsqueeze(0))." : "."), "model");
        if (output.shape[0] != targets.shape[0])
            throw new ArgumentException($"The model returned {output.shape[0]} rows for {targets.shape[0]} input rows (is the batch dimension of the input missing?).", "model");
        var classes = output.shape[1];
        var min = targets.min().ToInt64();
        var max = targets.max().ToInt64();
        if (min < 0 || max >= classes)
        {
            var bad = min < 0 ? min : max;
            throw new ArgumentOutOfRangeException(targetParameter, bad, $"{targetParameter} must be a class index in [0, {classes - 1}] of the model's output [batch, {classes}]; got {bad}.");
        }
        return output.gather(1, targets.unsqueeze(1)).squeeze(1);
    }

    /// <summary>
    /// Runs the model on <paramref name="x"/>, turning libtorch's errors (a native exception) into an
    /// <see cref="ArgumentException"/> that names the caller's input and its shape.
    /// </summary>
    internal static Tensor Run(Func<Tensor, Tensor> forward, Tensor x, AttributionCall call)
    {
        try
        {
            return forward(x);
        }
        catch (ExternalException e) when (IsShapeError(e.Message))
        {
            var given = Shape(call.Input);
            var ran = x.shape.SequenceEqual(call.Input.shape) ? "" : $" ({call.Method} ran it as {Shape(x)})";
            throw new ArgumentException($"The model cannot run on input {given}{ran}: {FirstLine(e.Message)}. {call.Method} takes a batch [batch, ...] " +
                                        "(images: [batch, channels, height, width]); one example needs its batch dimension, e.g. input.unsqueeze(0).", "input", e);
        }
    }

    /// <summary>Whether libtorch's message is about shapes (and not, say, memory or a dtype).</summary>
    private static bool IsShapeError(string message) =>
        !message.Contains("out of memory", StringComparison.OrdinalIgnoreCase) &&
        (message.Contains("shape", StringComparison.OrdinalIgnoreCase) || message.Contains("size", StringComparison.OrdinalIgnoreCase) ||
         message.Contains("dimension", StringComparison.OrdinalIgnoreCase) || message.Contains("Expected", StringComparison.Ordinal) ||
         message.Contains("mat1", StringComparison.Ordinal));

    internal static (Tensor Gradient, Tensor Scores) InputGradient(Func<Tensor, Tensor> forward, Tensor input, Tensor targets, AttributionCall call)
    {
        CpuConvolutionCheck.Ensure();
        using var grad = enable_grad();
        var x = input.detach().requires_grad_(true);
        var scores = Scores(Run(forward, x, call), targets, call.TargetParameter);
        var g = autograd.grad(new[] { scores.sum() }, new[] { x }, allow_unused: true)[0];
        if (g is null || g.IsInvalid) g = zeros_like(x);
        return (g.detach(), scores.detach());
    }

    /// <summary>Expands a baseline to the input's shape: the same shape, or the shape of one row (broadcast), or a scalar.</summary>
    internal static Tensor Baseline(Tensor input, Tensor? baseline, string parameterName)
    {
        if (baseline is null) return zeros_like(input);
        var rowShape = input.shape.Skip(1).ToArray();
        if (baseline.shape.SequenceEqual(input.shape) || baseline.dim() == 0)
            return baseline.to(input.dtype, input.device).expand(input.shape);
        if (baseline.shape.SequenceEqual(rowShape) || (baseline.dim() == input.dim() && baseline.shape[0] == 1 && baseline.shape.Skip(1).SequenceEqual(rowShape)))
            return baseline.to(input.dtype, input.device).reshape(new[] { 1L }.Concat(rowShape).ToArray()).expand(input.shape);
        throw new ArgumentException(
            $"{parameterName} must have the input's shape [{string.Join(", ", input.shape)}], one row's shape [{string.Join(", ", rowShape)}] or be a scalar; got [{string.Join(", ", baseline.shape)}].",
            parameterName);
    }

    /// <summary>Σ over every dimension but the first: <c>[batch, ...]</c> → <c>[batch]</c>.</summary>
    internal static Tensor SumPerRow(Tensor t) => t.dim() <= 1 ? t : t.reshape(t.shape[0], -1).sum(1);

    internal static string Shape(Tensor t) => "[" + string.Join(", ", t.shape) + "]";

    private static string FirstLine(string message)
    {
        var line = message.Split('\n', 2)[0].Trim();
        return line.EndsWith('.') ? line[..^1] : line;
    }
}

/// <summary>
/// The one input mistake that the shape alone proves: an example without its batch dimension. Checked before a method
/// expands or perturbs the input, so that it is reported as such and not as the shape of an internal expansion. Any other
/// mismatch is left to the model: <see cref="GradientCore.Run"/> reports libtorch's error with the caller's input shape.
/// </summary>
internal static class InputShape
{
    /// <summary>
    /// Where the model's first registered leaf module is a <c>Conv2d</c> and the input is <c>[in_channels, H, W]</c>, or
    /// a <c>Linear</c> and the input is <c>[in_features]</c>, throws an <see cref="ArgumentException"/> that says to add
    /// the batch dimension.
    /// </summary>
    internal static void Check(nn.Module<Tensor, Tensor> model, Tensor input)
    {
        var first = model.named_modules().Select(m => m.module).FirstOrDefault(m => !m.named_children().Any());
        var given = GradientCore.Shape(input);
        switch (first)
        {
            case TorchSharp.Modules.Conv2d conv when input.dim() == 3 && input.shape[0] == conv.in_channels:
                throw new ArgumentException($"input must be [batch, {conv.in_channels}, height, width]; got {given}, one image without its batch dimension: use input.unsqueeze(0).", nameof(input));
            case TorchSharp.Modules.Linear linear when input.dim() == 1 && input.shape[0] == linear.in_features:
                throw new ArgumentException($"input must be [batch, {linear.in_features}]; got {given}, one example without its batch dimension: use input.unsqueeze(0).", nameof(input));
        }
    }
}

/// <summary>Layer lookup with errors that name the caller's parameter.</summary>
internal static class LayerCheck
{
    internal static nn.Module<Tensor, Tensor> Find(nn.Module model, string layer, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(layer, parameterName);
        try
        {
            return Probing.LayerPath.FindHookable(model, layer);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{parameterName}: {e.Message}", parameterName, e);
        }
    }
}
