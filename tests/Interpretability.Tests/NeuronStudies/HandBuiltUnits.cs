using Interpretability.Imaging;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Interpretability.Tests.NeuronStudies;

/// <summary>Hand-built "curve detectors": a conv layer whose kernels are zero-mean arc templates drawn with Stimuli.</summary>
internal static class HandBuiltUnits
{
    public const int Kernel = 25;

    /// <summary>Sequential(conv: 3 → templates.Count, 25×25, pad 12; relu) with one arc template per output channel;
    /// the bias subtracts <paramref name="threshold"/> × the response to the template itself (a unit fires on good matches only).</summary>
    public static Module<Tensor, Tensor> ArcDetectors(IReadOnlyList<CurveSpec> templates, double threshold = 0.5)
    {
        var conv = Conv2d(3, templates.Count, Kernel, padding: Kernel / 2);
        using (no_grad())
        using (var scope = NewDisposeScope())
        {
            var t = Stimuli.Curves(templates, new StimulusCanvas(Kernel));        // [K,3,25,25]
            var k = t - t.mean(new long[] { 1, 2, 3 }, keepdim: true);
            var norm = k.square().sum(new long[] { 1, 2, 3 }).sqrt();     // = the response to the template itself
            conv.weight!.copy_(k / norm.view(-1, 1, 1, 1));
            conv.bias!.copy_(-threshold * norm);
        }
        var model = Sequential(("conv", conv), ("relu", ReLU()));
        model.eval();
        return model;
    }
}
