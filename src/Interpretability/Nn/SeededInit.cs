using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Nn;

/// <summary>
/// Deterministic initialisation from a private generator, so building a model never touches (or depends on) the global
/// RNG. Weights follow PyTorch's default for Linear and Conv layers: U(−1/√fan_in, 1/√fan_in) for weights and biases
/// (the kaiming_uniform(a=√5) default reduces to this bound).
/// </summary>
public static class SeededInit
{
    /// <summary>Re-initialises every parameter of <paramref name="model"/> from <paramref name="seed"/>.</summary>
    public static void Apply(nn.Module model, long seed)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var generator = new Generator((ulong)seed);
        using var noGrad = no_grad();
        foreach (var (name, module) in model.named_modules().Prepend(("", model)))
        {
            Tensor? weight = module switch
            {
                TorchSharp.Modules.Linear l => l.weight,
                TorchSharp.Modules.Conv2d c => c.weight,
                TorchSharp.Modules.Conv1d c => c.weight,
                _ => null,
            };
            Tensor? bias = module switch
            {
                TorchSharp.Modules.Linear l => l.bias,
                TorchSharp.Modules.Conv2d c => c.bias,
                TorchSharp.Modules.Conv1d c => c.bias,
                _ => null,
            };
            if (weight is null) continue;
            var fanIn = weight.shape.Skip(1).Aggregate(1L, (a, b) => a * b);
            var bound = 1.0 / Math.Sqrt(fanIn);
            Uniform(weight, bound, generator);
            if (bias is not null) Uniform(bias, bound, generator);
        }
    }

    private static void Uniform(Tensor t, double bound, Generator generator)
    {
        using var scope = NewDisposeScope();
        var u = rand(t.shape, generator: generator, dtype: t.dtype, device: t.device) * (2 * bound) - bound;
        t.copy_(u);
    }
}
