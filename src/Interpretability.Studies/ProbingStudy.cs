using Interpretability.Imaging;
using Interpretability.Models;
using Interpretability.Probing;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Studies;

/// <summary>
/// The probing toolkit on the zoo's ShapesNet: captured activations of every conv layer, zero-ablation of each conv4
/// channel, activation patching layer by layer, and the gradient of a logit at a layer; plus the colormaps.
/// </summary>
public sealed class ProbingStudy : Study
{
    /// <inheritdoc />
    public override string Name => "probing";

    /// <inheritdoc />
    public override string Title => "Probing: capture, ablate, patch, differentiate";

    /// <inheritdoc />
    public override void Run(StudyContext context, ReportSection section, Metrics metrics)
    {
        Report(context, "building model and input", 0.05);
        using var model = ModelZoo.ShapesNet();
        model.to(context.Device);
        // Clean: a spiral of the test split; corrupted: a circle (another class) — patching asks which layer carries the difference.
        using var test = ShapesDataset.Test(60);
        var spiral = test.Geometry.ToList().FindIndex(g => g.ClassName == "spiral");
        var circle = test.Geometry.ToList().FindIndex(g => g.ClassName == "circle" && !g.Filled);
        var clean = test.Images[spiral].unsqueeze(0).to(context.Device);
        var corrupted = test.Images[circle].unsqueeze(0).to(context.Device);
        section.Paragraph("Probes work on any TorchSharp module whose layers are called through call(); here the zoo's trained " +
                          "ShapesNet (conv1–conv4 with ReLU and pooling, global average, linear head) on a spiral of the test split (clean) " +
                          "and a circle (corrupted).");

        // 1. Capture every conv layer in one forward pass.
        section.Heading("Activations of every convolution");
        Report(context, "capturing activations", 0.2);
        string[] layers = { "conv1", "conv2", "conv3", "conv4" };
        using var capture = ActivationRecorder.Capture(model, clean, layers);
        var pictures = new List<Figure>();
        ImageGrid.Save(context.PathOf("input.png"), new[] { clean[0].cpu(), corrupted[0].cpu() }, new[] { "clean input", "corrupted input" },
            new GridOptions(TileSize: 192));
        pictures.Add(context.Figure("input.png", "The clean scene and its corrupted version (the disc moved, noise added)."));
        foreach (var layer in layers)
        {
            var act = capture[layer][0].cpu();                            // [C, h, w]
            var tiles = Enumerable.Range(0, (int)act.shape[0]).Select(c => act[c]).ToList();
            ImageGrid.Save(context.PathOf($"{layer}_activations.png"), tiles,
                tiles.Select((_, c) => (string?)$"ch {c}").ToList(),
                new GridOptions(Columns: 8, TileSize: 72, Title: $"{layer} output [{string.Join("×", capture[layer].shape)}]"),
                new PngOptions(Normalization.MinMax, Colormap.Viridis));
            pictures.Add(context.Figure($"{layer}_activations.png", $"Every channel of {layer} on the clean input (viridis, each map min–max scaled)."));
        }
        section.AddFigureRow(pictures);
        metrics.Set("captured_layers", layers);
        metrics.Set("conv3_shape", capture["conv3"].shape);
        metrics.Set("clean_class", ShapesDataset.ClassNames[(int)capture.ModelOutput!.argmax(1).ToInt64()]);

        // 2. Zero-ablate each conv4 channel: change of the top logit.
        section.Heading("Ablating channels");
        Report(context, "ablating conv4 channels", 0.45);
        var logits = capture.ModelOutput!;
        var top = logits[0].argmax().ToInt64();
        var baseLogit = logits[0, top].ToDouble();
        var channels = (int)capture["conv4"].shape[1];
        var effects = new double[channels];
        using (no_grad())
            for (int c = 0; c < channels; c++)
            {
                using var scope = NewDisposeScope();
                using var ablate = Ablation.Zero(model, "relu4", new long[] { c });
                effects[c] = model.call(clean)[0, top].ToDouble() - baseLogit;
            }
        section.AddFigure(context.SavePng("ablation.png", Charts.Bars(Enumerable.Range(0, channels).Select(c => c.ToString()).ToList(), effects,
            new ChartOptions($"Zero-ablating one relu4 channel: change of the '{ShapesDataset.ClassNames[(int)top]}' logit", "channel", "Δ logit")),
            "Each bar: the change of the top logit when one channel of relu4 is set to zero (the head is linear after global average, so each change equals −weight × mean activation)."));
        metrics.Set("ablation_max_abs_logit_change", effects.Max(Math.Abs));

        // 3. Activation patching, layer by layer.
        section.Heading("Activation patching, layer by layer");
        section.Cite("vig2020", "meng2022");
        Report(context, "activation patching", 0.65);
        var sites = new[] { "relu1", "pool1", "relu2", "pool2", "relu3", "pool3", "relu4", "gap" };
        var results = ActivationPatching.Sweep(model, clean, corrupted, sites.Select(s => (PatchSite)s).ToList(), y => y[0, top]);
        section.AddFigure(context.SavePng("patching.png", Charts.Bars(sites, results.Select(r => double.IsFinite(r.Recovery) ? r.Recovery : 0).ToList(),
            new ChartOptions($"Activation patching clean → corrupted, metric: logit {top}", "patched layer", "recovered share")),
            "Patching a whole layer's output from the clean run into the corrupted run restores the clean logit exactly (share 1): everything downstream depends only on that layer."));
        metrics.Set("patching_recovery", sites.Zip(results, (s, r) => new KeyValuePair<string, double>(s, double.IsFinite(r.Recovery) ? r.Recovery : 0)));

        // 4. Gradient of the top logit at relu4, as a Grad-CAM-style map over the input.
        section.Heading("The gradient at a hidden layer");
        section.Cite("selvaraju2017");
        Report(context, "layer gradient", 0.8);
        using var grad = LayerGradient.Compute(model, clean, "relu4", y => y[0, top]);
        var weights = grad.Gradient.mean(new long[] { 2, 3 }, keepdim: true);
        var cam = (weights * grad.Activation).sum(1)[0];
        var overlay = Overlay.Heatmap(clean[0], cam, Colormap.Diverging, Normalization.Symmetric, 0.8);
        ImageGrid.Save(context.PathOf("layer_gradient.png"), new[] { clean[0].cpu(), overlay.cpu() }, new[] { "input", "Σ_k mean(∂y/∂A_k)·A_k at relu4 (signed)" },
            new GridOptions(TileSize: 192));
        section.AddFigure(context.Figure("layer_gradient.png", "The gradient of the top logit at relu4, channel-averaged and weighted by the activation (the Grad-CAM recipe, before its ReLU), drawn over the input: red raises the logit, blue lowers it."));
        metrics.Set("layer_gradient_objective", grad.Objective);

        // 5. Colormaps.
        section.Heading("Colormaps");
        Report(context, "colormaps", 0.95);
        var ramp = linspace(-1, 1, 256).unsqueeze(0).expand(24, 256);
        ImageGrid.Save(context.PathOf("colormaps.png"),
            new[] { Colormap.Viridis.Apply(Normalization.MinMax.Apply(ramp)), Colormap.Diverging.Apply(Normalization.Symmetric.Apply(ramp)), Colormap.Grey.Apply(Normalization.MinMax.Apply(ramp)) },
            new[] { "viridis (sequential): magnitudes", "diverging blue–white–red, symmetric: signed maps (white = 0)", "grey" },
            new GridOptions(Columns: 1));
        section.AddFigure(context.Figure("colormaps.png", "The colormaps every picture uses."));
        Report(context, "done", 1);
    }
}
