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
        pictures.Add(context.Figure("input.png", "The two inputs of this section: a spiral of the test split (clean) and an unfilled circle (corrupted, another class). The activations below are the clean input's; the patching experiment copies activations of the clean run into the corrupted run."));
        // Channels that never fire: a ReLU channel whose output is zero on every one of the test images.
        string[] relus = { "relu1", "relu2", "relu3", "relu4" };
        using var scanImages = ShapesDataset.Test(500);
        using var reluCapture = ActivationRecorder.Capture(model, scanImages.Images.to(context.Device), relus);
        var silent = relus.ToDictionary(r => r, r => reluCapture[r].amax(new long[] { 0, 2, 3 }).le(0).cpu().data<bool>().ToArray());
        using var cleanRelus = ActivationRecorder.Capture(model, clean, relus);
        foreach (var (layer, relu) in layers.Zip(relus))
        {
            var act = capture[layer][0].cpu();                            // [C, h, w]
            // one colour scale for the whole layer (a per-map scale would make a silent channel look as busy as the strongest)
            double lo = act.min().ToDouble(), hi = Math.Max(act.max().ToDouble(), lo + 1e-6);
            var tiles = Enumerable.Range(0, (int)act.shape[0]).Select(c => act[c]).ToList();
            var offHere = cleanRelus[relu][0].cpu().amax(new long[] { 1, 2 }).le(0).data<bool>().ToArray();
            ImageGrid.Save(context.PathOf($"{layer}_activations.png"), tiles,
                tiles.Select((_, c) => (string?)(silent[relu][c] ? $"{c} never fires" : offHere[c] ? $"{c} off here" : $"ch {c}")).ToList(),
                new GridOptions(Columns: 8, TileSize: 72, Title: $"{layer} output [{string.Join("×", capture[layer].shape)}], one scale {lo:0.0} … {hi:0.0}"),
                new PngOptions(Normalization.Fixed(lo, hi), Colormap.Viridis));
            int never = silent[relu].Count(x => x);
            pictures.Add(context.Figure($"{layer}_activations.png",
                $"Every channel of {layer} (before its ReLU) on the clean input, on one viridis scale for the layer ({lo:0.00} to {hi:0.00}). " +
                $"{never} of {silent[relu].Length} channels never fire after the ReLU on {scanImages.Images.shape[0]} test images (\"never fires\"); \"off here\": not on this input."));
            metrics.Set($"{relu}_channels_never_firing", never);
        }
        section.AddFigureRow(pictures);
        section.Paragraph($"Silent channels: {string.Join(", ", relus.Select(r => $"{silent[r].Count(x => x)} of {silent[r].Length} in {r}"))} are zero after the ReLU on every one of " +
                          $"{scanImages.Images.shape[0]} test images — capacity the trained network does not use. Ablating or patching them changes nothing.");
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
        // A whole layer restores the clean logit by construction (the network is a chain); the check that patching is wired right.
        metrics.Set("patching_recovery", sites.Zip(results, (s, r) => new KeyValuePair<string, double>(s, double.IsFinite(r.Recovery) ? r.Recovery : 0)));
        var wholeLayer = results.Select(r => double.IsFinite(r.Recovery) ? r.Recovery : 0).ToArray();
        // Which channels and which positions of relu3 carry the difference: patch one at a time (one batched forward
        // pass each: the corrupted input repeated, every copy with another channel or position taken from the clean run).
        using var cleanRelu3 = ActivationRecorder.Capture(model, clean, new[] { "relu3" });
        var cleanAct = cleanRelu3["relu3"];                              // [1, C, h, w]
        long c3 = cleanAct.shape[1], h3 = cleanAct.shape[2], w3 = cleanAct.shape[3];
        double cleanMetric = results[0].Clean, corruptedMetric = results[0].Corrupted;
        double[] PatchEach(Tensor masks)                                 // masks [n, C or 1, h or 1, w or 1] bool
        {
            using var scope = NewDisposeScope();
            long n = masks.shape[0];
            using var replace = OutputReplacement.Apply(model, "relu3", o => where(masks, cleanAct.expand_as(o), o));
            using var _ = no_grad();
            var patched = model.call(corrupted.expand(n, -1, -1, -1))[TensorIndex.Colon, top].cpu().to_type(ScalarType.Float64).data<double>().ToArray();
            return patched.Select(v => (v - corruptedMetric) / (cleanMetric - corruptedMetric)).ToArray();
        }
        var channelRecovery = PatchEach(eye(c3, dtype: ScalarType.Bool, device: context.Device).reshape(c3, c3, 1, 1));
        var positionRecovery = PatchEach(eye(h3 * w3, dtype: ScalarType.Bool, device: context.Device).reshape(h3 * w3, 1, h3, w3));
        var grid = new double[h3, w3];
        for (int i = 0; i < h3 * w3; i++) grid[i / w3, i % w3] = positionRecovery[i];
        var order = Enumerable.Range(0, (int)c3).OrderByDescending(c => Math.Abs(channelRecovery[c])).Take(16).ToArray();
        section.AddFigureRow(new[]
        {
            context.SavePng("patching.png", Charts.Bars(sites, wholeLayer,
                new ChartOptions($"Patching a whole layer, metric: logit {top} ({ShapesDataset.ClassNames[(int)top]})", "patched layer", "recovered share of the clean − corrupted gap", Width: 560, Height: 400)),
                "Patching a whole layer's output restores the clean logit (share 1) by construction: everything downstream depends only on that layer. A check that patching works, not a finding."),
            context.SavePng("patching_channels.png", Charts.Bars(order.Select(c => c.ToString()).ToList(), order.Select(c => channelRecovery[c]).ToList(),
                new ChartOptions("Patching one relu3 channel: the 16 largest", "relu3 channel", "recovered share", Width: 560, Height: 400)),
                $"One relu3 channel at a time from the clean run into the corrupted run: the 16 channels with the largest effect. The largest restores {channelRecovery.Max():P0} of the gap; the 64 shares sum to {channelRecovery.Sum():0.00} (1 would mean the channels act independently)."),
            context.SavePng("patching_positions.png", Charts.Heatmap(grid, new ChartOptions($"Patching one relu3 position ({h3}×{w3}, all channels)", "x (relu3 cell, 4 px each)", "y", Width: 560, Height: 480),
                "recovered share", diverging: true),
                $"One position of relu3 (all its channels; each cell sees a 20-pixel patch of the input) at a time: where in the picture the difference is carried. Largest share {positionRecovery.Max():P0}; the shares sum to {positionRecovery.Sum():0.00}."),
        });
        metrics.Set("patching_relu3_channel_recovery_max", Math.Round(channelRecovery.Max(), 4));
        metrics.Set("patching_relu3_channel_recovery_sum", Math.Round(channelRecovery.Sum(), 4));
        metrics.Set("patching_relu3_position_recovery_max", Math.Round(positionRecovery.Max(), 4));
        metrics.Set("patching_relu3_position_recovery_sum", Math.Round(positionRecovery.Sum(), 4));
        metrics.Set("patching_relu3_top_channels", order.Take(5));

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
