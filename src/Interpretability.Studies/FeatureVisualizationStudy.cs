using MathNet.Numerics.Statistics;
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
/// <param name="Channels">Channels per layer; null = every channel that fires on the test set (quick mode and the diversity
/// objective: 2 and 6 spread over them); an empty list = all channels.</param>
/// <param name="Objective"><c>channel</c> (mean over positions), <c>neuron</c> (centre position) or <c>diversity</c>
/// (channel + diversity over <see cref="DiverseTiles"/> images per channel).</param>
/// <param name="Steps">Optimisation steps; null = 256 (half of Lucid's 512), quick 24.</param>
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
        // 256 steps, half of Lucid's 512: measured on six relu3 channels of ShapesNet, 256 steps reach 90–95 % of the
        // 512-step activation with fewer saturated pixels, and the study optimises every channel of three layers.
        int steps = options.Steps ?? (quick ? 24 : 256);
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
        var allGains = new List<(string Layer, int Channel, double Gain, string Outcome)>();
        var saturations = new List<double>();
        int summarySilent = 0;
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
            using var scan = context.Batches.Run(scanKey, DatasetScan.DefaultBatchSize, b => DatasetScan.Run(model, layer, test, b));
            var allMeans = scan.MeanActivation.data<double>().ToArray();
            var allMaxes = scan.Max.amax(0).to_type(ScalarType.Float64).cpu().data<double>().ToArray();
            var channels = PickChannels(channelCount, quick, allMaxes);
            var neverFiring = Enumerable.Range(0, channelCount).Where(c => allMaxes[c] <= 0).ToList();
            using var examples = scan.Top(channels, k: quick ? 4 : 9);
            var means = channels.Select(c => allMeans[c]).ToArray();
            // a channel that is zero on every test image: no gain to speak of (its denominator is 0); shown and counted apart
            var silent = channels.Select(c => allMaxes[c] <= 0).ToArray();

            int tilesPer = options.Objective == "diversity" ? (quick ? 2 : options.DiverseTiles) : 1;
            var images = new List<Tensor>();
            var traces = new List<IReadOnlyList<double>>();
            var layerWatch = System.Diagnostics.Stopwatch.StartNew();
            // The optimisation is not routed through context.Batches: splitting its batch would change the pictures. The
            // diversity objective couples the images of a batch, and even for independent channel objectives the initial
            // spectra and the transforms' random draws come from one generator stream over the whole batch, so a smaller
            // batch would give each image other random values. All requested channels are optimised as one batch.
            // Channel objectives run in batches of ChannelsPerOptimisation: libtorch's CPU convolutions without oneDNN slow
            // down more than linearly with the batch (measured on this study's network: 4 ms per image and step at 16 images,
            // 27 ms at 64), and fixed chunks keep every picture the same on every machine.
            var groups = options.Objective == "diversity" ? channels.Select(c => new[] { c }).ToList() : channels.Chunk(ChannelsPerOptimisation).ToList();
            for (int g = 0; g < groups.Count; g++)
            {
                var group = groups[g];
                var objective = BuildObjective(layer, group, tilesPer, means[channels.ToList().IndexOf(group[0])]);
                // the first optimisation of the first layer keeps snapshots, to show how the pictures form
                var thresholds = li == 0 && g == 0 ? new[] { steps / 32, steps / 8, steps / 2, steps }.Where(t => t >= 1).Distinct().ToArray() : null;
                var fvOptions = new FeatureVisualizationOptions(Steps: steps, LearningRate: lr, Height: size, Width: size, Batch: group.Length * tilesPer,
                    Parameterization: kind, Seed: context.Seed + 1000 * li + g, Thresholds: thresholds);
                using var result = viz.Visualize(objective, fvOptions, StepProgress(context, layer, f0, f1, g, groups.Count), context.Cancellation);
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
                    section.AddFigure(context.Figure($"snapshots_{layer}.png", $"The first {shown} channels' pictures at steps {string.Join(", ", thresholds)}. A channel whose optimisation is stuck stays a grey square at every step (see the counts below)."));
                }
            }
            var all = cat(images, 0);                                              // [channels × tilesPer, 3, H, W], channel-major
            double[] OptimisedMeans(Tensor pictures, string pass)
            {
                var onDevice = pictures.to(context.Device);
                using var m = context.Batches.Run($"featviz-channel-means{pass}:{layer}:{string.Join('x', onDevice.shape)}", DatasetScan.DefaultBatchSize,
                    b => DatasetScan.ChannelMeans(model, layer, onDevice, b));
                var om = m.cpu().to_type(ScalarType.Float64);
                return Enumerable.Range(0, channels.Count)
                    .Select(i => Enumerable.Range(0, tilesPer).Max(t => om[i * tilesPer + t, channels[i]].ToDouble())).ToArray();   // the best of a channel's tiles
            }
            var optimised = OptimisedMeans(all, "");
            // Stuck: the optimisation never drove the channel above its test-set mean, although test images drive it (a ReLU
            // channel that is off on the random start and whose inputs are off too gets no gradient, even redirected).
            // Second try: start from the channel's strongest test image (contrast reduced to keep the sigmoid responsive).
            var stuck = Enumerable.Range(0, channels.Count).Where(i => !silent[i] && optimised[i] <= means[i]).ToArray();
            var restarted = new List<int>();
            if (stuck.Length > 0 && options.Objective == "channel")
            {
                Report(context, $"{layer}: {stuck.Length} stuck channels, restarting from dataset examples", f1 - 0.01);
                foreach (var chunk in stuck.Chunk(ChannelsPerOptimisation))
                {
                    var starts = stack(chunk.Select(i => test[examples.Indices[i, 0].ToInt64()].cpu()).ToArray()) * 0.8 + 0.1;
                    using var start = FourierImage.FromImage(starts.to(context.Device));
                    var objective = Objective.ChannelPerImage(layer, chunk.Select(i => channels[i]).ToArray());
                    using var again = viz.Visualize(objective, start, new FeatureVisualizationOptions(Steps: steps, LearningRate: lr, Height: size, Width: size, Batch: chunk.Length,
                        Parameterization: kind, Seed: context.Seed + 1000 * li + 500 + restarted.Count), null, context.Cancellation);
                    var second = again.Images.detach().cpu();
                    for (int k = 0; k < chunk.Length; k++) all[chunk[k]] = second[k];
                    restarted.AddRange(chunk);
                }
                optimised = OptimisedMeans(all, "-after-restart");
            }
            var gains = Enumerable.Range(0, channels.Count).Select(i => silent[i] ? double.NaN : optimised[i] / Math.Max(means[i], 1e-12)).ToArray();
            string Outcome(int i) => silent[i] ? "silent" : gains[i] < 1 ? "failed" : restarted.Contains(i) ? "restarted" : "optimised";
            var layerSaturation = Enumerable.Range(0, (int)all.shape[0]).Select(t => Saturation(all[t])).ToArray();
            saturations.AddRange(layerSaturation);
            for (int i = 0; i < channels.Count; i++) allGains.Add((layer, channels[i], gains[i], Outcome(i)));
            summaryGains.AddRange(Enumerable.Range(0, channels.Count).Where(i => !silent[i]).Select(i => gains[i]));
            summarySilent += neverFiring.Count;

            // ---- Figures --------------------------------------------------------------------------------------------------
            var tiles = new List<Tensor>();
            var titles = new List<string?>();
            for (int i = 0; i < channels.Count; i++)
            {
                for (int t = 0; t < tilesPer; t++)
                {
                    tiles.Add(all[i * tilesPer + t]);
                    titles.Add(t > 0 ? "" : Outcome(i) switch
                    {
                        "silent" => "never fires on the test set",
                        "failed" => $"FAILED: stuck ({gains[i]:0.0}×)",
                        "restarted" => $"gain {gains[i]:0}× (from a test image)",
                        _ => $"gain {gains[i]:0}×",
                    });
                }
                tiles.Add(DatasetExamples.Montage(examples, i, test).cpu());
                titles.Add($"top {examples.Indices.shape[1]} (max {examples.Values[i, 0].ToDouble():0.0})");
            }
            // up to 8 channels: one row each, labelled; more: several channels per row, the channel in each caption
            int groupsPerRow = channels.Count > 8 ? Math.Max(1, 8 / (tilesPer + 1)) : 1;
            if (groupsPerRow > 1)
                for (int i = 0; i < channels.Count; i++) titles[i * (tilesPer + 1)] = $"{channels[i]}: " + titles[i * (tilesPer + 1)];
            var columnLabels = Enumerable.Repeat(Enumerable.Range(0, tilesPer).Select(t => tilesPer == 1 ? "optimised" : $"optimised {t + 1}").Append("dataset examples"), groupsPerRow)
                .SelectMany(x => x).ToArray();
            var rowLabels = groupsPerRow == 1 ? channels.Select(c => $"{layer}:{c}").ToArray() : null;
            int failedCount = Enumerable.Range(0, channels.Count).Count(i => Outcome(i) == "failed");
            SaveGrid(context.PathOf($"grid_{layer}.png"), tiles, titles, new GridOptions(Columns: (tilesPer + 1) * groupsPerRow, TileSize: groupsPerRow == 1 ? 160 : 120,
                RowLabels: rowLabels, ColumnLabels: columnLabels, Title: $"{layer}: {channels.Count} channels, optimised pictures and dataset examples"));
            section.AddFigure(context.Figure($"grid_{layer}.png",
                $"{layer}, {(channels.Count == channelCount ? $"all {channelCount} channels" : $"channels {string.Join(", ", channels)} of {channelCount}")}: the optimised picture{(tilesPer > 1 ? "s (a diverse batch)" : "")} with its gain " +
                $"(the channel's mean activation on it ÷ its mean over the test set) and the test images that drive the channel hardest. " +
                (neverFiring.Count > 0 ? $"{neverFiring.Count} channels never fire on the {testCount} test images ({string.Join(", ", neverFiring)}){(channels.Count < channelCount ? "; they have no test-set mean to compare with and are not shown" : "")}; " : "") +
                $"{stuck.Length} optimisations were stuck (never above the test-set mean), " +
                (options.Objective == "channel" ? $"restarted from the channel's strongest test image; {failedCount} stayed stuck (marked FAILED)." : "not restarted with this objective (marked FAILED).")));

            var series = new List<Series>();
            if (options.Objective == "diversity")
                for (int i = 0; i < channels.Count; i++) series.Add(new Series($"{layer}:{channels[i]}", traces[i].Select((_, s) => (double)(s + 1)).ToList(), traces[i]));
            else
                for (int g = 0; g < Math.Min(traces.Count, 4); g++)
                    series.Add(new Series($"channels {string.Join(", ", groups[g].Take(3))}{(groups[g].Length > 3 ? ", …" : "")} (sum)", traces[g].Select((_, s) => (double)(s + 1)).ToList(), traces[g]));
            var chart = Charts.Line(series, new ChartOptions($"{layer}: objective during optimisation (transformed images)", "step", "objective (sum of mean activations)", Width: 700, Height: 400));
            section.AddFigure(context.SavePng($"trace_{layer}.png", chart, $"The objective ({ObjectiveText()}) at every step on the randomly transformed pictures, for the first {series.Count} batches of {ChannelsPerOptimisation} channels (first attempt)."));

            var lm = new Metrics();
            lm.Set("channels", channels);
            lm.Set("activation_gain", gains.Select(g => double.IsNaN(g) ? 0 : Math.Round(g, 4)));
            lm.Set("optimised_activation", optimised.Select(v => Math.Round(v, 5)));
            lm.Set("dataset_mean_activation", means.Select(v => Math.Round(v, 6)));
            lm.Set("never_firing_channels", neverFiring);
            lm.Set("stuck_channels", stuck.Select(i => channels[i]));
            lm.Set("failed_channels", channels.Where((_, i) => Outcome(i) == "failed"));
            lm.Set("saturation", layerSaturation.Select(v => Math.Round(v, 4)));
            lm.Set("saturation_median", Math.Round(Statistics.Median(layerSaturation), 4));
            lm.Set("layer_channel_count", channelCount);
            lm.Set("seconds", Math.Round(layerWatch.Elapsed.TotalSeconds, 2));
            perLayer.Add(lm);
            gainsByLayer.Set(layer, gains.Select(g => double.IsNaN(g) ? 0 : Math.Round(g, 4)));
            channelsByLayer.Set(layer, channels);
        }
        metrics.Set("channels", channelsByLayer);
        metrics.Set("activation_gain", gainsByLayer);
        for (int i = 0; i < layers.Count; i++) metrics.Set($"layer_{layers[i]}", perLayer[i]);
        metrics.Set("saturation_median", Math.Round(Statistics.Median(saturations), 4));
        metrics.Set("silent_channel_count", summarySilent);
        if (summaryGains.Count > 0)
        {
            var sorted = summaryGains.OrderBy(g => g).ToArray();
            section.Heading("Activation gain across layers");
            double median = Statistics.Median(sorted);
            int atLeast10 = summaryGains.Count(g => g >= 10), failed = allGains.Count(g => g.Outcome == "failed");
            double fraction = atLeast10 / (double)summaryGains.Count;
            metrics.Set("activation_gain_median", Math.Round(median, 4));
            metrics.Set("fraction_channels_gain_at_least_10", Math.Round(fraction, 4));
            metrics.Set("summary_channel_count", summaryGains.Count);
            metrics.Set("failed_channel_count", failed);
            metrics.Set("restarted_channel_count", allGains.Count(g => g.Outcome == "restarted"));
            var seriesByLayer = layers.Select((l, k) =>
            {
                var mine = allGains.Where(g => g.Layer == l && g.Outcome != "silent").OrderBy(g => g.Gain).ToList();
                var start = allGains.Where(g => g.Outcome != "silent").Count(g => layers.TakeWhile(x => x != g.Layer).Count() < k);
                return new Series($"{l} ({mine.Count} channels)", mine.Select((_, r) => (double)(start + r + 1)).ToList(), mine.Select(g => Math.Max(g.Gain, 0.1)).ToList(), Markers: true);
            }).Where(x => x.X.Count > 0).ToList();
            var hist = Charts.Line(seriesByLayer,
                new ChartOptions($"Activation gain of every visualised channel that fires on the test set ({summaryGains.Count})", "channel (sorted by gain within its layer)", "gain: optimised ÷ test-set mean (log)", LogY: true, Width: 760, Height: 420, LegendCorner: "upper left"),
                new[] { new ReferenceLine(10, false, "10×", "#cc3333") });
            section.AddFigure(context.SavePng("gains.png", hist,
                $"Activation gain of every visualised channel of {string.Join(", ", layers)} that fires on the test set (gains below 0.1, i.e. failures, drawn at 0.1): " +
                $"median {median:0.0}×; {atLeast10} of {summaryGains.Count} ({fraction:P0}) reach 10× or more; {failed} stayed stuck after the restart and count as failures; " +
                $"{summarySilent} channels never fire on the test set and have no gain. Median saturation (pixels with a colour channel at ≤ 5 or ≥ 250 of 255): {Statistics.Median(saturations):P0}."));
            section.Paragraph($"Of {summaryGains.Count + summarySilent} visualised channels, {summaryGains.Count} fire on the test set; for {fraction:P0} of these the optimised picture drives the channel at least ten times harder than the average test image " +
                              $"(median {median:0.0}×). {allGains.Count(g => g.Outcome == "restarted")} optimisations were stuck from noise and were restarted from the channel's strongest test image; {failed} failed even so. " +
                              $"Saturation: {Statistics.Median(saturations):P0} of a picture's pixels (median) have a colour channel within 2 % of black or full intensity (≤ 5 or ≥ 250 of 255).");
        }
        Report(context, "done", 1);
    }

    private IProgress<FeatureVisualizationProgress> StepProgress(StudyContext context, string layer, double f0, double f1, int group, int groups)
    {
        var lastReport = DateTime.UtcNow;
        return new SynchronousProgress<FeatureVisualizationProgress>(p =>
        {
            if ((DateTime.UtcNow - lastReport).TotalSeconds < 0.5 && p.Step != p.Steps) return;
            lastReport = DateTime.UtcNow;
            context.Progress?.Report(new StudyProgress(Name, $"{layer}: step {p.Step}/{p.Steps}, objective {p.Objective:0.000}", f0 + (f1 - f0) * (group + (double)p.Step / p.Steps) / groups));
        });
    }

    /// <summary>The fraction of a picture's pixels with at least one colour channel within 2 % of either end of the range
    /// (≤ 5 or ≥ 250 of 255): clipped-looking colours, the mark of an optimisation pushed against the sigmoid's bounds.</summary>
    /// <param name="image"><c>[3, H, W]</c> in [0, 1].</param>
    public static double Saturation(Tensor image)
    {
        ArgumentNullException.ThrowIfNull(image);
        using var scope = NewDisposeScope();
        var q = (image.clamp(StudyScalars.Zero, StudyScalars.One) * StudyScalars.TwoHundredFiftyFive).round();
        return (q.le(StudyScalars.Five) | q.ge(StudyScalars.TwoHundredFifty)).any(0).to_type(ScalarType.Float64).mean().ToDouble();
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
        if (options.Objective == "channel") return Objective.ChannelPerImage(layer, channels);
        Objective? sum = null;
        for (int i = 0; i < channels.Length; i++)
        {
            var o = Objective.Neuron(layer, channels[i], batch: i);
            sum = sum is null ? o : sum + o;
        }
        return sum!;
    }

    /// <summary>Channels optimised together in one batch (with the channel objective).</summary>
    public const int ChannelsPerOptimisation = 8;

    private List<int> PickChannels(int count, bool quick, double[] maxes)
    {
        if (options.Channels is { Count: 0 }) return Enumerable.Range(0, count).ToList();
        if (options.Channels is not null)
        {
            foreach (var c in options.Channels)
                if (c < 0 || c >= count) throw new ArgumentOutOfRangeException(nameof(options), c, $"Channel {c} does not exist; the layer has {count} channels (0 … {count - 1}).");
            return options.Channels.Distinct().ToList();
        }
        // every channel that fires on the test set, failures included (a hand-picked handful would flatter the headline; a
        // channel that never fires has no gain to measure and is counted apart); quick mode and the diversity objective
        // (one optimisation per channel): a few spread over them
        var firing = Enumerable.Range(0, count).Where(c => maxes[c] > 0).ToList();
        if (firing.Count == 0) firing = Enumerable.Range(0, count).ToList();
        if (!quick && options.Objective != "diversity") return firing;
        int n = Math.Min(firing.Count, quick ? 2 : 6);
        return Enumerable.Range(0, n).Select(i => firing[(int)((long)i * firing.Count / n)]).ToList();
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
            foreach (var image in images) bitmaps.Add(Png.ToBitmap(image.clamp(StudyScalars.Zero, StudyScalars.One), new PngOptions(Normalization: Normalization.Unit)));
            using var grid = ImageGrid.Compose(bitmaps, titles, options);
            AtomicFile.WriteAllBytes(path, Png.Encode(grid));
        }
        finally
        {
            foreach (var b in bitmaps) b.Dispose();
        }
    }
}
