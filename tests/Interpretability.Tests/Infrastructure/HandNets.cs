using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Interpretability.Tests.Infrastructure;

/// <summary>Small networks with weights set by hand, so every expected value can be computed in plain C#.</summary>
public static class HandNets
{
    /// <summary>fc1: 3→4, relu1, fc2: 4→2 with fixed weights.</summary>
    public static readonly double[,] W1 = { { 0.5, -1.0, 0.25 }, { 1.5, 0.5, -0.5 }, { -0.75, 0.25, 1.0 }, { 0.2, 0.3, 0.4 } };
    /// <summary>Bias of fc1.</summary>
    public static readonly double[] B1 = { 0.1, -0.2, 0.05, -0.3 };
    /// <summary>Weights of fc2.</summary>
    public static readonly double[,] W2 = { { 1.0, -0.5, 0.75, 2.0 }, { -1.25, 0.6, 0.3, -0.4 } };
    /// <summary>Bias of fc2.</summary>
    public static readonly double[] B2 = { 0.2, -0.1 };

    /// <summary>The MLP with the weights above, layers fc1, relu1, fc2; float64.</summary>
    public static Sequential Mlp()
    {
        var model = Interpretability.Models.ReferenceModels.Mlp(3, new[] { 4 }, 2, seed: 1);
        model.to(float64);
        using (no_grad())
        {
            var fc1 = (Linear)model.named_modules().First(m => m.Item1 == "fc1").Item2;
            var fc2 = (Linear)model.named_modules().First(m => m.Item1 == "fc2").Item2;
            fc1.weight!.copy_(tensor(W1, dtype: float64));
            fc1.bias!.copy_(tensor(B1, dtype: float64));
            fc2.weight!.copy_(tensor(W2, dtype: float64));
            fc2.bias!.copy_(tensor(B2, dtype: float64));
        }
        return model;
    }

    /// <summary>fc1 pre-activations computed by hand: z = W1 x + b1.</summary>
    public static double[] Fc1(double[] x)
    {
        var z = new double[4];
        for (int i = 0; i < 4; i++)
        {
            z[i] = B1[i];
            for (int j = 0; j < 3; j++) z[i] += W1[i, j] * x[j];
        }
        return z;
    }

    /// <summary>The whole MLP by hand, with optional replacement of hidden units after the ReLU.</summary>
    public static double[] Forward(double[] x, Func<int, double, double>? hiddenOverride = null)
    {
        var h = Fc1(x).Select(v => Math.Max(0, v)).ToArray();
        if (hiddenOverride is not null) for (int i = 0; i < h.Length; i++) h[i] = hiddenOverride(i, h[i]);
        var y = new double[2];
        for (int o = 0; o < 2; o++)
        {
            y[o] = B2[o];
            for (int i = 0; i < 4; i++) y[o] += W2[o, i] * h[i];
        }
        return y;
    }

    /// <summary>Rows of a [n, k] float64 tensor as arrays.</summary>
    public static double[][] Rows(Tensor t)
    {
        var data = t.to(float64).cpu().contiguous().data<double>().ToArray();
        var k = (int)t.shape[1];
        return Enumerable.Range(0, (int)t.shape[0]).Select(r => data.Skip(r * k).Take(k).ToArray()).ToArray();
    }
}
