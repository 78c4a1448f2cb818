using Interpretability.Probing;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Interpretability.Attribution;

/// <summary>
/// A layer-wise relevance propagation rule for a <c>Linear</c> or <c>Conv2d</c> layer with input x, weights W, bias b and
/// output z (Montavon et al. 2019, "Layer-Wise Relevance Propagation: An Overview"; rule set and stabiliser as Zennit,
/// Anders et al. 2021). Each rule defines a modified forward z′(x) and sends relevance back as
/// <c>R_x = x ⊙ ∂z′/∂x^T (R_z / stab(z′))</c>, <c>stab(z) = z + ε·(sign(z) or 1 at 0)</c>.
/// </summary>
public abstract record LrpRule
{
    /// <summary>Name for pictures and metadata (e.g. <c>epsilon</c>).</summary>
    public abstract string Name { get; }

    /// <summary>
    /// The replacement output of the layer: forward value z, backward the rule's map. In the library's propagation the
    /// gradient at a layer's output is relevance per unit of output, <c>g_z = R_z / z</c>, so the rule's backward is
    /// <c>g_x = Σ_terms ± ∂z′_t/∂x^T (g_z ⊙ z / stab(z′_t))</c>, which this builds as
    /// <c>z.detach() + Σ ±(z′_t ⊙ c_t − (z′_t ⊙ c_t).detach())</c> with <c>c_t = (z / stab(z′_t)).detach()</c>.
    /// </summary>
    /// <param name="x">The layer's input (in the autograd graph).</param>
    /// <param name="z">The layer's output.</param>
    /// <param name="layer">Evaluates the layer with other weights and bias: <c>(x, W, b) → z</c>.</param>
    /// <param name="weight">W, detached.</param>
    /// <param name="bias">b, detached, or null.</param>
    internal Tensor Replace(Tensor x, Tensor z, Func<Tensor, Tensor, Tensor?, Tensor> layer, Tensor weight, Tensor? bias)
    {
        var result = z.detach();
        foreach (var (sign, modified) in Terms(x, layer, weight, bias))
        {
            var c = (z.detach() / Stabilize(modified.detach(), Epsilon)).detach();
            var term = modified * c;
            result = result + (term - term.detach()) * sign;
        }
        return result;
    }

    /// <summary>Stabiliser ε of the denominator.</summary>
    public abstract double Epsilon { get; }

    /// <summary>The modified forward passes z′_t with their weights (e.g. α and −β).</summary>
    internal abstract IEnumerable<(double Weight, Tensor Modified)> Terms(Tensor x, Func<Tensor, Tensor, Tensor?, Tensor> layer, Tensor weight, Tensor? bias);

    internal static Tensor Stabilize(Tensor z, double epsilon) => z + (z.sign() + (z == Scalars.IntZero).to(z.dtype)) * epsilon;
}

/// <summary>LRP-ε: <c>R_x = x ⊙ W^T (R_z / stab(Wx + b))</c>; ε → 0 is LRP-0 (= gradient × input on bias-free ReLU nets).</summary>
/// <param name="Eps">The stabiliser ε (Zennit's default 1e-6).</param>
public sealed record EpsilonRule(double Eps = 1e-6) : LrpRule
{
    /// <inheritdoc />
    public override string Name => "epsilon";

    /// <inheritdoc />
    public override double Epsilon => Eps;

    internal override IEnumerable<(double, Tensor)> Terms(Tensor x, Func<Tensor, Tensor, Tensor?, Tensor> layer, Tensor weight, Tensor? bias)
    {
        yield return (1.0, layer(x, weight, bias));
    }
}

/// <summary>LRP-γ: weights and bias <c>W + γW⁺</c>, <c>b + γb⁺</c> favour positive contributions (Montavon et al. 2019).</summary>
/// <param name="Gamma">γ (Zennit's default 0.25).</param>
/// <param name="Eps">Stabiliser.</param>
public sealed record GammaRule(double Gamma = 0.25, double Eps = 1e-6) : LrpRule
{
    /// <inheritdoc />
    public override string Name => "gamma";

    /// <inheritdoc />
    public override double Epsilon => Eps;

    internal override IEnumerable<(double, Tensor)> Terms(Tensor x, Func<Tensor, Tensor, Tensor?, Tensor> layer, Tensor weight, Tensor? bias)
    {
        var w = weight + weight.clamp_min(Scalars.IntZero) * Gamma;
        var b = bias is null ? null : bias + bias.clamp_min(Scalars.IntZero) * Gamma;
        yield return (1.0, layer(x, w, b));
    }
}

/// <summary>
/// LRP-z⁺ (Zennit's <c>ZPlus</c>): only positive contributions, <c>z⁺ = W⁺x⁺ + W⁻x⁻</c> without bias,
/// <c>R_x = x⁺ ⊙ W⁺^T(R/z⁺) + x⁻ ⊙ W⁻^T(R/z⁺)</c>; for x ≥ 0 the classic z⁺ rule. Conserves relevance exactly.
/// </summary>
/// <param name="Eps">Stabiliser.</param>
public sealed record ZPlusRule(double Eps = 1e-6) : LrpRule
{
    /// <inheritdoc />
    public override string Name => "zplus";

