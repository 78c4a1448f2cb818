using System.Globalization;
using Interpretability.Attribution;
using Interpretability.Imaging;
using Interpretability.Models;
using Interpretability.NeuronStudies;
using Interpretability.Probing;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Studies;

/// <summary>Options of <see cref="NeuronStudiesStudy"/> (the <c>interp tuning</c> command).</summary>
/// <param name="Model">Model spec for <see cref="ModelZoo.Load"/> (<c>zoo:shapesnet</c> or a path); it must take <c>[N, 3, 64, 64]</c> images.</param>
/// <param name="Layer">The layer whose curve family is studied in depth; null = the scanned layer (the activations of the
/// model's last three convolutions; ShapesNet: relu2, relu3, relu4) with the most curve-like units.</param>
/// <param name="Units">Channels to study instead of the automatically found family; null = automatic.</param>
public sealed record NeuronStudiesOptions(string Model = "zoo:shapesnet", string? Layer = null, IReadOnlyList<int>? Units = null)
{
    /// <summary>The layers scanned for curve-like units: the activations of the model's last three convolutions (ShapesNet:
    /// relu2, relu3, relu4), plus the chosen layer.</summary>
    /// <param name="model">The surveyed model.</param>
    /// <param name="layer">The layer studied in depth, or null.</param>
    public static IReadOnlyList<string> ScannedLayers(StudyModel model, string? layer)
    {
        ArgumentNullException.ThrowIfNull(model);
        var layers = model.LastConvolutionActivations(3).ToList();
        if (layer is not null && !layers.Contains(layer)) layers.Add(layer);
        return layers;
    }
}

/// <summary>
/// The Curve Detectors protocol (Cammarata et al., Distill 2020) on ShapesNet: synthetic orientation × radius tuning of
/// every unit of relu2–relu4, the curve-like units and their family (ordered by orientation, equivariance), dataset
/// examples, rotation (joint) tuning, pre-ReLU histograms with exponential tails, activation × weight circuits, NMF of
/// activations, curve extraction and ground-truth AUC against the dataset's curve classes.
/// </summary>
public sealed class NeuronStudiesStudy : Study
{
    private readonly NeuronStudiesOptions options;

    /// <summary>Creates the study.</summary>
    /// <param name="options">Model, layer and units (default: ShapesNet, automatic).</param>
    public NeuronStudiesStudy(NeuronStudiesOptions? options = null)
    {
        this.options = options ?? new NeuronStudiesOptions();
        ArgumentException.ThrowIfNullOrWhiteSpace(this.options.Model, nameof(options));
        if (this.options.Units is { Count: 0 }) throw new ArgumentException("Units must list at least one channel (or be null for automatic).", nameof(options));
    }

    /// <inheritdoc />
    public override string Name => "tuning";

    /// <inheritdoc />
    public override string Title => options.Model == StudyModel.DefaultSpec ? "Neuron studies: curve detectors in ShapesNet" : $"Neuron studies: curve detectors in {options.Model}";

    /// <inheritdoc />
    public override void Run(StudyContext context, ReportSection section, Metrics metrics)
    {
        RunStudy(context, section, metrics);
    }

    private static double Deg(double rad) => rad * 180 / Math.PI;

