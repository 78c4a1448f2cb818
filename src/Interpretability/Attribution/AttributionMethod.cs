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

    /// <summary>Attributes the score of class <c>targets[i]</c> of the model's output to input row <c>i</c>.</summary>
    /// <param name="input">The model's input, <c>[batch, ...]</c> (e.g. <c>[batch, 3, H, W]</c> float32).</param>
    /// <param name="targets">One class index per input row: <c>[batch]</c> int64.</param>
    /// <returns>Detached attributions shaped like <paramref name="input"/> (Grad-CAM: <c>[batch, 1, H, W]</c>), owned by the caller.</returns>
    AttributionResult Attribute(Tensor input, Tensor targets);
}

/// <summary>
/// Base of the attribution methods that explain one class score of a classifier <c>[batch, ...] → [batch, classes]</c>.
/// Subclasses implement <see cref="Compute"/>; this class validates arguments, builds the per-row targets, and keeps every
/// intermediate tensor inside a dispose scope.
/// </summary>
/// <typeparam name="TOptions">The method's options record.</typeparam>
public abstract class AttributionMethod<TOptions> : IAttributionMethod where TOptions : class
{
    /// <summary>Wraps a module; the module's forward runs through <c>call()</c>, so hooks fire.</summary>
    /// <param name="model">A classifier mapping <c>[batch, ...]</c> to <c>[batch, classes]</c>.</param>
    protected AttributionMethod(nn.Module<Tensor, Tensor> model)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
        Forward = model.call;
    }

    /// <summary>Wraps a forward function (as Captum's <c>forward_func</c>).</summary>
    /// <param name="forward">Maps <c>[batch, ...]</c> to <c>[batch, classes]</c>.</param>
    protected AttributionMethod(Func<Tensor, Tensor> forward)
    {
        ArgumentNullException.ThrowIfNull(forward);
        Forward = forward;
    }

    /// <summary>The wrapped module, or null when a forward function was given.</summary>
    public nn.Module<Tensor, Tensor>? Model { get; }

    /// <summary>The forward function.</summary>
    protected Func<Tensor, Tensor> Forward { get; }

    /// <summary>The method's name as the CLI and <c>metrics.json</c> spell it.</summary>
    public abstract string Name { get; }

    /// <summary>The literature's default options of this method.</summary>
    public abstract TOptions DefaultOptions { get; }

    /// <summary>Attributes the score of class <paramref name="target"/> to every row of <paramref name="input"/>.</summary>
    /// <param name="input">The model's input, <c>[batch, ...]</c> (e.g. <c>[batch, 3, H, W]</c> float32), on the model's device.</param>
    /// <param name="target">Class index into the model's output <c>[batch, classes]</c>.</param>
    /// <param name="options">Options; null = <see cref="DefaultOptions"/>.</param>
    /// <returns>Detached attributions (shaped like <paramref name="input"/> unless the method says otherwise) and metadata.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="target"/> is not a class of the model's output.</exception>
    public AttributionResult Attribute(Tensor input, long target, TOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        CheckInput(input);
        if (target < 0) throw new ArgumentOutOfRangeException(nameof(target), target, $"target must be a non-negative class index; got {target}.");
        using var scope = NewDisposeScope();
        var targets = full(new[] { input.shape[0] }, target, dtype: int64, device: input.device);
        return Run(input, targets, options, nameof(target));
    }

    /// <summary>Attributes the score of class <c>targets[i]</c> to input row <c>i</c>.</summary>
    /// <param name="input">The model's input, <c>[batch, ...]</c>, on the model's device.</param>
    /// <param name="targets">One class index per row: <c>[batch]</c> int64.</param>
    /// <param name="options">Options; null = <see cref="DefaultOptions"/>.</param>
    public AttributionResult Attribute(Tensor input, Tensor targets, TOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(targets);
        CheckInput(input);
        if (targets.dim() != 1 || targets.shape[0] != input.shape[0])
            throw new ArgumentException($"targets must be [batch] = [{input.shape[0]}] class indices; got [{string.Join(", ", targets.shape)}].", nameof(targets));
        using var scope = NewDisposeScope();
        return Run(input, targets.to(int64, input.device), options, nameof(targets));
    }

    /// <inheritdoc />
    AttributionResult IAttributionMethod.Attribute(Tensor input, Tensor targets) => Attribute(input, targets, null);

    /// <summary>This method with <paramref name="options"/> fixed, as an <see cref="IAttributionMethod"/>.</summary>
    public IAttributionMethod With(TOptions? options = null) => new Configured(this, options);

    private AttributionResult Run(Tensor input, Tensor targets, TOptions? options, string targetParameter)
    {
        CpuConvolutionCheck.Ensure();
        var result = Compute(input.detach(), targets, options ?? DefaultOptions, targetParameter);
        result.Attributions.MoveToOuterDisposeScope();
        return result;
    }

    /// <summary>
    /// The algorithm. Runs inside a dispose scope; returns a result whose attributions tensor is created in that scope
    /// (the base moves it out).
    /// </summary>
    /// <param name="input">Detached input <c>[batch, ...]</c>.</param>
    /// <param name="targets">Class per row, <c>[batch]</c> int64 on the input's device (not yet range-checked:
    /// use <see cref="Scores"/>, which checks).</param>
    /// <param name="options">The options.</param>
    /// <param name="targetParameter">Name of the caller's target parameter, for error messages.</param>
    protected abstract AttributionResult Compute(Tensor input, Tensor targets, TOptions options, string targetParameter);

    /// <summary>
    /// The target scores of a model output: <c>output[i, targets[i]]</c> as <c>[batch]</c>; checks the output's shape and
    /// the targets' range first.
    /// </summary>
    protected static Tensor Scores(Tensor output, Tensor targets, string targetParameter) => GradientCore.Scores(output, targets, targetParameter);

    /// <summary>d Σᵢ output[i, targets[i]] / d input, detached, plus the scores <c>[batch]</c>.</summary>
    protected (Tensor Gradient, Tensor Scores) InputGradient(Tensor input, Tensor targets, string targetParameter) =>
        GradientCore.InputGradient(Forward, input, targets, targetParameter);

    private void CheckInput(Tensor input)
    {
        if (input.dim() < 1 || input.shape[0] < 1)
            throw new ArgumentException($"input must be [batch, ...] with at least one row; got [{string.Join(", ", input.shape)}].", nameof(input));
        if (Model is not null)
        {
            var p = Model.parameters().FirstOrDefault();
            if (p is not null && (p.device_type != input.device_type || p.device_index != input.device_index))
                throw new ArgumentException($"input is on {input.device} but the model is on {p.device}; move one of them (nothing is moved silently).", nameof(input));
        }
    }

    private sealed class Configured(AttributionMethod<TOptions> method, TOptions? options) : IAttributionMethod
    {
        public string Name => method.Name;
        public AttributionResult Attribute(Tensor input, Tensor targets) => method.Attribute(input, targets, options);
    }
}

/// <summary>Shared gradient helpers of the attribution methods.</summary>
internal static class GradientCore
{
    internal static Tensor Scores(Tensor output, Tensor targets, string targetParameter)
    {
        if (output.dim() != 2)
            throw new ArgumentException($"The model must return [batch, classes] logits; it returned [{string.Join(", ", output.shape)}].", "model");
        if (output.shape[0] != targets.shape[0])
            throw new ArgumentException($"The model returned {output.shape[0]} rows for {targets.shape[0]} input rows.", "model");
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

    internal static (Tensor Gradient, Tensor Scores) InputGradient(Func<Tensor, Tensor> forward, Tensor input, Tensor targets, string targetParameter)
    {
        CpuConvolutionCheck.Ensure();
        using var grad = enable_grad();
        var x = input.detach().requires_grad_(true);
        var scores = Scores(forward(x), targets, targetParameter);
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

    internal static string Shape(Tensor t) => "[" + string.Join(", ", t.shape) + "]";
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