    /// <inheritdoc />
    public override double Epsilon => Eps;

    internal override IEnumerable<(double, Tensor)> Terms(Tensor x, Func<Tensor, Tensor, Tensor?, Tensor> layer, Tensor weight, Tensor? bias)
    {
        yield return (1.0, layer(x.clamp_min(Scalars.IntZero), weight.clamp_min(Scalars.IntZero), null) + layer(x.clamp_max(Scalars.IntZero), weight.clamp_max(Scalars.IntZero), null));
    }
}

/// <summary>
/// LRP-αβ (Bach et al. 2015): positive and negative contributions propagated separately,
/// <c>R_x = α · x ⊙ J⁺^T(R/z⁺) − β · x ⊙ J⁻^T(R/z⁻)</c> with z⁺ = W⁺x⁺ + W⁻x⁻ + b⁺, z⁻ = W⁻x⁺ + W⁺x⁻ + b⁻ (as Zennit).
/// Conservative when α − β = 1.
/// </summary>
/// <param name="Alpha">α (default 2).</param>
/// <param name="Beta">β (default 1).</param>
/// <param name="Eps">Stabiliser.</param>
public sealed record AlphaBetaRule(double Alpha = 2, double Beta = 1, double Eps = 1e-6) : LrpRule
{
    /// <inheritdoc />
    public override string Name => $"alpha{Alpha}beta{Beta}";

    /// <inheritdoc />
    public override double Epsilon => Eps;

    internal override IEnumerable<(double, Tensor)> Terms(Tensor x, Func<Tensor, Tensor, Tensor?, Tensor> layer, Tensor weight, Tensor? bias)
    {
        Tensor xp = x.clamp_min(Scalars.IntZero), xn = x.clamp_max(Scalars.IntZero), wp = weight.clamp_min(Scalars.IntZero), wn = weight.clamp_max(Scalars.IntZero);
        var positive = layer(xp, wp, bias?.clamp_min(Scalars.IntZero)) + layer(xn, wn, null);
        var negative = layer(xp, wn, bias?.clamp_max(Scalars.IntZero)) + layer(xn, wp, null);
        yield return (Alpha, positive);
        if (Beta != 0) yield return (-Beta, negative);
    }
}

/// <summary>
/// Assigns an LRP rule to each layer (Zennit's composites). Layers without a rule (activations, pooling, flatten, …)
/// keep their gradient, which in this propagation passes relevance through ReLU and routes it like Zennit's treatment of
/// pooling (max pooling to the maximum, average pooling in proportion to the inputs — the "sum pooling" rule).
/// </summary>
public sealed class LrpComposite
{
    private readonly Func<string, nn.Module, LrpRule?> assign;

    /// <summary>A composite from a function of (layer path, module) to a rule, or null for "gradient".</summary>
    public LrpComposite(string name, Func<string, nn.Module, LrpRule?> assign)
    {
        ArgumentNullException.ThrowIfNull(assign);
        Name = name;
        this.assign = assign;
    }

    /// <summary>The composite's name.</summary>
    public string Name { get; }

    /// <summary>The rule of a layer, or null.</summary>
    public LrpRule? RuleFor(string path, nn.Module module) => module is Linear or Conv2d ? assign(path, module) : null;

    /// <summary>One rule for every Linear and Conv2d layer.</summary>
    public static LrpComposite Uniform(LrpRule rule) => new($"uniform-{rule.Name}", (_, _) => rule);

    /// <summary>A rule for convolutions and one for linear layers.</summary>
    public static LrpComposite ByType(LrpRule conv, LrpRule linear) => new($"conv-{conv.Name}+linear-{linear.Name}", (_, m) => m is Conv2d ? conv : linear);

    /// <summary>Zennit's <c>EpsilonPlus</c>: z⁺ for convolutions, ε for linear layers.</summary>
    public static LrpComposite EpsilonPlus(double epsilon = 1e-6) => new("epsilon-plus", (_, m) => m is Conv2d ? new ZPlusRule() : new EpsilonRule(epsilon));

    /// <summary>Zennit's <c>EpsilonGamma</c> (without the box rule): γ for convolutions, ε for linear layers.</summary>
    public static LrpComposite EpsilonGamma(double gamma = 0.25, double epsilon = 1e-6) => new("epsilon-gamma", (_, m) => m is Conv2d ? new GammaRule(gamma) : new EpsilonRule(epsilon));

    /// <summary>Zennit's <c>EpsilonAlpha2Beta1</c>: α2β1 for convolutions, ε for linear layers.</summary>
    public static LrpComposite EpsilonAlpha2Beta1(double epsilon = 1e-6) => new("epsilon-alpha2-beta1", (_, m) => m is Conv2d ? new AlphaBetaRule() : new EpsilonRule(epsilon));
}

