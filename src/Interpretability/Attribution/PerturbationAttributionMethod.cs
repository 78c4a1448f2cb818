using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>Options shared by the perturbation methods.</summary>
/// <param name="PerturbationsPerEval">Perturbed inputs per forward pass (Captum's <c>perturbations_per_eval</c>); more is
/// faster where memory allows, 1 is one forward pass per perturbation.</param>
public abstract record PerturbationOptions(int PerturbationsPerEval);

/// <summary>
/// Base of the methods that explain by perturbing the input and reading the model's score (Captum's
/// <c>PerturbationAttribution</c>: occlusion, feature ablation and permutation, Shapley value sampling, KernelSHAP,
/// LIME). They run hundreds of forward passes: the base evaluates the perturbed inputs
/// <see cref="PerturbationOptions.PerturbationsPerEval"/> at a time, reports progress after every pass and stops between
/// passes when the call is cancelled.
/// </summary>
/// <typeparam name="TOptions">The method's options record.</typeparam>
public abstract class PerturbationAttributionMethod<TOptions> : AttributionMethod<TOptions> where TOptions : PerturbationOptions
{
    /// <summary>Wraps a classifier <c>[batch, ...] → [batch, classes]</c>.</summary>
    protected PerturbationAttributionMethod(nn.Module<Tensor, Tensor> model) : base(model) { }

    /// <summary>Wraps a forward function <c>[batch, ...] → [batch, classes]</c>.</summary>
    protected PerturbationAttributionMethod(Func<Tensor, Tensor> forward) : base(forward) { }

    /// <inheritdoc />
    protected sealed override AttributionResult Compute(AttributionCall call, TOptions options)
    {
        if (options.PerturbationsPerEval < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.PerturbationsPerEval, $"PerturbationsPerEval must be at least 1; got {options.PerturbationsPerEval}.");
        return Perturb(call, options);
    }

    /// <summary>The algorithm (after the shared checks); evaluate perturbed inputs through <c>Evaluate</c>.</summary>
    /// <param name="call">The detached input <c>[batch, ...]</c>, the targets <c>[batch]</c>, progress and cancellation.</param>
    /// <param name="options">The options.</param>
    protected abstract AttributionResult Perturb(AttributionCall call, TOptions options);

    /// <summary>
    /// The target scores of <paramref name="count"/> perturbed inputs, computed <paramref name="perEval"/> at a time:
    /// <paramref name="build"/> makes inputs <c>[n, ...]</c> number <c>start … start + n − 1</c>, and the model scores
    /// them for class <paramref name="target"/>. Each pass advances the call's progress by its number of inputs.
    /// </summary>
    /// <param name="call">The call (progress, cancellation, the target parameter's name).</param>
    /// <param name="count">Perturbed inputs in all.</param>
    /// <param name="perEval">Inputs per forward pass.</param>
    /// <param name="target">The explained class, <c>[1]</c> int64.</param>
    /// <param name="build">(start, n) → the perturbed inputs <c>[n, ...]</c>.</param>
    /// <returns>Scores <c>[count]</c> in the model's dtype, on its device.</returns>
    protected Tensor Evaluate(AttributionCall call, long count, int perEval, Tensor target, Func<long, long, Tensor> build) =>
        PerturbationBatches.Evaluate(Forward, call, count, perEval, target, build);
}

/// <summary>The batched evaluation loop of the perturbation methods (shared with the coalition helpers).</summary>
internal static class PerturbationBatches
{
    /// <summary>See <see cref="PerturbationAttributionMethod{TOptions}.Evaluate"/>; with an explicit forward function.</summary>
    internal static Tensor Evaluate(Func<Tensor, Tensor> forward, AttributionCall call, long count, int perEval, Tensor target, Func<long, long, Tensor> build)
    {
        using var noGrad = no_grad();
        var parts = new List<Tensor>();
        for (long start = 0; start < count; start += perEval)
        {
            var n = Math.Min(perEval, count - start);
            using (var scope = NewDisposeScope())
            {
                var inputs = build(start, n);
                parts.Add(GradientCore.Scores(GradientCore.Run(forward, inputs, call), target.expand(n), call.TargetParameter).MoveToOuterDisposeScope());
            }
            call.Advance(n);
        }
        return cat(parts, 0);
    }
}
