using Interpretability.Probing;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Interpretability.FeatureVisualization;

/// <summary>
/// Lucid's <c>redirected_relu_grad</c> (tensorflow/lucid <c>misc/redirected_relu_grad.py</c>): forward is ReLU; backward
/// is ReLU's gradient, except for an image whose ReLU gradient is zero everywhere (a unit that is dead on the current
/// picture), where the gradient is also let through at negative inputs, unless it would push them further down. Without
/// it, a channel that is off for the random starting picture never receives a gradient.
/// </summary>
internal sealed class RedirectedReluFunction : autograd.SingleTensorFunction<RedirectedReluFunction>
{
    public override string Name => "RedirectedReLU";

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        ctx.save_for_backward(new() { x });
        return x.relu();
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad)
    {
        var x = ctx.get_saved_variables()[0];
        using var scope = NewDisposeScope();
        // No C# number reaches an operation here: this runs for every ReLU at every step, and TorchSharp's temporary
        // scalars can be freed by a collection during the call (see Scalars).
        var negative = x.lt(Scalars.Zero);
        var reluGrad = grad.masked_fill(negative, Scalars.Zero);
        // autograd's grad is d(loss)/d(out); loss = −objective, so grad > 0 at a negative input pushes it lower
        var redirected = grad.masked_fill(negative.logical_and(grad.gt(Scalars.Zero)), Scalars.Zero);
        long b = x.shape[0];
        var alive = reluGrad.reshape(b, -1).abs().sum(dim: 1).gt(Scalars.Zero);   // [B]
        var shape = new long[x.dim()];
        Array.Fill(shape, 1L);
        shape[0] = b;
        var result = where(alive.reshape(shape), reluGrad, redirected);
        return new() { result.MoveToOuterDisposeScope() };
    }
}

/// <summary>Swaps every <c>ReLU</c> module of a model for the redirected-gradient ReLU while it lives (forward hooks).</summary>
public sealed class RedirectedReluScope : HookScope
{
    /// <summary>Hooks every <see cref="ReLU"/> module of <paramref name="model"/>.</summary>
    public RedirectedReluScope(nn.Module model) : base(model)
    {
        foreach (var (name, module) in model.named_modules())
            if (module is ReLU)
                AddForwardHook(name, (input, _) => RedirectedReluFunction.apply(input));
        ReluCount = HookCount;
    }

    /// <summary>How many ReLU modules were hooked.</summary>
    public int ReluCount { get; }

    /// <summary>The redirected ReLU on a tensor (for tests): forward <c>max(x, 0)</c>.</summary>
    /// <param name="x">Any shape <c>[B, ...]</c>; the backward rule treats dimension 0 as the batch of images.</param>
    /// <returns>The shape, dtype and device of <paramref name="x"/>.</returns>
    public static Tensor Apply(Tensor x) => RedirectedReluFunction.apply(x);
}
