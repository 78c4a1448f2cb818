using System.Diagnostics;
using Interpretability.Imaging;
using Interpretability.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Studies;

/// <summary>Options of <see cref="ModelsStudy"/>.</summary>
/// <param name="Train">Also retrain ShapesNet from scratch with the shipped recipe and write <c>shapesnet.weights</c>.</param>
public sealed record ModelsStudyOptions(bool Train = false);

/// <summary>
/// The model zoo: every model with its layers, shapes, parameter count and accuracy (re-measured, not quoted), the
/// procedural dataset's sample grid and ShapesNet's confusion matrix; optionally a retraining run from scratch.
/// </summary>
public sealed class ModelsStudy : Study
{
    private readonly ModelsStudyOptions options;

    /// <summary>Creates the study.</summary>
    public ModelsStudy(ModelsStudyOptions? options = null) => this.options = options ?? new ModelsStudyOptions();

    /// <inheritdoc />
    public override string Name => "models";

    /// <inheritdoc />
    public override string Title => "Model zoo and the procedural shapes dataset";

    /// <inheritdoc />
    public override void Run(StudyContext context, ReportSection section, Metrics metrics)
    {
        Report(context, "loading the zoo", 0.05);
        section.Heading("The zoo");
        section.Paragraph("Models shipped inside the library (embedded weights; no download, no training at run time). " +
                          "ShapesNet is the network the attribution, feature-visualisation and neuron studies look into.");
        var rows = new List<IReadOnlyList<string>>();
        var entries = new List<Metrics>();
        foreach (var entry in ModelZoo.Entries)
        {
            var clock = Stopwatch.StartNew();
            using var model = entry.Create();
            var loadMs = clock.Elapsed.TotalMilliseconds;
            var parameters = model.parameters().Sum(p => p.numel());
            rows.Add(new[] { "zoo:" + entry.Name, entry.Description, $"[{string.Join(", ", entry.InputShape)}]", parameters.ToString("N0"),
                entry.Accuracy is { } a ? a.ToString("P1") : "—", $"{loadMs:F0} ms" });
            entries.Add(new Metrics().Set("name", entry.Name).Set("parameters", parameters).Set("load_ms", loadMs));
        }
        section.AddTable(new Table("The zoo (load time measured now, including reading the embedded weights).",
            new[] { "model", "description", "input", "parameters", "accuracy", "load" }, rows));
        metrics.Set("models", entries);

        // ShapesNet: load time, layers and shapes, accuracy re-measured on the test split.
        section.Heading("ShapesNet: layers, receptive fields and accuracy");
        Report(context, "measuring ShapesNet", 0.2);
        var loadClock = Stopwatch.StartNew();
        using var net = ModelZoo.ShapesNet();
        metrics.Set("shapesnet_load_ms", loadClock.Elapsed.TotalMilliseconds);
        net.to(context.Device);
        var layerRows = LayerShapes(net, context.Device);
        section.AddTable(new Table("ShapesNet's layers: output shape for a 64×64 image, parameters and receptive field (pixels, and the stride between neighbouring units).",
            new[] { "layer", "output", "parameters", "receptive field" }, layerRows));
        var testCount = context.Quick ? 220 : 1000;
        using var test = ShapesDataset.Test(testCount);
        var (accuracy, confusion) = Evaluate(net, test, context.Device);
        metrics.Set("shapesnet_test_accuracy", accuracy);
        metrics.Set("shapesnet_test_images", testCount);
        metrics.Set("classes", ShapesDataset.ClassNames);
        section.Paragraph($"ShapesNet's accuracy on the test split ({testCount} images, seed {ShapesDataset.TestSeed}): {accuracy:P1}; " +
                          $"the shipped weights were trained on {ShapesNetWeightsInfo.TrainCount} images for {ShapesNetWeightsInfo.Epochs} epochs " +
                          $"({ShapesNetWeightsInfo.TestAccuracy:P1} on 1000 test images then).");

        Report(context, "drawing samples", 0.4);
        section.Heading("Dataset samples and the confusion matrix");
        using (var samples = ShapesDataset.Generate(44, context.Seed + 7))
        {
            var tiles = Enumerable.Range(0, samples.Count).Select(i => samples.Images[i]).ToList();
            ImageGrid.Save(context.PathOf("dataset_samples.png"), tiles, samples.Geometry.Select(g => (string?)g.ClassName).ToList(),
                new GridOptions(Columns: 11, TileSize: 96, Title: "ShapesDataset: 11 classes, random position, scale, rotation, stroke, colours, textured background"));
        }
        var names = ShapesDataset.ClassNames;
        var confusionPng = MatrixChart.Render(confusion, names, names,
            new ChartOptions(Title: "ShapesNet confusion on the test split (rows: true class; share of the row)", XLabel: "predicted", YLabel: "true", Width: 640, Height: 560),
            "share of true class", range: (0, 1));
        section.AddFigureRow(new[]
        {
            context.Figure("dataset_samples.png", "Samples of the procedural dataset, labelled with the class drawn (every image also carries its geometry: centre, scale, rotation, stroke)."),
            context.SavePng("confusion.png", confusionPng, "Confusion matrix of the shipped ShapesNet on the test split."),
        });

        // The synthetic stimuli of the neuron studies: curves by orientation × radius, lines, angles, circles.
        section.Heading("Synthetic stimuli");
        Report(context, "drawing stimuli", 0.45);
        using (var scope = NewDisposeScope())
        {
            var orientations = Stimuli.Orientations(8);
            var radii = new double[] { 4, 8, 16 };
            var curves = Stimuli.Curves(Stimuli.CurveGrid(orientations, radii));
            var lines = Stimuli.Lines(Stimuli.Orientations(8, halfTurn: true).Select(o => new LineSpec(o, 24)).ToList());
            var angles = Stimuli.Angles(new[] { 30.0, 60, 90, 120 }.SelectMany(a => new[] { 0.0, Math.PI }.Select(o => new AngleSpec(o, a * Math.PI / 180, 14))).ToList());
            var circles = Stimuli.Circles(new[] { 3.0, 5, 8, 11, 14, 18, 22, 26 }.Select(r => new CircleSpec(r)).ToList());
            var all = cat(new[] { curves, lines, angles, circles }, 0);
            var titles = orientations.SelectMany(o => radii.Select(r => (string?)$"{o * 180 / Math.PI:F0}° r{r}"))
                .Concat(Stimuli.Orientations(8, halfTurn: true).Select(o => (string?)$"line {o * 180 / Math.PI:F0}°"))
                .Concat(new[] { 30, 60, 90, 120 }.SelectMany(a => new[] { 0, 180 }.Select(o => (string?)$"angle {a}° at {o}°")))
                .Concat(new[] { 3, 5, 8, 11, 14, 18, 22, 26 }.Select(r => (string?)$"circle r{r}")).ToList();
            Stimuli.SaveSheet(context.PathOf("stimuli.png"), all, titles, columns: 12,
                title: "Synthetic stimuli (Imaging.Stimuli): curves by orientation × radius, lines, angles, circles");
        }
        section.AddFigure(context.Figure("stimuli.png", "The synthetic stimuli the neuron studies probe units with, drawn analytically and anti-aliased; a curve's orientation is the direction from its midpoint to its circle's centre."));

        if (options.Train)
        {
            Report(context, "retraining ShapesNet from scratch", 0.5);
            section.Heading("Retraining ShapesNet from scratch");
            var recipe = context.Quick ? new ShapesNetTrainingOptions(TrainCount: 1100, TestCount: 220, Epochs: 1) : new ShapesNetTrainingOptions();
            // Where the CPU convolution check turned oneDNN off, keep it for training if ShapesNet's own layers verify at
            // the training batch's shape (several times faster than libtorch's own convolution).
            using var layout = new ShapesNet(recipe.Seed, ShapesDataset.ClassNames.Count);
            using var batch = ShapesDataset.Generate(recipe.BatchSize, ShapesDataset.TrainSeed);
            using var oneDnn = context.Session.UseOneDnnWhereVerified(layout, batch.Images);
            var result = ShapesNetTrainer.Train(recipe, new Progress<ShapesNetEpoch>(e =>
                Report(context, $"epoch {e.Epoch}/{recipe.Epochs}: loss {e.Loss:F3}, test accuracy {e.TestAccuracy:P1}", 0.5 + 0.5 * e.Epoch / recipe.Epochs)), context.Cancellation);
            using var trained = result.Model;
            var weights = context.PathOf("shapesnet.weights");
            var temp = weights + ".tmp";
            trained.save(temp);
            File.Move(temp, weights, overwrite: true);
            metrics.Set("train_seconds", result.Elapsed.TotalSeconds);
            metrics.Set("train_test_accuracy", result.TestAccuracy);
            metrics.Set("train_threads", torch.get_num_threads());
            var curve = Charts.Line(new[]
            {
                new Series("test accuracy", result.Epochs.Select(e => (double)e.Epoch).ToList(), result.Epochs.Select(e => e.TestAccuracy).ToList()),
            }, new ChartOptions(Title: $"Retraining from scratch: {result.Elapsed.TotalSeconds:F0} s on {torch.get_num_threads()} threads", XLabel: "epoch", YLabel: "test accuracy"),
                new[] { new ReferenceLine(0.9, false, "goal 90%") });
            section.AddFigure(context.SavePng("training_curve.png", curve, $"ShapesNet retrained from scratch with the shipped recipe: {result.TestAccuracy:P1} test accuracy in {result.Elapsed.TotalSeconds:F0} s (weights in shapesnet.weights)."));
        }
        Report(context, "done", 1);
    }