    private void RunStudy(StudyContext context, ReportSection section, Metrics metrics)
    {
        bool quick = context.Quick;
        Report(context, "loading the model", 0.01);
        section.Cite("cammarata2020");
        using var opened = StudyModel.Open(options.Model);
        var model = opened.Module;
        var all = LayerPath.All(model);
        if (options.Layer is { } only) opened.Layer(only, "Layer");
        var layers = NeuronStudiesOptions.ScannedLayers(opened, options.Layer).ToList();
        if (layers.Count == 0) throw new ArgumentException($"The model has no convolution to scan for curve detectors; name a layer. Layers: {opened.LayerList}.", nameof(options));

        var orientations = Stimuli.Orientations(quick ? 24 : 72);
        var radii = quick ? new[] { 3.0, 5, 8, 12, 20 } : new[] { 3.0, 4, 5, 6, 8, 10, 12, 16, 20, 28 };
        var lineOrientations = Stimuli.Orientations(quick ? 12 : 36, halfTurn: true);
        const double stroke = 2, arcPixels = 20;
        metrics.Set("model", options.Model);
        metrics.Set("orientations", orientations.Length);
        metrics.Set("radii", radii);
        metrics.Set("torch_threads", torch.get_num_threads());

        section.Paragraph("Protocol of Cammarata et al. (2020), 'Curve Detectors' (Distill), on ShapesNet (a 4-conv CNN trained on 11 synthetic shape classes). " +
            "Stimuli are anti-aliased arcs drawn analytically (white, stroke 2 px, on black, 64×64): the arc's midpoint sits at the image centre and its orientation " +
            "is the direction from the midpoint to the arc's circle centre, counter-clockwise on screen (0° = the circle centre lies to the right; 90° = above: a ∪). " +
            $"Each arc is {arcPixels} px long (at most a half circle for small radii). A unit's response is read at the central position of its layer (its receptive field is centred on the stimulus).");

        // 1. Stimulus sheet.
        section.Heading("Stimuli");
        Report(context, "drawing stimuli", 0.03);
        var sheetOrient = Stimuli.Orientations(8);
        var sheetRadii = new[] { 3.0, 6, 12, 24 };
        using (var sheet = Stimuli.Curves(Stimuli.CurveGrid(sheetOrient, sheetRadii, stroke, null, arcPixels)))
            Stimuli.SaveSheet(context.PathOf("stimuli.png"), sheet,
                sheetOrient.SelectMany(o => sheetRadii.Select(r => (string?)$"{Deg(o):F0}° r{r}")).ToList(), columns: sheetRadii.Length,
                title: "Curve stimuli: orientation (rows) × radius (columns)");
        using (var others = cat(new[]
               {
                   Stimuli.Lines(Stimuli.Orientations(4, true).Select(t => new LineSpec(t, 20, stroke)).ToList()),
                   Stimuli.Angles(Stimuli.Orientations(4).Select(t => new AngleSpec(t, Math.PI / 2, 10, stroke)).ToList()),
                   Stimuli.Circles(new[] { 4.0, 8, 12, 20 }.Select(r => new CircleSpec(r, stroke)).ToList()),
               }, 0))
            Stimuli.SaveSheet(context.PathOf("stimuli_other.png"), others,
                new[] { "line 0°", "line 45°", "line 90°", "line 135°", "angle 0°", "angle 90°", "angle 180°", "angle 270°", "circle r4", "circle r8", "circle r12", "circle r20" },
                columns: 4, title: "Lines (orientation), right angles (bisector orientation), circles (radius)");
        section.AddFigureRow(new[]
        {
            context.Figure("stimuli.png", "Curve stimuli by orientation (rows: 0°, 45°, …) and radius (columns); the midpoint is at the centre pixel."),
            context.Figure("stimuli_other.png", "Lines, angles (bisector = orientation, so an angle matches the curve of the same orientation) and circles."),
        });

        // 2. Tuning of every scanned layer.
        section.Heading("Synthetic tuning and the curve family");
        var tunings = new Dictionary<string, CurveTuning>();
        var lineTunings = new Dictionary<string, double[,]>();
        var angleTunings = new Dictionary<string, double[,]>();
        var datasetMaxima = new Dictionary<string, double[]>();
        var families = new Dictionary<string, CurveFamily>();
        var criteriaOf = new Dictionary<string, CurveCriteria>();
        var perLayer = new Metrics();
        var rejected = new Metrics();
        int li = 0;
        using var scanSet = ShapesDataset.Test(quick ? 200 : 1000);
        var angleOrientations = Stimuli.Orientations(quick ? 8 : 24);
        var openings = new[] { Math.PI / 3, Math.PI / 2, 2 * Math.PI / 3 };
        foreach (var layer in layers)
        {
            Report(context, $"synthetic tuning of {layer}", 0.05 + 0.25 * li++ / layers.Count);
            var tuning = SyntheticTuning.Curves(model, layer, orientations, radii, stroke, arcPixels);
            var lines = SyntheticTuning.Lines(model, layer, lineOrientations, arcPixels, stroke);
            var angles = SyntheticTuning.Angles(model, layer, angleOrientations, openings);
            using (var layerScan = DatasetScan.Run(model, layer, scanSet.Images))
                datasetMaxima[layer] = layerScan.Max.amax(0).to_type(ScalarType.Float64).data<double>().ToArray();
            var layerMax = Enumerable.Range(0, tuning.Channels).Max(tuning.MaxResponse);
            var criteria = new CurveCriteria(MinResponse: Math.Max(1e-3, 0.05 * layerMax));
            var described = CurveFamilies.Describe(tuning, lines, angles, datasetMaxima[layer]);
            var family = CurveFamilies.Find(tuning, lines, criteria, angles, datasetMaxima[layer]);
            tunings[layer] = tuning;
            lineTunings[layer] = lines;
            angleTunings[layer] = angles;
            families[layer] = family;
            criteriaOf[layer] = criteria;
            perLayer.Set(layer, family.Units.Count);
            var reasons = new Metrics();
            foreach (var g in described.Select(u => CurveFamilies.FailedCriterion(u, criteria)).Where(r => r is not null).GroupBy(r => r!).OrderByDescending(g => g.Count()))
                reasons.Set(g.Key, g.Count());
            rejected.Set(layer, reasons);
        }
        metrics.Set("curve_units_per_layer", perLayer);
        metrics.Set("rejected_units_by_reason", rejected);
        var focus = options.Layer ?? layers.OrderByDescending(l => families[l].Units.Count).ThenByDescending(l => layers.IndexOf(l)).First();
        var focusTuning = tunings[focus];
        var fam = families[focus];
        if (options.Units is { } chosen)
        {
            foreach (var c in chosen)
                if (c < 0 || c >= focusTuning.Channels) throw new ArgumentOutOfRangeException(nameof(options), c, $"unit must be in [0, {focusTuning.Channels}) for layer '{focus}'.");
            var described = CurveFamilies.Describe(focusTuning, lineTunings[focus], angleTunings[focus], datasetMaxima[focus]);
            var units = chosen.Distinct().Select(c => described[c]).OrderBy(u => u.PreferredOrientation).ToList();
            var (score, mean) = CurveFamilies.Equivariance(focusTuning, units.Select(u => u.Channel).ToList());
            fam = new CurveFamily(focus, units, score, mean);
        }
        metrics.Set("focus_layer", focus);
        metrics.Set("curve_family_size", fam.Units.Count);
        if (double.IsFinite(fam.EquivarianceScore)) metrics.Set("equivariance_score", Math.Round(fam.EquivarianceScore, 4));
        else metrics.Set("equivariance_score", "n/a (fewer than 2 units)");
        var coverage = OrientationCoverage(fam.Units.Select(u => u.PreferredOrientation).ToList());
        var largestGap = fam.Units.Count < 2 ? 360 : 360 - coverage;
        metrics.Set("family_orientation_coverage_deg", Math.Round(coverage, 1));
        metrics.Set("family_largest_orientation_gap_deg", Math.Round(largestGap, 1));
        var c0 = criteriaOf[focus];

        section.Paragraph($"Curve-like units, after Cammarata et al. (2020): (1) a largest curve response of at least {c0.MinFractionOfDatasetMax:P0} of the unit's largest activation over " +
            $"{scanSet.Images.shape[0]} test images (and at least 5% of the layer's largest curve response); (2) orientation selectivity (1 − circular variance of the tuning curve at the preferred radius) ≥ {c0.MinSelectivity}; " +
            $"(3) a tuning peak at least {c0.MinPeakWidthDegrees:F0}° wide at half maximum (selectivity alone rewards a unit that answers one orientation only); " +
            $"(4) a largest curve response above {c0.MinCurveOverLine} × its largest response to a straight line and {c0.MinCurveOverAngle} × its largest response to an angle (60°, 90°, 120°); " +
            $"(5) a radius preference ((max − min)/max of the radius tuning ≥ {c0.MinRadiusContrast}). A unit's preferred orientation is the argmax of its tuning curve. " +
            $"Counts: {string.Join(", ", layers.Select(l => $"{l} {families[l].Units.Count}/{tunings[l].Channels}"))}. " +
            $"The family studied below is {focus}'s ({fam.Units.Count} units{(options.Units is null ? "" : ", chosen with --units")}), ordered by preferred orientation; " +
            $"the largest gap between neighbouring preferred orientations is {largestGap:F0}°" + (largestGap > 45 ? ", so the family does not tile the circle." : "."));

        if (fam.Units.Count == 0)
        {
            section.Paragraph("No curve-like unit was found in the focus layer; the per-unit pictures are left out.");
            metrics.Set("curve_units", Array.Empty<Metrics>());
            metrics.Set("exponential_tail_rate", new Metrics());
            metrics.Set("exponential_tail_ks", new Metrics());
            metrics.Set("exponential_tail_threshold", new Metrics());
            return;
        }

        // 2b. Colour and contrast-polarity invariance of the family's orientation preference (Distill: invariant to colour).
        section.Heading("Colour and contrast-polarity invariance");
        Report(context, "colour and polarity", 0.32);
        var colourCanvas = new StimulusCanvas(Foreground: (0.9, 0.9, 0.2), Background: (0.2, 0.2, 0.6));
        var polarityCanvas = new StimulusCanvas(Foreground: (0, 0, 0), Background: (1, 1, 1));
        var colourTuning = SyntheticTuning.Curves(model, focus, orientations, radii, stroke, arcPixels, colourCanvas);
        var polarityTuning = SyntheticTuning.Curves(model, focus, orientations, radii, stroke, arcPixels, polarityCanvas);
        double Agree(CurveTuning other) => fam.Units.Count(u => other.MaxResponse(u.Channel) > 0
            && CircularStats.Distance(other.Orientations[other.Peak(u.Channel).Orientation], u.PreferredOrientation) <= Math.PI / 4) / (double)fam.Units.Count;
        if (fam.Units.Count > 0)
        {
            var colourAgree = Agree(colourTuning);
            var polarityAgree = Agree(polarityTuning);
            metrics.Set("colour_invariance_fraction", Math.Round(colourAgree, 4));
            metrics.Set("polarity_invariance_fraction", Math.Round(polarityAgree, 4));
            section.Paragraph($"Invariance: with yellow curves on blue (same contrast sign, other colours) {100 * colourAgree:F0}% of the family keep their preferred orientation " +
                $"within 45°; with black curves on white (contrast reversed) {100 * polarityAgree:F0}% do. Units that change preference with polarity are contrast-sign sensitive, " +
                "so their dataset examples (dark and light strokes on varied backgrounds) need not look like the white-on-black preferred curve.");
        }

        // 3. Dataset, top examples, AUC.
        section.Heading("Dataset examples and the family's arrangement");
        Report(context, "dataset examples", 0.35);
        using var data = ShapesDataset.Test(quick ? 200 : 1000);
        var scan = DatasetScan.Run(model, focus, data.Images);
        var side = scan.Width;
        var channels = fam.Units.Select(u => u.Channel).ToList();
        int k = quick ? 4 : 6;
        IReadOnlyList<IReadOnlyList<DatasetExample>> examples;
        using (scan)
        {
            using (var top = scan.Top(channels, k)) examples = TopExamples.From(top);
            var isCurve = data.Geometry.Select(g => ShapesDataset.CurveClasses.Contains(g.ClassName)).ToList();
            var m = scan.Max.contiguous().data<float>().ToArray();
            int c = scan.Channels;
            var aucs = channels.Select(ch => CurveFamilies.Auc(Enumerable.Range(0, data.Count).Select(i => (double)m[i * c + ch]).ToList(), isCurve)).ToList();
            var unitMetrics = fam.Units.Select((u, i) => new Metrics()
                .Set("layer", u.Layer).Set("unit", u.Channel)
                .Set("preferred_orientation_deg", Math.Round(Deg(u.PreferredOrientation), 2))
                .Set("preferred_radius", u.PreferredRadius)
                .Set("selectivity", Math.Round(u.Selectivity, 4))
                .Set("curve_class_auc", Math.Round(aucs[i], 4))
                .Set("max_curve_response", Math.Round(u.MaxCurveResponse, 4))
                .Set("max_line_response", Math.Round(u.MaxLineResponse, 4))
                .Set("max_angle_response", Math.Round(u.MaxAngleResponse, 4))
                .Set("dataset_max", Math.Round(u.DatasetMax, 4))
                .Set("peak_width_deg", Math.Round(Deg(u.PeakWidth), 1))).ToList();
            metrics.Set("curve_units", unitMetrics);
            metrics.Set("mean_curve_class_auc", Math.Round(aucs.Average(), 4));
            section.AddTable(new Table($"Curve family of {focus}. Curve-class AUC: the area under the ROC curve of the unit's largest activation on a test image for telling the curve classes " +
                                       $"({string.Join(", ", ShapesDataset.CurveClasses)}) from the other classes (1 = every curve image above every other; 0.5 = chance; below 0.5 = prefers the other classes).",
                new[] { "unit", "preferred orientation (argmax)", "preferred radius", "selectivity", "peak width", "curve / line / angle max", "curve max ÷ dataset max", "curve-class AUC" },
                fam.Units.Select((u, i) => (IReadOnlyList<string>)new[]
                {
                    u.Channel.ToString(CultureInfo.InvariantCulture), $"{Deg(u.PreferredOrientation):F0}°", $"{u.PreferredRadius:0.#} px", $"{u.Selectivity:F2}", $"{Deg(u.PeakWidth):F0}°",
                    $"{u.MaxCurveResponse:G3} / {u.MaxLineResponse:G3} / {u.MaxAngleResponse:G3}", $"{u.MaxCurveResponse / u.DatasetMax:F2}", $"{aucs[i]:F3}",
                }).ToList()));
        }
        ReceptiveField field;
        try { field = ReceptiveField.Of(model, focus); }
        catch (ArgumentException)
        {
            var (sz, jump) = ShapesNet.ReceptiveFields.TryGetValue(focus, out var f) ? f : (64, 64 / side);
            field = new ReceptiveField(sz, jump, (jump - 1) / 2.0);
        }
        var crops = examples.Select(e => TopExamples.Crops(data.Images, e, field, Math.Max(field.Size, 16))).ToList();
        try
        {
            Report(context, "family arrangement", 0.45);
            using (var sheet = FamilyPictures.Arrangement(fam, focusTuning, crops, $"Curve family of {focus} ordered by preferred orientation"))
                Png.Save(sheet, context.PathOf("family_arrangement.png"));
        }
        finally
        {
            foreach (var c in crops) c.Dispose();
        }
        section.AddFigure(context.Figure("family_arrangement.png",
            $"One row per curve unit of {focus}, ordered by preferred orientation: its preferred synthetic curve, its top {k} test images cropped to the receptive field " +
            "around the argmax position, its orientation × radius response (rows: orientation 0→360° top to bottom; columns: radius small → large) and its orientation tuning curve."));

        // 4. Heatmaps and tuning curves.
        section.Heading("Tuning heatmaps and curves");
        Report(context, "heatmaps and tuning curves", 0.5);
        var heatFigures = new List<Figure>();
        foreach (var u in fam.Units.Take(quick ? 2 : 6))
        {
            var rowLabels = orientations.Select((o, i) => i % (orientations.Length / 8) == 0 ? $"{Deg(o):F0}°" : "").ToList();
            var png = MatrixChart.Render(focusTuning.Heatmap(u.Channel), rowLabels, radii.Select(r => r.ToString("0.#", CultureInfo.InvariantCulture)).ToList(),
                new ChartOptions($"{focus}:{u.Channel} response", "radius (px)", "orientation", Width: 420, Height: 520), "response");
            heatFigures.Add(context.SavePng($"heatmap_{focus}_{u.Channel}.png", png, $"{focus}:{u.Channel}: response to curves by orientation and radius."));
        }
        section.AddFigureRow(heatFigures);
        var degs = orientations.Select(Deg).ToList();
        var reps = fam with { Units = CurveFamilies.Representatives(fam, 8) };
        var repNote = reps.Units.Count < fam.Units.Count ? $" Shown: {reps.Units.Count} of the {fam.Units.Count} units, the strongest (largest curve response ÷ dataset maximum) in each 45° sector of preferred orientation." : "";
        section.AddFigure(context.SavePng("tuning_curves.png",
            FamilyPictures.JointTuning(reps, degs, reps.Units.Select(u => focusTuning.OrientationCurve(u.Channel)).ToList(), $"Synthetic orientation tuning of {focus}'s curve family"),
            $"Family units' responses to curves at their preferred radius against orientation (normalised to each unit's max). The largest gap between neighbouring preferred orientations is {largestGap:F0}°." + repNote));
        section.AddFigure(context.SavePng("radial_tuning.png", FamilyPictures.Radial(reps, focusTuning, $"Radial tuning of {focus}'s curve family"),
            "Radial tuning: each unit's normalised orientation tuning as a closed curve (angle = curve orientation, radius = response)." + repNote));
        var (lineOverlay, angleTuning) = (lineTunings[focus], SyntheticTuning.Angles(model, focus, Stimuli.Orientations(quick ? 8 : 24), new[] { Math.PI / 3, Math.PI / 2, 2 * Math.PI / 3 }));
        var lineSeries = reps.Units.Select((u, i) => new Series($"{u.Channel} ({Deg(u.PreferredOrientation):F0}°)", lineOrientations.Select(Deg).ToArray(),
            Enumerable.Range(0, lineOrientations.Length).Select(j => lineOverlay[u.Channel, j]).ToArray(), FamilyPictures.Colour(i))).ToList();
        section.AddFigure(context.SavePng("line_tuning.png", Charts.Line(lineSeries, new ChartOptions($"{focus}: responses to straight lines", "line orientation (degrees)", "response", Width: 800, Height: 420)),
            "Responses of the family to straight lines (same length and stroke as the curves): lower than to curves by construction of the criterion."));
        int no = quick ? 8 : 24;
        var angleSeries = reps.Units.Select((u, i) => new Series($"{u.Channel} ({Deg(u.PreferredOrientation):F0}°)", Stimuli.Orientations(no).Select(Deg).ToArray(),
            Enumerable.Range(0, no).Select(j => Enumerable.Range(0, 3).Max(a => angleTuning[u.Channel, j * 3 + a])).ToArray(), FamilyPictures.Colour(i))).ToList();
        section.AddFigure(context.SavePng("angle_tuning.png", Charts.Line(angleSeries, new ChartOptions($"{focus}: responses to angles (best of 60°, 90°, 120° openings)", "angle bisector orientation (degrees)", "response", Width: 800, Height: 420)),
            "Angle tuning: a curve unit responds most to the angle whose bisector matches its preferred curve orientation."));

        // 4b. Angle → curve morph: a right angle at each unit's preferred orientation with its corner rounded more and more.
        var corners = quick ? new[] { 0.0, 2, 4, 8 } : new[] { 0.0, 1, 2, 3, 4, 6, 8, 10, 12 };
        var morphSpecs = fam.Units.SelectMany(u => corners.Select(c => new RoundedAngleSpec(u.PreferredOrientation, Math.PI / 2, 14, c, stroke))).ToList();
        double[] morphFlat;
        using (var morphImages = Stimuli.RoundedAngles(morphSpecs))
        using (var morphResp = SyntheticTuning.CentreResponses(model, focus, morphImages))
            morphFlat = morphResp.to(ScalarType.Float64).contiguous().data<double>().ToArray();
        int nc = (int)(morphFlat.Length / morphSpecs.Count);
        double MorphAt(int unitIndex, int corner) => morphFlat[(unitIndex * corners.Length + corner) * nc + fam.Units[unitIndex].Channel];
        var increase = Enumerable.Range(0, fam.Units.Count).Count(i => MorphAt(i, corners.Length - 1) > MorphAt(i, 0)) / (double)fam.Units.Count;
        metrics.Set("angle_to_curve_increase_fraction", Math.Round(increase, 4));
        var morphSeries = reps.Units.Select((u, j) =>
        {
            var i = fam.Units.ToList().IndexOf(u);
            return new Series($"{u.Channel} ({Deg(u.PreferredOrientation):F0}°)", corners, corners.Select((_, c) => MorphAt(i, c)).ToArray(), FamilyPictures.Colour(j, u.PreferredOrientation), Markers: true);
        }).ToList();
        using (var morphSheet = Stimuli.RoundedAngles(corners.Select(c => new RoundedAngleSpec(Math.PI / 2, Math.PI / 2, 14, c, stroke)).ToList()))
            Stimuli.SaveSheet(context.PathOf("angle_to_curve_stimuli.png"), morphSheet, corners.Select(c => (string?)$"corner r {c}").ToList(), columns: corners.Length,
                title: "Right angle → curve (orientation 90°)");
        section.AddFigureRow(new[]
        {
            context.SavePng("angle_to_curve.png", Charts.Line(morphSeries, new ChartOptions($"{focus}: right angle at the preferred orientation, corner rounded", "corner radius (px)", "response", Width: 800, Height: 420)),
                $"Angle → curve morph (Distill: the response rises as the angle becomes a curve): {100 * increase:F0}% of the family respond more to the most rounded corner than to the sharp angle."),
            context.Figure("angle_to_curve_stimuli.png", "The morph stimuli (here at orientation 90°): the fillet's midpoint stays on the centre pixel."),
        });

        // 5. Rotation (joint) tuning on dataset examples.
        section.Heading("Rotation tuning on dataset examples");
        Report(context, "rotation tuning", 0.6);
        var rotUnits = CurveFamilies.Representatives(fam, quick ? 4 : 8).ToList();
        var rotAngles = Stimuli.Orientations(quick ? 24 : 72);
        var rotation = CurveFamilies.RotationTuning(model, focus, data.Images, rotUnits.Select(u => examples[channels.IndexOf(u.Channel)].Take(quick ? 2 : 4).ToList()).ToList(),
            rotUnits.Select(u => u.Channel).ToList(), field, rotAngles);
        var joint = CurveFamilies.JointTuning(rotation, rotUnits.Select(u => u.PreferredOrientation).ToList());
        var rotFamily = fam with { Units = rotUnits };
        section.AddFigure(context.SavePng("rotation_tuning.png",
            FamilyPictures.JointTuning(rotFamily, rotAngles.Select(Deg).ToList(), Enumerable.Range(0, rotUnits.Count).Select(v => Enumerable.Range(0, rotAngles.Length).Select(a => joint[v, a]).ToArray()).ToList(),
                $"Joint tuning of {focus}'s family on rotated dataset examples"),
            "Each unit's top examples rotated through 360° about the receptive-field centre (affine_grid/grid_sample); a unit's response to u's examples rotated by α " +
            "is placed at u's preferred orientation + α and averaged over u." + (rotUnits.Count < fam.Units.Count ? $" Units: the most selective in each of {(quick ? 4 : 8)} orientation sectors." : "")));

        // 6. Activation statistics.
        section.Heading("Activation statistics");
        Report(context, "activation histograms", 0.7);
        var conv = System.Text.RegularExpressions.Regex.IsMatch(focus, "^relu[0-9]+$") && all.Contains("conv" + focus[4..]) ? "conv" + focus[4..] : focus;
        using var histImages = data.Images.narrow(0, 0, Math.Min(data.Count, quick ? 100 : 300));
        using var pre = ActivationStatistics.Values(model, conv, histImages, SpatialSelection.All);
        var rates = new Metrics();
        var positive = new Metrics();
        var tailKs = new Metrics();
        var tailThresholds = new Metrics();
        var histFigures = new List<Figure>();
        foreach (var (u, i) in fam.Units.Select((u, i) => (u, i)))
        {
            var values = pre[.., u.Channel].to(ScalarType.Float64).data<double>().ToArray();
            var pos = values.Count(v => v > 0);
            positive.Set($"{focus}_{u.Channel}", Math.Round((double)pos / values.Length, 4));
            if (pos < 3) continue;
            var tail = ActivationStatistics.FitUpperTail(values);
            var negTail = values.Count(v => v < 0) >= 3 ? ActivationStatistics.FitUpperTail(values.Select(v => -v).ToList()) : null;
            rates.Set($"{focus}_{u.Channel}", Math.Round(tail.Rate, 6));
            tailKs.Set($"{focus}_{u.Channel}", Math.Round(tail.KsStatistic, 4));
            tailThresholds.Set($"{focus}_{u.Channel}", Math.Round(tail.Threshold, 4));
            if (i < (quick ? 1 : 3))
            {
                var hist = ActivationStatistics.HistogramOf(values, 60);
                histFigures.Add(context.SavePng($"histogram_{conv}_{u.Channel}.png",
                    ActivationStatistics.Chart(hist, $"{conv}:{u.Channel} pre-ReLU over all positions", "pre-activation", new[] { tail }),
                    $"{conv}:{u.Channel}: log density of pre-ReLU values; positive {100.0 * pos / values.Length:F1}% of positions; exponential tail rate {tail.Rate:G3} " +
                    $"above {tail.Threshold:G3} (the upper quarter of the positive values; KS {tail.KsStatistic:F2}){(negTail is null ? "" : $", negative side rate {negTail.Rate:G3} (KS {negTail.KsStatistic:F2})")}."));
                if (i == 0)
                {
                    // Post-ReLU side: x·p(x) over x > 0 with p the density over all positions (the positive bins' share of the mean).
                    var posHist = ActivationStatistics.HistogramOf(values.Where(v => v > 0).ToList(), 40);
                    var share = (double)pos / values.Length;
                    var c = posHist.Centres;
                    var xp = posHist.ExpectedContribution.Select(v => v * share).ToArray();
                    var width = posHist.Edges[1] - posHist.Edges[0];
                    var total = xp.Sum() * width;
                    var half = c.Select((x, j) => x > posHist.Edges[^1] / 2 ? xp[j] * width : 0).Sum();
                    metrics.Set("upper_half_contribution_share", Math.Round(total > 0 ? half / total : 0, 4));
                    section.AddFigure(context.SavePng("expected_contribution.png",
                        Charts.Line(new[] { new Series("x·p(x)", c, xp, "#1f77b4") }, new ChartOptions($"{conv}:{u.Channel}: expected-value contribution x·p(x) of positive activations", "pre-activation (> 0)", "x·p(x)", Width: 800, Height: 420),
                            new[] { new ReferenceLine(posHist.Edges[^1] / 2, true, "half the largest value") }),
                        $"Density against importance: activations above half the largest value are {100.0 * values.Count(v => v > posHist.Edges[^1] / 2) / values.Length:F2}% of positions " +
                        $"but carry {100 * (total > 0 ? half / total : 0):F0}% of the mean positive activation."));
                }
            }
        }
        section.AddFigureRow(histFigures);
        metrics.Set("exponential_tail_rate", rates);
        metrics.Set("exponential_tail_ks", tailKs);
        metrics.Set("exponential_tail_threshold", tailThresholds);
        metrics.Set("positive_fraction", positive);

        // 7. Circuit into the strongest unit.
        Report(context, "circuits", 0.8);
        var target = fam.Units.OrderByDescending(u => u.MaxCurveResponse).First();
        if (conv != focus && LayerPath.Find(model, conv) is TorchSharp.Modules.Conv2d)
        {
            var ex = examples[channels.IndexOf(target.Channel)];
            section.Heading("The circuit into the strongest curve unit");
            var (contrib, total) = MeanCircuit(model, conv, target.Channel, data.Images, ex);
            // The previous ReLU (relu(K−1)) feeds conv K through a max-pool, which keeps channels: its curve units label the bars.
            var prevLayer = "relu" + (int.Parse(focus[4..], CultureInfo.InvariantCulture) - 1);
            var prefs = new double?[contrib.Length];
            if (all.Contains(prevLayer))
            {
                var prevTuning = tunings.TryGetValue(prevLayer, out var t) ? t : SyntheticTuning.Curves(model, prevLayer, orientations, radii, stroke, arcPixels);
                var prevLines = lineTunings.TryGetValue(prevLayer, out var pl) ? pl : SyntheticTuning.Lines(model, prevLayer, lineOrientations, arcPixels, stroke);
                if (prevTuning.Channels == contrib.Length)
                {
                    var prevMax = Enumerable.Range(0, prevTuning.Channels).Max(prevTuning.MaxResponse);
                    var crit = new CurveCriteria(MinResponse: Math.Max(1e-3, 0.05 * prevMax));
                    prefs = CurveFamilies.Describe(prevTuning, prevLines, angleTunings.GetValueOrDefault(prevLayer), datasetMaxima.GetValueOrDefault(prevLayer))
                        .Select(u => CurveFamilies.IsCurveLike(u, crit) ? (double?)u.PreferredOrientation : null).ToArray();
                }
            }
            section.AddFigure(context.SavePng("circuit.png",
                CircuitChart(contrib, prefs, $"Activation × weight from {prevLayer} channels into {focus}:{target.Channel} (pref. {Deg(target.PreferredOrientation):F0}°)"),
                $"Contributions of the previous layer's channels to {conv}:{target.Channel} at its argmax positions (mean over its top {ex.Count} examples; their sum " +
                $"{total:G3} = pre-activation − bias), the 16 largest nonzero ones in magnitude (fewer when fewer channels contribute), ordered by the input channel's preferred curve orientation ('–': not curve-like)."));
            metrics.Set("circuit_target_unit", target.Channel);
            metrics.Set("circuit_sum", Math.Round(total, 4));
        }

        // 8. NMF and curve extraction on curve-class test images.
        section.Heading("Curve extraction and NMF");
        section.Cite("olah2018");
        Report(context, "NMF and curve extraction", 0.9);
        var curveIdx = Enumerable.Range(0, data.Count).Where(i => ShapesDataset.CurveClasses.Contains(data.Geometry[i].ClassName)).Take(8).ToArray();
        using (var sel = data.Images.index_select(0, tensor(curveIdx.Select(i => (long)i).ToArray())))
        {
            var (strength, orient) = CurveExtraction.Maps(model, fam, sel);
            using (strength)
            using (orient)
            {
                // Opaque at the 99th percentile of the set's strengths (a single outlying position would fade all the rest).
                using var flatS = strength.flatten();
                var sorted = flatS.data<float>().ToArray();
                Array.Sort(sorted);
                var maxS = sorted[(int)(0.99 * (sorted.Length - 1))];
                var tiles = new List<Tensor>();
                var titles = new List<string?>();
                for (int i = 0; i < curveIdx.Length; i++)
                {
                    tiles.Add(sel[i]);
                    titles.Add(data.Geometry[curveIdx[i]].ClassName);
                    tiles.Add(CurveExtraction.Draw(sel[i], strength[i], orient[i], maxS));
                    titles.Add("family response");
                }
                tiles.Add(OrientationLegend(64));
                titles.Add("hue legend: ring by orientation");
                ImageGrid.Save(context.PathOf("curve_extraction.png"), tiles, titles, new GridOptions(Columns: 4, TileSize: 128,
                    Title: $"Curve extraction with {focus}'s family (hue = orientation, opacity = strength)"));
                foreach (var t in tiles) t.Dispose();
            }
            section.AddFigure(context.Figure("curve_extraction.png",
                "Test images of curve classes and the family's combined response: hue = the response-weighted circular mean of the units' preferred orientations, opacity = the largest unit response, each unit's response divided by its response to its best synthetic curve (opaque at the image set's 99th percentile)."));

            using var cap = ActivationRecorder.Capture(model, sel, new[] { focus });
            var act = cap[focus];
            long s = act.shape[2];
            using var mat = act.permute(0, 2, 3, 1).reshape(-1, act.shape[1]).clamp_min(0);
            int rank = 4;
            var (w, h, err) = Nmf.Factorize(mat, rank, quick ? 200 : 600, context.Seed);
            using (w)
            using (h)
            {
                metrics.Set("nmf_relative_error", Math.Round(err, 4));
                var maps = w.view(curveIdx.Length, s, s, rank).permute(0, 3, 1, 2);        // [img, k, s, s]
                var tiles = new List<Tensor>();
                var titles = new List<string?>();
                var rows = Math.Min(4, curveIdx.Length);
                for (int i = 0; i < rows; i++)
                {
                    tiles.Add(sel[i]);
                    titles.Add(data.Geometry[curveIdx[i]].ClassName);
                    for (int c = 0; c < rank; c++)
                    {
                        var top = h[c].argsort(descending: true).narrow(0, 0, 3).data<long>().ToArray();
                        tiles.Add(Overlay.Heatmap(sel[i], maps[i, c], Colormap.Viridis, Normalization.MinMax, 0.8));
                        titles.Add($"comp {c} (ch {string.Join(",", top)})");
                    }
                }
                ImageGrid.Save(context.PathOf("nmf.png"), tiles, titles, new GridOptions(Columns: rank + 1, TileSize: 112, Title: $"NMF of {focus} activations, {rank} components"));
                foreach (var t in tiles) t.Dispose();
            }
            section.AddFigure(context.Figure("nmf.png",
                $"Non-negative factorisation (Lee & Seung) of {focus}'s activations [positions × channels] over these images: each component's spatial map over the image and its three heaviest channels (relative error {err:F3})."));
        }
        Report(context, "done", 1);
    }

