using System.Runtime.CompilerServices;
using Interpretability.Probing;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>
/// Finds nonlinearities that a rule-based method (DeepLift, guided backpropagation, deconvolution, LRP) cannot see. Those
/// methods change the backward pass of the activation and pooling modules they hook; a nonlinearity computed inside a
/// <c>forward</c> method (<c>functional.relu(x)</c>) keeps its ordinary gradient, and the result is silently wrong (DeepLift
/// off by 9 % on such a model, its summation-to-delta broken). The audit replaces every nonlinearity the method sees by
/// a linear stand-in (elementwise activations by the identity, max pooling by average pooling with the same window) and
/// runs the model on three points of a line, u, v and (u + v)/2: with every nonlinearity seen, each module's output is
/// then affine in the input, so its value at the midpoint is the mean of its values at the ends. The first module (in
/// the order the forward pass runs them) whose output breaks that is named: its input went through a nonlinearity no
/// hook could reach — or the module itself is a nonlinearity the method has no rule for.
/// </summary>
internal static class NonlinearityAudit
{
    /// <summary>Relative tolerance of the midpoint test (float32 forward passes agree to about 1e-6 here).</summary>
    private const double Tolerance = 1e-3;

    private static readonly ConditionalWeakTable<nn.Module, HashSet<string>> Passed = new();

    /// <summary>The nonlinear modules every rule-based method handles: elementwise activations and max pooling.</summary>
    internal static bool IsSeen(nn.Module m) => ModuleKinds.IsElementwiseActivation(m) || ModuleKinds.IsMaxPooling(m);

    /// <summary>
    /// Throws <see cref="ArgumentException"/> naming the first module whose output depends nonlinearly on the input once
    /// every nonlinearity the method sees is linearised. Checks one row of <paramref name="input"/> against
    /// <paramref name="other"/> (a baseline, or a seeded random point when null); a model that passes is remembered for
    /// the input's row shape.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="input">The input <c>[batch, ...]</c> (its first row is used).</param>
    /// <param name="other">The other end of the line, <c>[batch, ...]</c> or null.</param>
    /// <param name="method">The method's name, for the message.</param>
    /// <param name="seen">The nonlinear modules the method has a rule for; null = <see cref="IsSeen"/>.</param>
    /// <param name="outputNonlinearityIsFine">Whether a nonlinearity after the last module (a final softmax) is harmless
    /// for the method: it is for guided backprop and deconvolution, whose rules concern the ReLUs only.</param>
    internal static void Check(nn.Module<Tensor, Tensor> model, Tensor input, Tensor? other, string method, Func<nn.Module, bool>? seen = null,
        bool outputNonlinearityIsFine = false)
    {
        seen ??= IsSeen;
        foreach (var (path, module) in model.named_modules())
        {
            if (module.training && module is BatchNorm1d or BatchNorm2d or BatchNorm3d or Dropout or Dropout1d or Dropout2d or Dropout3d or AlphaDropout)
                throw new ArgumentException($"{method}: layer '{path}' ({module.GetType().Name}) is in training mode, where it depends on the batch or on chance; call model.eval() first.", "model");
            if (ModuleKinds.IsInPlace(module))
                throw new ArgumentException($"{method}: layer '{path}' ({module.GetType().Name}) works in place (inplace: true), so its rule cannot see its input; build it without inplace.", "model");
        }
        var key = method + ":" + string.Join("x", input.shape.Skip(1)) + ":" + input.dtype;
        var passed = Passed.GetOrCreateValue(model);
        lock (passed)
            if (passed.Contains(key)) return;
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            var u = input.narrow(0, 0, 1).detach();
            Tensor v;
            if (other is not null) v = other.narrow(0, 0, 1).detach().to(u.dtype, u.device);
            else
            {
                using var gen = new Generator(20231, u.device);
                var spread = u.std().ToDouble();
                v = randn(u.shape, dtype: u.dtype, device: u.device, generator: gen) * (spread > 0 ? spread : 1.0) + u.mean();
            }
            if ((u - v).abs().max().ToDouble() == 0) return;   // a zero-length line tests nothing (e.g. an input equal to its baseline)
            var m = (u + v) / 2;
            var runs = new[] { u, v, m }.Select(x => Run(model, x, seen)).ToArray();
            for (int i = 0; i < runs[0].Count; i++)
            {
                var (path, module, yu) = runs[0][i];
                if (i >= runs[1].Count || i >= runs[2].Count || runs[1][i].Path != path || runs[2][i].Path != path)
                    throw new ArgumentException($"{method}: the model ran different modules on different inputs (at '{Name(path)}'), so its nonlinearities cannot be checked; use a model whose forward pass does not branch on the input's values.", "model");
                var yv = runs[1][i].Output;
                var ym = runs[2][i].Output;
                if (!yu.shape.SequenceEqual(ym.shape) || !yu.is_floating_point()) continue;
                var mean = (yu.to(float64) + yv.to(float64)) / 2;
                var error = (ym.to(float64) - mean).norm().ToDouble();
                var scale = (yu.to(float64).norm().ToDouble() + yv.to(float64).norm().ToDouble()) / 2;
                if (error <= Tolerance * scale + 1e-12) continue;
                if (path.Length == 0 && outputNonlinearityIsFine) continue;
                var type = module.GetType().Name;
                var why = module.named_children().Any() || path.Length == 0
                    ? $"its output depends nonlinearly on the input once every activation and pooling module is linearised: a nonlinearity runs inside {type}.forward (e.g. functional.relu) where no hook can reach it"
                    : IsParametrisedLinear(module)
                        ? $"its input depends nonlinearly on the model's input once every activation and pooling module is linearised: a nonlinearity runs inside a forward method (e.g. functional.relu) between the modules, where no hook can reach it"
                        : $"{type} is a nonlinearity {method} has no rule for";
                throw new ArgumentException($"{method} cannot explain this model: at layer '{Name(path)}' ({type}), {why}. " +
                                            "Use activation modules (nn.ReLU(), nn.Tanh(), …) called through call() for every nonlinearity.", "model");
            }
        }
        lock (passed) passed.Add(key);
    }

    private static string Name(string path) => path.Length == 0 ? "(the model itself)" : path;

    private static bool IsParametrisedLinear(nn.Module m) => m is Linear or Conv1d or Conv2d or Conv3d or ConvTranspose2d or BatchNorm1d or BatchNorm2d;

    /// <summary>Runs the model with the seen nonlinearities linearised and records every module's output in run order.</summary>
    private static List<(string Path, nn.Module Module, Tensor Output)> Run(nn.Module<Tensor, Tensor> model, Tensor x, Func<nn.Module, bool> seen)
    {
        var outputs = new List<(string, nn.Module, Tensor)>();
        using var hooks = new HookScope(model);
        foreach (var (path, module) in model.named_modules())
        {
            if (module is not nn.Module<Tensor, Tensor>) continue;
            var (p, mod) = (path, module);
            hooks.AddForwardHook(path, (inp, output) =>
            {
                var replaced = !seen(mod) ? null : ModuleKinds.IsElementwiseActivation(mod) ? inp.alias() : ModuleKinds.AveragePoolingLike(mod, inp);
                outputs.Add((p, mod, (replaced ?? output).detach().clone()));
                return replaced;
            });
        }
        var y = model.call(x);
        outputs.Add(("", model, y.detach().clone()));
        return outputs;
    }
}