    private static List<IReadOnlyList<string>> LayerShapes(ShapesNet net, Device device)
    {
        var rows = new List<IReadOnlyList<string>>();
        var shapes = new Dictionary<string, long[]>();
        var handles = new List<Action>();
        foreach (var (name, module) in net.named_children())
            if (module is nn.Module<Tensor, Tensor> m)
                {
                var remover = m.register_forward_hook((_, _, output) => { shapes[name] = output.shape; return output; });
                handles.Add(remover.remove);
            }
        try
        {
            using var noGrad = no_grad();
            using var x = zeros(1, 3, ShapesDataset.ImageSize, ShapesDataset.ImageSize, device: device);
            using var y = net.call(x);
            shapes["(output)"] = y.shape;
        }
        finally
        {
            foreach (var remove in handles) remove();
        }
        foreach (var (name, module) in net.named_children())
        {
            var rf = ShapesNet.ReceptiveFields.TryGetValue(name, out var f) ? $"{f.Size} (stride {f.Jump})" : name is "gap" or "fc" ? "whole image" : "—";
            rows.Add(new[] { name, shapes.TryGetValue(name, out var s) ? $"[{string.Join(", ", s)}]" : "—", module.parameters().Sum(p => p.numel()).ToString("N0"), rf });
        }
        return rows;
    }

    private static (double Accuracy, double[,] Confusion) Evaluate(ShapesNet net, ShapesSplit test, Device device)
    {
        var k = ShapesDataset.ClassNames.Count;
        var counts = new double[k, k];
        using (no_grad())
        {
            for (long start = 0; start < test.Count; start += 250)
            {
                using var scope = NewDisposeScope();
                var end = Math.Min(test.Count, start + 250);
                var predicted = net.call(test.Images[TensorIndex.Slice(start, end)].to(device)).argmax(1).cpu().data<long>().ToArray();
                var truth = test.Labels[TensorIndex.Slice(start, end)].data<long>().ToArray();
                for (int i = 0; i < predicted.Length; i++) counts[truth[i], predicted[i]]++;
            }
        }
        double correct = 0;
        for (int i = 0; i < k; i++) correct += counts[i, i];
        for (int i = 0; i < k; i++)
        {
            double row = 0;
            for (int j = 0; j < k; j++) row += counts[i, j];
            for (int j = 0; j < k; j++) counts[i, j] = row > 0 ? counts[i, j] / row : 0;
        }
        return (correct / test.Count, counts);
    }
}