    /// <summary>
    /// Activation × weight into channel <paramref name="unit"/> of the conv layer <paramref name="conv"/> from the channels
    /// of its input, each example at its own argmax position (<see cref="Circuits"/>, in float64: every product exact),
    /// averaged over the examples; the contributions sum to the mean pre-activation minus the bias.
    /// </summary>
    /// <returns>Mean contribution per input channel, and their sum.</returns>
    private static (double[] Contributions, double PreActivationMinusBias) MeanCircuit(nn.Module<Tensor, Tensor> model, string conv, int unit,
        Tensor images, IReadOnlyList<DatasetExample> examples)
    {
        using var scope = torch.NewDisposeScope();
        var x = images.index_select(0, torch.tensor(examples.Select(e => (long)e.Index).ToArray(), device: images.device));
        var positions = torch.tensor(examples.SelectMany(e => new long[] { e.Row, e.Col }).ToArray(), new long[] { examples.Count, 2 });
        using var circuit = Circuits.Attribute(model, x, null, conv, positions, ScalarType.Float64);
        var perExample = circuit.Attributions[.., unit, ..].cpu().contiguous().data<double>().ToArray();   // [examples, C_in]
        int channels = (int)circuit.Attributions.shape[2];
        var sum = new double[channels];
        for (int e = 0; e < examples.Count; e++)
            for (int i = 0; i < channels; i++) sum[i] += perExample[e * channels + i];
        var mean = sum.Select(v => v / examples.Count).ToArray();
        return (mean, mean.Sum());
    }

