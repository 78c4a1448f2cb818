using Interpretability.FeatureVisualization;
using Interpretability.Imaging;
using Interpretability.Models;
using Interpretability.Probing;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Studies;

/// <summary>Options of <see cref="FeatureVisualizationStudy"/> (the <c>interp featviz</c> command).</summary>
/// <param name="Model"><c>zoo:shapesnet</c> (default) or another model spec (see <see cref="StudyModel.Open"/>).</param>
/// <param name="Layers">Layer paths to visualise; null = the model's last three convolutions after their activation (for
/// ShapesNet the report's <c>relu2, relu3, relu4</c>).</param>
/// <param name="Channels">Channels per layer; null = a handful (6; quick 2) spread over the channels that respond to the
/// test set (mean at least 1% of the layer's median positive mean); an empty list = all.</param>
/// <param name="Objective"><c>channel</c> (mean over positions), <c>neuron</c> (centre position) or <c>diversity</c>
/// (channel + diversity over <see cref="DiverseTiles"/> images per channel).</param>
/// <param name="Steps">Optimisation steps; null = 512 (Lucid), quick 24.</param>
/// <param name="Parameterization"><c>fourier</c>, <c>pixel</c> or <c>cppn</c>.</param>
/// <param name="DiverseTiles">Images per channel with the diversity objective.</param>
public sealed record FeatureVisualizationStudyOptions(string Model = "zoo:shapesnet", IReadOnlyList<string>? Layers = null, IReadOnlyList<int>? Channels = null,
    string Objective = "channel", int? Steps = null, string Parameterization = "fourier", int DiverseTiles = 4)
{
    /// <summary>The objective names.</summary>
    public static IReadOnlyList<string> Objectives { get; } = new[] { "channel", "neuron", "diversity" };

    /// <summary>The parameterisation names.</summary>
    public static IReadOnlyList<string> Parameterizations { get; } = new[] { "fourier", "pixel", "cppn" };
}

/// <summary>
/// Feature visualisation (Olah, Mordvintsev &amp; Schubert 2017, "Feature Visualization", Distill, doi:10.23915/distill.00007), by
/// default of ShapesNet: per channel of the last three convolutions an image optimised
/// (Lucid's recipe: Fourier parameterisation with colour decorrelation, standard transforms, Adam 0.05, 512 steps) to
/// drive the channel, beside the test images that drive it hardest; the objective traces; the first-layer filters; and
/// the activation gain (optimised activation / mean activation over the test set) per channel.
/// </summary>
public sealed class FeatureVisualizationStudy : Study
{
    /// <summary>
    /// The layers visualised by default: the last three convolutions of the model, each after its activation (ShapesNet:
    /// relu2, relu3, relu4).
    /// </summary>
    public static IReadOnlyList<string> DefaultLayers(StudyModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.LastConvolutionActivations(3);
    }

    /// <summary>
    /// Layers whose gains make up the distribution summary (<c>activation_gain_median</c>, …): the last two convolutions,
    /// before and after their activation (ShapesNet: relu3, relu4, conv3, conv4).
    /// </summary>
    public static IReadOnlyList<string> SummaryLayers(StudyModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var convs = model.Convolutions.Skip(Math.Max(0, model.Convolutions.Count - 2)).ToList();
        return convs.Select(c => LayerSurvey.ActivationAfter(model.Layers, c).Path).Concat(convs.Select(c => c.Path)).Distinct().ToList();
    }

    /// <summary>Weight of the diversity term relative to the channel's mean test-set activation.</summary>
    public const double DiversityWeight = 0.5;

    private readonly FeatureVisualizationStudyOptions options;

