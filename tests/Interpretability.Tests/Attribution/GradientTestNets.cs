using System.Reflection;
using Module = TorchSharp.torch.nn.Module;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Interpretability.Tests.Attribution;

/// <summary>Hand-built networks and model-state snapshots shared by the attribution tests.</summary>
internal static class GradientTestNets
{
    /// <summary>A linear classifier [batch, in] → [batch, out] with seeded weights.</summary>
    public static Linear LinearNet(int inputs, int outputs, int seed)
    {
        manual_seed(seed);
        return Linear(inputs, outputs);
    }

    /// <summary>A smooth MLP: fc1, tanh1, fc2, softplus, fc3.</summary>
    public static Sequential Smooth(int inputs = 6, int classes = 3, int seed = 1, ScalarType dtype = ScalarType.Float32)
    {
        manual_seed(seed);
        var m = Sequential(("fc1", Linear(inputs, 16)), ("tanh1", Tanh()), ("fc2", Linear(16, 8)), ("softplus", Softplus()), ("fc3", Linear(8, classes)));
        m.to(dtype);
        return m;
    }

    /// <summary>A ReLU MLP: fc1, relu1, fc2, relu2, fc3.</summary>
    public static Sequential ReluMlp(int inputs = 6, int classes = 3, int seed = 2, bool bias = true)
    {
        manual_seed(seed);
        return Sequential(("fc1", Linear(inputs, 12, hasBias: bias)), ("relu1", ReLU()), ("fc2", Linear(12, 10, hasBias: bias)), ("relu2", ReLU()), ("fc3", Linear(10, classes, hasBias: bias)));
    }

    /// <summary>A small CNN with ShapesNet's layer names (conv1, relu1, pool1, conv2, relu2, pool2, conv3, relu3, gap, flatten, fc).</summary>
    public static Sequential Cnn(int classes = 4, int seed = 3, bool bias = true, bool avgPool = false)
    {
        manual_seed(seed);
        Module<Tensor, Tensor> Pool() => avgPool ? AvgPool2d(2) : MaxPool2d(2);
        return Sequential(
            ("conv1", Conv2d(3, 6, 3, padding: 1, bias: bias)), ("relu1", ReLU()), ("pool1", Pool()),
            ("conv2", Conv2d(6, 8, 3, padding: 1, bias: bias)), ("relu2", ReLU()), ("pool2", Pool()),
            ("conv3", Conv2d(8, 8, 3, padding: 1, bias: bias)), ("relu3", ReLU()),
            ("gap", AdaptiveAvgPool2d(1)), ("flatten", Flatten()), ("fc", Linear(8, classes, hasBias: bias)));
    }

    /// <summary>Clones of every parameter and buffer, by name.</summary>
    public static Dictionary<string, Tensor> Snapshot(Module model) =>
        model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());

    /// <summary>Asserts the model's weights equal the snapshot and no hook is left on any module, and no parameter has a gradient.</summary>
    public static void AssertUnchanged(Module model, Dictionary<string, Tensor> snapshot)
    {
        var now = model.state_dict();
        Assert.Equal(snapshot.Keys.OrderBy(k => k), now.Keys.OrderBy(k => k));
        foreach (var (k, v) in snapshot) Assert.True(v.equal(now[k]).all().item<bool>(), $"parameter {k} changed");
        foreach (var (name, m) in model.named_modules().Append(("", model)))
            Assert.True(HookCount(m) == 0, $"module '{name}' keeps {HookCount(m)} hooks");
        foreach (var (name, p) in model.named_parameters())
            Assert.True(p.grad is null || p.grad.abs().sum().ToDouble() == 0, $"parameter {name} got a gradient");
    }

    /// <summary>Number of forward and pre-forward hooks registered on a module (TorchSharp's private dictionaries).</summary>
    public static int HookCount(Module m)
    {
        int count = 0;
        for (var t = m.GetType(); t is not null; t = t.BaseType)
            foreach (var f in t.GetFields(BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.DeclaredOnly))
                if (f.Name is "post_hooks" or "pre_hooks" && f.GetValue(m) is System.Collections.ICollection c)
                    count += c.Count;
        return count;
    }

    /// <summary>Sum over all dimensions but the first: [batch].</summary>
    public static Tensor RowSums(Tensor t) => t.reshape(t.shape[0], -1).sum(dim: 1);
}