/// <summary>Options of <see cref="Lrp"/>.</summary>
/// <param name="Composite">Rules per layer; null = <see cref="LrpComposite.EpsilonPlus"/>.</param>
public sealed record LrpOptions(LrpComposite? Composite = null);

/// <summary>
/// Layer-wise relevance propagation (Bach et al. 2015) with Zennit's core rules (ε, γ, z⁺, αβ) for Linear and Conv2d
/// layers. Implemented with forward hooks that replace each layer's output by the gradient trick of
/// <see cref="LrpRule"/>; the user's model is not changed. The relevance at the output is the target logit
/// (the gradient there is one-hot), and the result is <c>R = x̃ ⊙ g_x̃</c> at the input x̃ of the first rule layer when it
/// has the model input's shape (so a model that first normalises its pixels, like ShapesNet's <c>(x − 0.5)·4</c>, gets
/// the relevance of each pixel rather than of its shift), otherwise <c>x ⊙ g_x</c> at the model's input. Metadata: <c>output_relevance</c>
/// (Σ over rows of the target logits), <c>input_relevance</c> (Σ of all attributions) and <c>conservation_error</c>
/// = max over rows of |Σ R_input − R_output| / |R_output| (biases and ε absorb relevance, so it is 0 only for
/// bias-free networks with conservative rules).
/// </summary>
public sealed class Lrp : AttributionMethod<LrpOptions>
{
    private static readonly Scalar TinyScore = 1e-12.ToScalar();   // a floor for |score| in the conservation error

    /// <summary>LRP of a classifier <c>[batch, ...] → [batch, classes]</c> built from modules.</summary>
    public Lrp(nn.Module<Tensor, Tensor> model) : base(model) { }

    /// <inheritdoc />
    public override string Name => "lrp";

    /// <inheritdoc />
    public override LrpOptions DefaultOptions { get; } = new();

    /// <inheritdoc />
    protected override AttributionResult Compute(AttributionCall call, LrpOptions options)
    {
        var (input, targets, targetParameter, model) = (call.Input, call.Targets, call.TargetParameter, Module);
        NonlinearityAudit.Check(model, input, null, Name);
        var composite = options.Composite ?? LrpComposite.EpsilonPlus();
        Tensor relevance, scores;
        int hooked = 0;
        Tensor? firstInput = null;
        using (var hooks = new HookScope(model))
        {
            foreach (var (path, module) in model.named_modules())
            {
                var rule = composite.RuleFor(path, module);
                if (rule is null) continue;
                var (weight, bias, layer) = Describe(module);
                hooks.AddForwardHook(path, (x, z) =>
                {
                    firstInput ??= x.alias();
                    return rule.Replace(x, z, layer, weight.detach(), bias?.detach());
                });
                hooked++;
            }
            if (hooked == 0) throw new ArgumentException("The model has no Linear or Conv2d layer for LRP rules.", "model");
            using var eg = enable_grad();
            var xin = input.detach().requires_grad_(true);
            var s = Scores(GradientCore.Run(Forward, xin, call), targets, targetParameter);
            scores = s.detach();
            if (firstInput is null) throw new InvalidOperationException("No Linear or Conv2d layer ran during the forward pass.");
            // Relevance at the input of the first rule layer. When that input has the model input's shape (the model
            // only rescales or shifts pixels first, e.g. (x − 0.5)·4), it is the pixels' relevance; x ⊙ ∂/∂x at the raw
            // input would count the shift as relevance. Otherwise the relevance is taken at the model input.
            var sameShape = firstInput.shape.SequenceEqual(xin.shape);
            var at = sameShape ? firstInput : xin;
            var g = autograd.grad(new[] { s.sum() }, new[] { at }, allow_unused: true)[0];
            if (g is null || g.IsInvalid) g = zeros_like(at);
            relevance = (at.detach() * g.detach()).contiguous();
            firstInput.Dispose();
        }
        var total = relevance.reshape(relevance.shape[0], -1).sum(dim: 1);
        var rel = ((total - scores).abs() / scores.abs().clamp_min(TinyScore)).max().ToDouble();
        var meta = new Dictionary<string, double>
        {
            ["conservation_error"] = rel,
            ["output_relevance"] = scores.sum().ToDouble(),
            ["input_relevance"] = total.sum().ToDouble(),
            ["hooked_layers"] = hooked,
        };
        return new AttributionResult(relevance, Name, meta);
    }

    private static (Tensor Weight, Tensor? Bias, Func<Tensor, Tensor, Tensor?, Tensor> Layer) Describe(nn.Module module) => module switch
    {
        Linear l => (l.weight!, l.bias, (x, w, b) => F.linear(x, w, b)),
        Conv2d c => (c.weight!, c.bias, (x, w, b) => F.conv2d(x, w, b, c.stride, c.padding, c.dilation, c.groups)),
        _ => throw new ArgumentException($"No LRP rule for {module.GetType().Name}."),
    };
}