    /// <summary>Creates the study.</summary>
    public FeatureVisualizationStudy(FeatureVisualizationStudyOptions? options = null)
    {
        this.options = options ?? new FeatureVisualizationStudyOptions();
        if (!FeatureVisualizationStudyOptions.Objectives.Contains(this.options.Objective))
            throw new ArgumentException($"Objective must be one of {string.Join(", ", FeatureVisualizationStudyOptions.Objectives)}; got '{this.options.Objective}'.", nameof(options));
        if (!FeatureVisualizationStudyOptions.Parameterizations.Contains(this.options.Parameterization))
            throw new ArgumentException($"Parameterization must be one of {string.Join(", ", FeatureVisualizationStudyOptions.Parameterizations)}; got '{this.options.Parameterization}'.", nameof(options));
        if (this.options.Steps is < 1) throw new ArgumentOutOfRangeException(nameof(options), this.options.Steps, "Steps must be at least 1.");
        if (this.options.DiverseTiles < 2) throw new ArgumentOutOfRangeException(nameof(options), this.options.DiverseTiles, "DiverseTiles must be at least 2.");
    }

    /// <inheritdoc />
    public override string Name => "featviz";

    /// <inheritdoc />
    public override string Title => options.Model == StudyModel.DefaultSpec ? "Feature visualisation: what each channel of ShapesNet responds to" : $"Feature visualisation: what each channel of {options.Model} responds to";

    /// <summary>The test images the dataset examples and the gain's denominator come from: <c>[N, 3, 64, 64]</c> in [0, 1].</summary>
    public static Tensor TestImages(int count)
    {
        using var split = ShapesDataset.Test(count);
        return split.Images.detach().clone();
    }

    /// <summary>Parses <c>fourier|pixel|cppn</c>.</summary>
    public static ParameterizationKind ParseParameterization(string name) => name switch
    {
        "fourier" => ParameterizationKind.Fourier,
        "pixel" => ParameterizationKind.Pixel,
        "cppn" => ParameterizationKind.Cppn,
        _ => throw new ArgumentException($"Unknown parameterisation '{name}'; use fourier, pixel or cppn.", nameof(name)),
    };

    /// <inheritdoc />
    public override void Run(StudyContext context, ReportSection section, Metrics metrics)
    {
        RunStudy(context, section, metrics);
    }

