using Interpretability.Attribution;
using Interpretability.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Tests.Attribution;

/// <summary>Input-level methods on a TorchScript model (the vendored Linear(10, 6) + ReLU fixture made by PyTorch).</summary>
public class GradientTorchScriptTests
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    [Fact]
    public void Saliency_and_IG_run_on_a_torchscript_model_and_hook_methods_explain_why_they_cannot()
    {
        using var model = ModelZoo.Open(Fixture("linrelu.script.dat"));
        var parameters = model.parameters().ToList();
        var w = parameters.Single(p => p.dim() == 2).detach();          // [6, 10]
        var b = parameters.Single(p => p.dim() == 1).detach();          // [6]
        manual_seed(91);
        var x = randn(3, 10);
        const long t = 4;
        using var s = new Saliency(model).Attribute(x, t, new SaliencyOptions(false));
        var active = ((x.matmul(w.t()) + b)[.., t] > 0).to(float32).unsqueeze(1);
        Assert.True(s.Attributions.allclose(active * w[t], rtol: 1e-5, atol: 1e-6));
        using var ig = new IntegratedGradients(model).Attribute(x, t, new IntegratedGradientsOptions(Steps: 200, ReturnConvergenceDelta: true));
        Assert.True(ig.Metadata["convergence_delta"] < 0.05 * Math.Abs(ig.Metadata["score_difference"]) + 1e-3);
        var e1 = Assert.Throws<ArgumentException>(() => new GuidedBackprop(model).Attribute(x, t));
        Assert.Equal("model", e1.ParamName);
        var e2 = Assert.Throws<ArgumentException>(() => new GradCam(model, "script.0"));
        Assert.Equal("layer", e2.ParamName);
        Assert.Contains("TorchScript", e2.Message);
    }
}
