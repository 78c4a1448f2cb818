using Interpretability.Imaging;
using Interpretability.Models;
using Interpretability.Probing;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Reporting.Studies;

/// <summary>
/// The probing toolkit on a small seeded CNN: captured activations of every conv layer, zero-ablation of each conv3
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
        var model = ReferenceModels.SmallCnn(3, 10, width: 8, seed: context.Seed);
        model.to(context.Device);
        model.eval();
        var size = context.Quick ? 32 : 64;
        var clean = Scene(size, corrupted: false).unsqueeze(0).to(context.Device);
        var corrupted = Scene(size, corrupted: true).unsqueeze(0).to(context.Device);
        section.Paragraph("Probes work on any TorchSharp module whose layers are called through call(); here a small CNN " +
                          "(conv1–conv3 with ReLU and pooling, global average, linear head) with seeded random weights, on a drawn scene. " +
                          "Trained models come from the model zoo; these pictures show the machinery, not learned features.");

        // 1. Capture every conv layer in one forward pass.
        Report(context, "capturing activations", 0.2);
        string[] layers = { "conv1", "conv2", "conv3" };
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

        // 2. Zero-ablate each conv3 channel: change of the top logit.
        Report(context, "ablating conv3 channels", 0.45);
        var logits = capture.ModelOutput!;
        var top = logits[0].argmax().ToInt64();
        var baseLogit = logits[0, top].ToDouble();
        var channels = (int)capture["conv3"].shape[1];
        var effects = new double[channels];
        using (no_grad())
            for (int c = 0; c < channels; c++)
            {
                using var scope = NewDisposeScope();
                using var ablate = Ablation.Zero(model, "relu3", new long[] { c });
                effects[c] = model.call(clean)[0, top].ToDouble() - baseLogit;
            }
        section.AddFigure(context.SavePng("ablation.png", Charts.Bars(Enumerable.Range(0, channels).Select(c => c.ToString()).ToList(), effects,
            new ChartOptions($"Zero-ablating one relu3 channel: change of logit {top}", "channel", "Δ logit")),
            "Each bar: the change of the top logit when one channel of relu3 is set to zero (the head is linear after global average, so each change equals −weight × mean activation)."));
        metrics.Set("ablation_max_abs_logit_change", effects.Max(Math.Abs));

        // 3. Activation patching, layer by layer.
        Report(context, "activation patching", 0.65);
        var sites = new[] { "relu1", "pool1", "relu2", "pool2", "relu3", "gap" };
        var results = ActivationPatching.Sweep(model, clean, corrupted, sites.Select(s => (PatchSite)s).ToList(), y => y[0, top]);
        section.AddFigure(context.SavePng("patching.png", Charts.Bars(sites, results.Select(r => double.IsFinite(r.Recovery) ? r.Recovery : 0).ToList(),
            new ChartOptions($"Activation patching clean → corrupted, metric: logit {top}", "patched layer", "recovered share")),
            "Patching a whole layer's output from the clean run into the corrupted run restores the clean logit exactly (share 1): everything downstream depends only on that layer."));
        metrics.Set("patching_recovery", sites.Zip(results, (s, r) => new KeyValuePair<string, double>(s, double.IsFinite(r.Recovery) ? r.Recovery : 0)));

        // 4. Gradient of the top logit at conv3, as a Grad-CAM-style map over the input.
        Report(context, "layer gradient", 0.8);
        using var grad = LayerGradient.Compute(model, clean, "relu3", y => y[0, top]);
        var weights = grad.Gradient.mean(new long[] { 2, 3 }, keepdim: true);
        var cam = (weights * grad.Activation).sum(1)[0];
        var overlay = Overlay.Heatmap(clean[0], cam, Colormap.Diverging, Normalization.Symmetric, 0.8);
        ImageGrid.Save(context.PathOf("layer_gradient.png"), new[] { clean[0].cpu(), overlay.cpu() }, new[] { "input", "Σ_k mean(∂y/∂A_k)·A_k at relu3 (signed)" },
            new GridOptions(TileSize: 192));
        section.AddFigure(context.Figure("layer_gradient.png", "The gradient of the top logit at relu3, channel-averaged and weighted by the activation (the Grad-CAM recipe, before its ReLU), drawn over the input: red raises the logit, blue lowers it."));
        metrics.Set("layer_gradient_objective", grad.Objective);

        // 5. Colormaps.
        Report(context, "colormaps", 0.95);
        var ramp = linspace(-1, 1, 256).unsqueeze(0).expand(24, 256);
        ImageGrid.Save(context.PathOf("colormaps.png"),
            new[] { Colormap.Viridis.Apply(Normalization.MinMax.Apply(ramp)), Colormap.Diverging.Apply(Normalization.Symmetric.Apply(ramp)), Colormap.Grey.Apply(Normalization.MinMax.Apply(ramp)) },
            new[] { "viridis (sequential): magnitudes", "diverging blue–white–red, symmetric: signed maps (white = 0)", "grey" },
            new GridOptions(Columns: 1));
        section.AddFigure(context.Figure("colormaps.png", "The colormaps every picture uses."));
        Report(context, "done", 1);
    }

    /// <summary>A simple drawn scene: a red disc, a blue bar, a green triangle; the corrupted one moves the disc and adds noise.</summary>
    private static Tensor Scene(int size, bool corrupted)
    {
        var s = size / 64f;
        var image = Raster.Draw(size, size, canvas =>
        {
            using var paint = new SKPaint { IsAntialias = true };
            paint.Color = new SKColor(220, 40, 40);
            canvas.DrawCircle(corrupted ? 44 * s : 20 * s, 20 * s, 11 * s, paint);
            paint.Color = new SKColor(40, 70, 200);
            canvas.DrawRect(8 * s, 40 * s, 48 * s, 8 * s, paint);
            paint.Color = new SKColor(30, 160, 60);
            using var path = new SKPath();
            path.MoveTo(40 * s, 10 * s); path.LineTo(58 * s, 34 * s); path.LineTo(34 * s, 34 * s); path.Close();
            canvas.DrawPath(path, paint);
        });
        if (!corrupted) return image;
        using var g = new Generator(7);
        return (image + randn(image.shape, generator: g) * 0.15f).clamp(0, 1);
    }
}