    private void RunStudy(StudyContext context, ReportSection section, Metrics metrics)
    {
        bool quick = context.Quick;
        int steps = options.Steps ?? (quick ? 24 : 512);
        var kind = ParseParameterization(options.Parameterization);
        double lr = kind == ParameterizationKind.Cppn ? 0.002 : 0.05;
        int testCount = quick ? 200 : 1000;
        Report(context, "loading the model and the test set", 0.01);
        section.Cite("olah2017", "kingma2014");
        using var opened = StudyModel.Open(options.Model, context.Device);
        var model = opened.Module;
        if (opened.InputShape[0] != 3)
            throw new ArgumentException($"model '{options.Model}' takes {opened.InputShape[0]}-channel images; feature visualisation optimises RGB images [3, H, W].", nameof(options));
        var layers = options.Layers ?? DefaultLayers(opened);
        foreach (var l in layers) opened.Layer(l);
        var summaryLayers = SummaryLayers(opened);
        int size = (int)opened.InputShape[1];
        using var test = opened.Adapt(TestImages(testCount)).to(context.Device);
        var viz = new FeatureVisualizer(model);

        metrics.Set("model", options.Model);
        metrics.Set("steps", steps);
        metrics.Set("learning_rate", lr);
        metrics.Set("parameterization", options.Parameterization);
        metrics.Set("objective", options.Objective);
        metrics.Set("image_size", size);
        metrics.Set("test_images", testCount);
        metrics.Set("layers", layers);
        section.Paragraph($"Each picture is optimised from random noise to drive one channel: Adam (learning rate {lr}) for {steps} steps on a {options.Parameterization} " +
                          "parameterisation" + (kind == ParameterizationKind.Fourier ? " (1/f-scaled spectrum, Lucid's decorrelated colours, sigmoid)" : "") +
                          ", with Lucid's transforms before every step (pad 12, jitter 8, scale 0.9–1.1, rotate ±10°, jitter 4). " +
                          $"Objective: {ObjectiveText()}. Beside each picture: the {(quick ? 4 : 9)} of {testCount} test images with the largest activation of the channel " +
                          "(its maximum over positions). The gain is the channel's mean activation on the optimised picture over its mean activation on the test set.");

        // ---- First-layer filters ----------------------------------------------------------------------------------------
        var firstConv = model.named_modules().Select(m => m.module).OfType<TorchSharp.Modules.Conv2d>().FirstOrDefault();
        if (firstConv is not null && firstConv.weight!.shape[1] == 3)
        {
            using var filters = FilterVisualization.Render(firstConv.weight!).cpu();
            section.Heading("First-layer filters");
            var tiles = Enumerable.Range(0, (int)filters.shape[0]).Select(i => filters[i]).ToList();
            SaveGrid(context.PathOf("filters.png"), tiles, tiles.Select((_, i) => (string?)$"{i}").ToList(), new GridOptions(Columns: 8, TileSize: 48, Title: "First-layer filters (grey = 0)"));
            section.AddFigure(context.Figure("filters.png", "The first convolution's filters as RGB pictures (0.5 + w / 2 max|w| per filter): grey is zero, the colour shows which input colour a filter weighs."));
        }

        var gainsByLayer = new Metrics();
        var channelsByLayer = new Metrics();
        var summaryGains = new List<double>();
        int summaryDead = 0;
        var perLayer = new List<Metrics>();
        for (int li = 0; li < layers.Count; li++)
        {
            var layer = layers[li];
            double f0 = 0.05 + 0.9 * li / layers.Count, f1 = 0.05 + 0.9 * (li + 1) / layers.Count;
            Report(context, $"{layer}: dataset examples", f0);
            section.Heading($"Layer {layer}: visualisations and dataset examples");
            int channelCount = ChannelCount(model, layer, test);
            // The scans over the test set rank every image on its own, so they run in whatever batches the context's runner
            // picks (on CUDA: halved on out-of-memory and remembered per key) with the same result.
            var scanKey = $"featviz-dataset-examples:{layer}:{string.Join('x', test.shape)}";
            double[] allMeans;
            using var scan = context.Batches.Run(scanKey, DatasetScan.DefaultBatchSize, b => DatasetScan.Run(model, layer, test, b));
            allMeans = scan.MeanActivation.data<double>().ToArray();
            int layerDead = allMeans.Count(m => m <= 0);
            var channels = PickChannels(channelCount, quick, allMeans);
            using var examples = scan.Top(channels, k: quick ? 4 : 9);
            var means = channels.Select(c => allMeans[c]).ToArray();

            int tilesPer = options.Objective == "diversity" ? (quick ? 2 : options.DiverseTiles) : 1;
            var images = new List<Tensor>();
            var traces = new List<IReadOnlyList<double>>();
            var layerWatch = System.Diagnostics.Stopwatch.StartNew();
            // The optimisation is not routed through context.Batches: splitting its batch would change the pictures. The
            // diversity objective couples the images of a batch, and even for independent channel objectives the initial
            // spectra and the transforms' random draws come from one generator stream over the whole batch, so a smaller
            // batch would give each image other random values. All requested channels are optimised as one batch.
            var groups = options.Objective == "diversity" ? channels.Select(c => new[] { c }).ToList() : new List<int[]> { channels.ToArray() };
            for (int g = 0; g < groups.Count; g++)
            {
                var group = groups[g];
                var objective = BuildObjective(layer, group, tilesPer, means[channels.ToList().IndexOf(group[0])]);
                // the first optimisation of the first layer keeps snapshots, to show how the pictures form
                var thresholds = li == 0 && g == 0 ? new[] { steps / 32, steps / 8, steps / 2, steps }.Where(t => t >= 1).Distinct().ToArray() : null;
                var fvOptions = new FeatureVisualizationOptions(Steps: steps, LearningRate: lr, Height: size, Width: size, Batch: group.Length * tilesPer,
                    Parameterization: kind, Seed: context.Seed + 1000 * li + g, Thresholds: thresholds);
                var lastReport = DateTime.UtcNow;
                var progress = new SynchronousProgress<FeatureVisualizationProgress>(p =>
                {
                    if ((DateTime.UtcNow - lastReport).TotalSeconds < 0.5 && p.Step != p.Steps) return;
                    lastReport = DateTime.UtcNow;
                    context.Progress?.Report(new StudyProgress(Name, $"{layer}: step {p.Step}/{p.Steps}, objective {p.Objective:0.000}", f0 + (f1 - f0) * (g + (double)p.Step / p.Steps) / groups.Count));
                });
                using var result = viz.Visualize(objective, fvOptions, progress, context.Cancellation);
                images.Add(result.Images.detach().clone().cpu());
                traces.Add(result.Trace);
                if (thresholds is not null && result.Snapshots.Count > 1)
                {
                    int shown = (int)Math.Min(4, result.Images.shape[0]);
                    var snapTiles = new List<Tensor>();
                    for (int b = 0; b < shown; b++)
                        foreach (var snap in result.Snapshots) snapTiles.Add(snap.Images[b].cpu());
                    var cols = result.Snapshots.Select(x => $"step {x.Step}").ToArray();
                    var rowNames = Enumerable.Range(0, shown).Select(b => tilesPer > 1 ? $"{layer}:{group[0]} #{b + 1}" : $"{layer}:{group[b]}").ToArray();
                    SaveGrid(context.PathOf($"snapshots_{layer}.png"), snapTiles, snapTiles.Select(_ => (string?)null).ToList(),
                        new GridOptions(Columns: result.Snapshots.Count, TileSize: 128, RowLabels: rowNames, ColumnLabels: cols, Title: $"{layer}: pictures during optimisation"));
                    section.AddFigure(context.Figure($"snapshots_{layer}.png", $"Snapshots kept at the threshold steps {string.Join(", ", thresholds)}: structure appears early and sharpens."));
                }
            }
            var all = cat(images, 0);                                              // [channels × tilesPer, 3, H, W], channel-major
            var allOnDevice = all.to(context.Device);                              // the study's dispose scope frees it
            using var optimisedMeans = context.Batches.Run($"featviz-channel-means:{layer}:{string.Join('x', allOnDevice.shape)}", DatasetScan.DefaultBatchSize,
                b => DatasetScan.ChannelMeans(model, layer, allOnDevice, b));
            var om = optimisedMeans.cpu();
            var optimised = new double[channels.Count];
            var gains = new double[channels.Count];
            for (int i = 0; i < channels.Count; i++)
            {
                // the best of the channel's tiles (one tile unless diversity)
                optimised[i] = Enumerable.Range(0, tilesPer).Max(t => om[i * tilesPer + t, channels[i]].ToDouble());
                gains[i] = optimised[i] / Math.Max(means[i], 1e-6);
            }
            // a channel that is zero on every test image has no gain to speak of: left out of the summary, counted
            var dead = Enumerable.Range(0, channels.Count).Where(i => means[i] <= 0).ToArray();
            if (summaryLayers.Contains(layer))
            {
                summaryGains.AddRange(Enumerable.Range(0, channels.Count).Where(i => means[i] > 0).Select(i => gains[i]));
                summaryDead += dead.Length;
            }

            // ---- Figures --------------------------------------------------------------------------------------------------
            var tiles = new List<Tensor>();
            var titles = new List<string?>();
            for (int i = 0; i < channels.Count; i++)
            {
                for (int t = 0; t < tilesPer; t++) { tiles.Add(all[i * tilesPer + t]); titles.Add(means[i] <= 0 ? (t == 0 ? "dead (test-set mean ≤ 0)" : "") : $"gain {om[i * tilesPer + t, channels[i]].ToDouble() / means[i]:0.0}×"); }
                tiles.Add(DatasetExamples.Montage(examples, i, test).cpu());
                titles.Add($"top {examples.Indices.shape[1]} test images (max {examples.Values[i, 0].ToDouble():0.00})");
            }
            // up to 8 channels: one row each, labelled; more: several channels per row, the channel in each caption
            int groupsPerRow = channels.Count > 8 ? Math.Max(1, 8 / (tilesPer + 1)) : 1;
            if (groupsPerRow > 1)
                for (int i = 0; i < channels.Count; i++) titles[i * (tilesPer + 1)] = $"{layer}:{channels[i]} " + titles[i * (tilesPer + 1)];
            var columnLabels = Enumerable.Repeat(Enumerable.Range(0, tilesPer).Select(t => tilesPer == 1 ? "optimised" : $"optimised {t + 1}").Append("dataset examples"), groupsPerRow)
                .SelectMany(x => x).ToArray();
            var rowLabels = groupsPerRow == 1 ? channels.Select(c => $"{layer}:{c}").ToArray() : null;
            SaveGrid(context.PathOf($"grid_{layer}.png"), tiles, titles, new GridOptions(Columns: (tilesPer + 1) * groupsPerRow, TileSize: groupsPerRow == 1 ? 160 : 112,
                RowLabels: rowLabels, ColumnLabels: columnLabels, Title: $"{layer}: feature visualisations and dataset examples"));
            section.AddFigure(context.Figure($"grid_{layer}.png",
                $"{layer}, channels {string.Join(", ", channels)}: optimised picture{(tilesPer > 1 ? "s (a diverse batch)" : "")} (left; its gain under it) and the test images that drive the channel hardest (right)."));

            var series = new List<Series>();
            if (options.Objective == "diversity")
                for (int i = 0; i < channels.Count; i++) series.Add(new Series($"{layer}:{channels[i]}", traces[i].Select((_, s) => (double)(s + 1)).ToList(), traces[i]));
            else
                series.Add(new Series($"{layer}: sum over {channels.Count} channels", traces[0].Select((_, s) => (double)(s + 1)).ToList(), traces[0]));
            var chart = Charts.Line(series, new ChartOptions($"{layer}: objective during optimisation (transformed images)", "step", "objective", Width: 700, Height: 400));
            section.AddFigure(context.SavePng($"trace_{layer}.png", chart, $"The objective ({ObjectiveText()}) at every step on the randomly transformed pictures; it rises and flattens as the pictures settle."));

            var lm = new Metrics();
            lm.Set("channels", channels);
            lm.Set("activation_gain", gains.Select(g => Math.Round(g, 4)));
            lm.Set("optimised_activation", optimised.Select(v => Math.Round(v, 5)));
            lm.Set("dataset_mean_activation", means.Select(v => Math.Round(v, 6)));
            lm.Set("dead_channels", dead.Select(i => channels[i]));
            lm.Set("layer_dead_channel_count", layerDead);
            lm.Set("layer_channel_count", channelCount);
            lm.Set("seconds", Math.Round(layerWatch.Elapsed.TotalSeconds, 2));
            perLayer.Add(lm);
            gainsByLayer.Set(layer, gains.Select(g => Math.Round(g, 4)));
            channelsByLayer.Set(layer, channels);
        }
        metrics.Set("channels", channelsByLayer);
        metrics.Set("activation_gain", gainsByLayer);
        for (int i = 0; i < layers.Count; i++) metrics.Set($"layer_{layers[i]}", perLayer[i]);
        if (summaryGains.Count == 0 && summaryDead > 0) metrics.Set("summary_dead_channels_excluded", summaryDead);
        if (summaryGains.Count > 0)
        {
            var sorted = summaryGains.OrderBy(g => g).ToArray();
            section.Heading("Activation gain across layers");
            double median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : 0.5 * (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]);
            double fraction = summaryGains.Count(g => g >= 10) / (double)summaryGains.Count;
            metrics.Set("activation_gain_median", Math.Round(median, 4));
            metrics.Set("fraction_channels_gain_at_least_10", Math.Round(fraction, 4));
            metrics.Set("summary_channel_count", summaryGains.Count);
            metrics.Set("summary_dead_channels_excluded", summaryDead);
            var ranks = sorted.Select((_, r) => (double)(r + 1)).ToList();
            var hist = Charts.Line(new[] { new Series($"{sorted.Length} conv3/conv4 channels, sorted (gains below 0.1 drawn at 0.1)", ranks, sorted.Select(g => Math.Max(g, 0.1)).ToList(), Markers: true) },
                new ChartOptions("Activation gain of conv3/conv4 channels (optimised ÷ test-set mean)", "channel rank (by gain)", "activation gain", LogY: true, Width: 700, Height: 400, LegendCorner: "lower right"),
                new[] { new ReferenceLine(10, false, "10×", "#cc3333") });
            section.AddFigure(context.SavePng("gains.png", hist,
                $"Activation gain of every visualised conv3/conv4 channel (log10; 1 means 10× the test-set mean): median {median:0.0}×, {fraction:P0} of channels at 10× or more."));
        }
        Report(context, "done", 1);
    }

    private string ObjectiveText() => options.Objective switch
    {
        "neuron" => "the channel's activation at the centre position",
        "diversity" => $"the sum over a batch of {options.DiverseTiles} pictures of the channel's mean activation over positions + {DiversityWeight} × (the channel's test-set mean) × Lucid's diversity of the batch",
        _ => "the channel's mean activation over positions",
    };

    private Objective BuildObjective(string layer, int[] channels, int tilesPer, double datasetMean)
    {
        if (options.Objective == "diversity")
        {
            // every image maximises the channel in full (a sum, not the batch mean), the diversity term pushes them apart
            var each = Enumerable.Range(0, tilesPer).Select(t => Objective.Channel(layer, channels[0], batch: t)).Aggregate((a, b) => a + b);
            return each + DiversityWeight * Math.Max(datasetMean, 1e-3) * Objective.Diversity(layer);
        }
        Objective? sum = null;
        for (int i = 0; i < channels.Length; i++)
        {
            var o = options.Objective == "neuron" ? Objective.Neuron(layer, channels[i], batch: i) : Objective.Channel(layer, channels[i], batch: i);
            sum = sum is null ? o : sum + o;
        }
        return sum!;
    }

    private List<int> PickChannels(int count, bool quick, double[] means)
    {
        if (options.Channels is { Count: 0 }) return Enumerable.Range(0, count).ToList();
        if (options.Channels is not null)
        {
            foreach (var c in options.Channels)
                if (c < 0 || c >= count) throw new ArgumentOutOfRangeException(nameof(options), c, $"Channel {c} does not exist; the layer has {count} channels (0 … {count - 1}).");
            return options.Channels.Distinct().ToList();
        }
        // spread over the channels that respond to the test set: mean at least 1% of the median positive mean (every
        // channel if none does); near-silent channels make grey tiles
        var positive = means.Where(m => m > 0).OrderBy(m => m).ToArray();
        double floor = positive.Length == 0 ? 0 : 0.01 * positive[positive.Length / 2];
        var alive = Enumerable.Range(0, count).Where(c => means[c] > 0 && means[c] >= floor).ToList();
        if (alive.Count == 0) alive = Enumerable.Range(0, count).ToList();
        int n = Math.Min(alive.Count, quick ? 2 : 6);
        return Enumerable.Range(0, n).Select(i => alive[(int)((long)i * alive.Count / n)]).ToList();
    }

    private static int ChannelCount(nn.Module<Tensor, Tensor> model, string layer, Tensor test)
    {
        using var capture = ActivationRecorder.Capture(model, test.narrow(0, 0, 1), new[] { layer });
        var a = capture[layer];
        if (a.dim() < 2) throw new ArgumentException($"Layer '{layer}' gives [{string.Join(", ", a.shape)}]; feature visualisation needs [B, C, ...].");
        return (int)a.shape[1];
    }

    private static void SaveGrid(string path, IReadOnlyList<Tensor> images, IReadOnlyList<string?> titles, GridOptions options)
    {
        var bitmaps = new List<SKBitmap>();
        try
        {
            foreach (var image in images) bitmaps.Add(Png.ToBitmap(image.clamp(0, 1), new PngOptions(Normalization: Normalization.Unit)));
            using var grid = ImageGrid.Compose(bitmaps, titles, options);
            AtomicFile.WriteAllBytes(path, Png.Encode(grid));
        }
        finally
        {
            foreach (var b in bitmaps) b.Dispose();
        }
    }
}