    /// <summary>
    /// A bar chart of contributions ordered by the input units' preferred orientation (PNG bytes); input channels
    /// without a preference (null) go last.
    /// </summary>
    /// <param name="contributions">Contribution per input channel.</param>
    /// <param name="preferred">Preferred orientation (radians) per input channel, or null where it has none.</param>
    /// <param name="title">Chart title.</param>
    /// <param name="top">Most bars to show: the largest nonzero |contribution| ones, then ordered by orientation.</param>
    internal static byte[] CircuitChart(IReadOnlyList<double> contributions, IReadOnlyList<double?> preferred, string title, int top = 16)
    {
        ArgumentNullException.ThrowIfNull(contributions);
        ArgumentNullException.ThrowIfNull(preferred);
        if (preferred.Count != contributions.Count) throw new ArgumentException($"preferred needs {contributions.Count} entries; got {preferred.Count}.", nameof(preferred));
        // channels that contribute nothing (silent inputs) are not bars: the chart shows at most `top`, fewer if fewer contribute
        var chosen = Enumerable.Range(0, contributions.Count).Where(i => contributions[i] != 0).OrderByDescending(i => Math.Abs(contributions[i])).Take(top)
            .OrderBy(i => preferred[i] ?? double.MaxValue).ToList();
        if (chosen.Count == 0) chosen.Add(0);
        var labels = chosen.Select(i => preferred[i] is { } p ? $"{i}\n{p * 180 / Math.PI:F0}°" : $"{i}\n–").ToList();
        return Charts.Bars(labels, chosen.Select(i => contributions[i]).ToList(),
            new ChartOptions(title, "input channel (preferred orientation)", "activation × weight", Width: 1000, Height: 450));
    }

    /// <summary>Degrees of the circle covered by a set of orientations: 360° minus the largest gap between neighbours.</summary>
    /// <param name="orientations">Orientations in radians.</param>
    public static double OrientationCoverage(IReadOnlyList<double> orientations)
    {
        ArgumentNullException.ThrowIfNull(orientations);
        if (orientations.Count < 2) return 0;
        var d = orientations.Select(o => (Deg(o) % 360 + 360) % 360).OrderBy(x => x).ToArray();
        double gap = 360 - d[^1] + d[0];
        for (int i = 1; i < d.Length; i++) gap = Math.Max(gap, d[i] - d[i - 1]);
        return 360 - gap;
    }

    /// <summary>A ring whose every part is coloured by its curve orientation (the direction from the ring to its centre),
    /// as <see cref="CurveExtraction.Draw"/> colours it: the hue legend of the curve-extraction picture. [3, size, size].</summary>
    private static Tensor OrientationLegend(int size)
    {
        using var scope = torch.NewDisposeScope();
        var c = (size - 1) / 2.0;
        var ys = torch.arange(size, dtype: ScalarType.Float32).view(-1, 1).expand(size, size);
        var xs = torch.arange(size, dtype: ScalarType.Float32).view(1, -1).expand(size, size);
        var dx = xs - c;
        var dy = -(ys - c);                                                     // y up, angles counter-clockwise
        var orientation = (torch.atan2(dy, dx) + Math.PI).remainder(2 * Math.PI); // from the ring point to the centre
        var r = (dx.square() + dy.square()).sqrt();
        var alpha = (size * 0.06 + 0.5 - (r - size * 0.32).abs()).clamp(0, 1);
        var hue = CurveExtraction.HueToRgb(orientation / (2 * Math.PI));
        return (0.5 * (1 - alpha) + hue * alpha).MoveToOuterDisposeScope();
    }
}
