using System.Diagnostics;
using System.Globalization;
using Interpretability.Attribution;
using Interpretability.Imaging;
using Interpretability.Models;
using Interpretability.Nn;
using Interpretability.Probing;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Studies;

/// <summary>Options of <see cref="AttributionStudy"/> (the <c>interp attribute</c> command).</summary>
/// <param name="Model">Model spec: null = the zoo's trained ShapesNet; otherwise <c>zoo:NAME</c>, a TorchSharp weight file
/// of a known architecture or a TorchScript file (see <see cref="ModelZoo.Load"/>). Layer methods need hookable layers.</param>
/// <param name="Image">Path of a PNG/JPEG to explain (resized to the model's input size); null = a shapes test image.</param>
/// <param name="Target">Class to explain; null = the model's prediction.</param>
/// <param name="Method">A method name (see <see cref="AttributionStudy.MethodNames"/>) or <c>all</c>. One method runs the
/// sections that concern it only (integrated gradients: its convergence and the per-class means; LRP: its composites;
/// Grad-CAM: the hidden layers); <c>all</c> runs every section.</param>
/// <param name="Layer">Grad-CAM's layer (a <c>named_modules()</c> path with a <c>[batch, channels, h, w]</c> output); null = the
/// model's last convolution.</param>
public sealed record AttributionStudyOptions(string? Model = null, string? Image = null, long? Target = null, string Method = "all", string? Layer = null);

/// <summary>One attribution method as the study runs it.</summary>
/// <param name="Name">Name in <c>metrics.json</c>, file names and <c>--method</c>.</param>
/// <param name="Title">Title in the pictures.</param>
/// <param name="Run">Attributes (input <c>[1, C, H, W]</c>, target) → result; the study disposes the result.</param>
public sealed record AttributionStudyMethod(string Name, string Title, Func<Tensor, long, AttributionResult> Run);

/// <summary>A per-method metric the study computes for every method's result.</summary>
/// <param name="Key">Key in <c>per_method.NAME</c> of <c>metrics.json</c>.</param>
/// <param name="Evaluate">(model, input, target, result) → value, or null where the metric does not apply.</param>
public sealed record AttributionStudyMetric(string Key, Func<nn.Module<Tensor, Tensor>, Tensor, long, AttributionResult, double?> Evaluate);

/// <summary>
/// Attribution end to end on an image classifier (by default ShapesNet, a classifier of drawn shapes; any model
/// <see cref="ModelZoo.Load"/> opens, with layers chosen from the model's own convolutions): every gradient method (saliency, input × gradient, integrated
/// gradients, SmoothGrad, GradientSHAP, DeepLift, guided backprop, deconvolution, Grad-CAM, guided Grad-CAM, LRP) on one
/// input side by side, per-method overlays, integrated gradients' convergence by rule and steps, LRP conservation,
/// layer attributions, activation × weight circuits, and per-class mean attributions over a small dataset.
/// </summary>
public sealed class AttributionStudy : Study
{
    private readonly AttributionStudyOptions options;

    /// <summary>Creates the study.</summary>
    /// <exception cref="ArgumentException">Unknown method name.</exception>
    public AttributionStudy(AttributionStudyOptions? options = null)
    {
        this.options = options ?? new AttributionStudyOptions();
        if (this.options.Method != "all" && !MethodNames.Contains(this.options.Method))
            throw new ArgumentException($"Method must be 'all' or one of {string.Join(", ", MethodNames)}; got '{this.options.Method}'.", nameof(options));
        if (this.options.Target is < 0) throw new ArgumentOutOfRangeException(nameof(options), this.options.Target, "Target must be a non-negative class index.");
    }

    /// <inheritdoc />
    public override string Name => "attribution";

    /// <inheritdoc />
    public override string Title => "Attribution: which pixels and channels make the model say this";

    /// <summary>Every method name the study knows (the gradient methods; the perturbation methods join this list).</summary>
    public static IReadOnlyList<string> MethodNames { get; } = new[]
    {
        "saliency", "input_x_gradient", "integrated_gradients", "smoothgrad", "gradient_shap", "deeplift",
        "guided_backprop", "deconvolution", "grad_cam", "guided_grad_cam", "lrp",
        "occlusion", "feature_ablation", "shapley_value_sampling", "kernel_shap", "lime",
    };

    /// <summary>Class names of the default model (<see cref="ShapesDataset.ClassNames"/>).</summary>
    public static IReadOnlyList<string> ClassNames => ShapesDataset.ClassNames;

    /// <summary>
    /// A labelled dataset for the per-class means and the default input: the first <paramref name="count"/> images of
    /// the shapes test split (seed 1). Images <c>[N, 3, 64, 64]</c> in [0, 1], labels <c>[N]</c> int64.
    /// </summary>
    public static (Tensor Images, Tensor Labels) Dataset(int count)
    {
        using var split = ShapesDataset.Test(count);
        return (split.Images.clone(), split.Labels.clone());
    }

    /// <summary>
    /// The gradient methods as the study runs them (quick mode: fewer steps and samples). Perturbation methods are
    /// appended after these in <see cref="Run"/>.
    /// </summary>
    /// <param name="model">The classifier.</param>
    /// <param name="camLayer">Grad-CAM's layer (a convolution's path); null leaves Grad-CAM and guided Grad-CAM out.</param>
    /// <param name="quick">Fewer steps and samples.</param>
    /// <param name="seed">Seed of the random methods.</param>
    /// <param name="batches">Chooses integrated gradients' internal batch size.</param>
    public static IReadOnlyList<AttributionStudyMethod> GradientMethods(nn.Module<Tensor, Tensor> model, string? camLayer, bool quick, int seed, IBatchRunner? batches = null)
    {
        batches ??= FixedBatchRunner.Instance;
        int steps = quick ? 16 : 50, samples = quick ? 8 : 50;
        var ig = new IntegratedGradientsOptions(Steps: steps, InternalBatchSize: 25, ReturnConvergenceDelta: true);
        return new AttributionStudyMethod[]
        {
            new("saliency", "saliency |∂S/∂x|", (x, t) => new Saliency(model).Attribute(x, t)),
            new("input_x_gradient", "input × gradient", (x, t) => new InputXGradient(model).Attribute(x, t)),
            new("integrated_gradients", $"integrated gradients ({steps} GL steps)", (x, t) => batches.Run($"ig:{steps}:{string.Join('x', x.shape)}", 25,
                b => new IntegratedGradients(model).Attribute(x, t, ig with { InternalBatchSize = b }))),
            new("smoothgrad", $"SmoothGrad ({samples} samples, σ 15 %)", (x, t) => new NoiseTunnel(new Saliency(model).With(new SaliencyOptions(false))).Attribute(x, t, new NoiseTunnelOptions(Samples: samples, Seed: seed))),
            new("gradient_shap", "GradientSHAP", (x, t) => new GradientShap(model).Attribute(x, t, new GradientShapOptions(
                Baselines: stack(new[] { zeros_like(x[0]), ones_like(x[0]) }), Samples: quick ? 8 : 20, Seed: seed))),
            new("deeplift", "DeepLift (rescale)", (x, t) => new DeepLift(model).Attribute(x, t)),
            new("guided_backprop", "guided backprop", (x, t) => new GuidedBackprop(model).Attribute(x, t)),
            new("deconvolution", "deconvolution", (x, t) => new Deconvolution(model).Attribute(x, t)),
            new("grad_cam", $"Grad-CAM at {camLayer}", (x, t) => new GradCam(model, camLayer!).Attribute(x, t)),
            new("guided_grad_cam", "guided Grad-CAM", (x, t) => new GuidedGradCam(model, camLayer!).Attribute(x, t)),
            new("lrp", "LRP (ε for fc, z⁺ for conv)", (x, t) => new Lrp(model).Attribute(x, t)),
        }.Where(m => camLayer is not null || m.Name is not ("grad_cam" or "guided_grad_cam")).ToList();
    }

    /// <summary>
    /// The methods that promise completeness against the zero (black) baseline, Σ attributions = S(x) − S(0): integrated
    /// gradients (Sundararajan et al. 2017, "Axiomatic Attribution for Deep Networks", arXiv:1703.01365), DeepLift's rescale
    /// rule (summation-to-delta), and the Shapley estimators (efficiency). The others promise nothing of the kind
    /// (saliency, SmoothGrad, occlusion, …), or against another reference (GradientSHAP: an expectation over its baselines;
    /// LRP: relevance conservation, which biases break; its own check is in the LRP figure).
    /// </summary>
    public static IReadOnlySet<string> CompleteMethods { get; } = new HashSet<string> { "integrated_gradients", "deeplift", "shapley_value_sampling", "kernel_shap" };

    /// <summary>
    /// Per-method metrics of the gradient side: <c>completeness_error</c> = |Σ attributions − (S(x) − S(0))| / |S(x) − S(0)|
    /// for the methods of <see cref="CompleteMethods"/> whose attributions have the input's shape. Further metrics are
    /// appended after these in <see cref="Run"/>.
    /// </summary>
    public static IReadOnlyList<AttributionStudyMetric> GradientMetrics() => new AttributionStudyMetric[]
    {
        new("completeness_error", (model, x, t, r) =>
        {
            if (!CompleteMethods.Contains(r.Method) || !r.Attributions.shape.SequenceEqual(x.shape)) return null;
            using var scope = NewDisposeScope();
            using var ng = no_grad();
            var diff = (model.call(x)[0, t] - model.call(zeros_like(x))[0, t]).ToDouble();
            var sum = r.Attributions.sum().ToDouble();
            return Math.Abs(sum - diff) / Math.Max(Math.Abs(diff), 1e-12);
        }),
    };

    /// <summary>
    /// The perturbation methods as the study runs them, on images <c>[1, C, H, W]</c>: occlusion (8×8 windows, stride 4;
    /// all windows batched through <paramref name="batches"/>; on ShapesNet by exact incremental inference over its
    /// <see cref="SpatialChain"/>), and, on a grid of 8×8-pixel segments, feature ablation,
    /// Shapley value sampling, KernelSHAP and LIME (quick mode: fewer samples).
    /// </summary>
    public static IReadOnlyList<AttributionStudyMethod> PerturbationMethods(nn.Module<Tensor, Tensor> model, bool quick, int seed, IBatchRunner? batches = null)
    {
        batches ??= FixedBatchRunner.Instance;
        Tensor Mask(Tensor x) => FeatureMasks.Grid((int)x.shape[2], (int)x.shape[3], 8).to(x.device);
        int permutations = quick ? 3 : 10, samples = quick ? 64 : 400;
        var occlusion = model is ShapesNet shapes ? new Occlusion(shapes.AsSpatialChain()) : new Occlusion(model);
        return new AttributionStudyMethod[]
        {
            new("occlusion", "occlusion (8×8 window, stride 4)", (x, t) => batches.Run($"occlusion:{string.Join('x', x.shape)}", 128,
                b => occlusion.Attribute(x, t, new OcclusionOptions(8, 8, 4, 4, PerturbationsPerEval: b)))),
            new("feature_ablation", "feature ablation (8×8 segments)", (x, t) => new FeatureAblation(model).Attribute(x, t, new FeatureAblationOptions(Mask(x)))),
            new("shapley_value_sampling", $"Shapley sampling ({permutations} orderings of 8×8 segments)", (x, t) => new ShapleyValueSampling(model).Attribute(x, t,
                new ShapleyValueSamplingOptions(Mask(x), Permutations: permutations, Seed: seed))),
            new("kernel_shap", $"KernelSHAP ({samples} coalitions)", (x, t) => new KernelShap(model).Attribute(x, t, new KernelShapOptions(Mask(x), Samples: samples, Seed: seed))),
            new("lime", $"LIME ({samples} samples, 8×8 segments)", (x, t) => new Lime(model).Attribute(x, t, new LimeOptions(Mask(x), Samples: samples, Seed: seed))),
        };
    }

    /// <inheritdoc />
    public override void Run(StudyContext context, ReportSection section, Metrics metrics)
    {
        RunStudy(context, section, metrics);
    }

    private void RunStudy(StudyContext context, ReportSection section, Metrics metrics)
    {
        bool quick = context.Quick;
        var device = context.Device;
        Report(context, "opening the model", 0.02);
        using var opened = StudyModel.Open(options.Model, device);
        var model = opened.Module;
        var layers = ChooseLayers(opened, options.Layer);
        var (shapeImages, labels) = Dataset(110);
        var images = opened.Adapt(shapeImages);
        long size = opened.InputShape[1];
        // The default input: the first of these images of the class the seed picks (seed 0: circle) — the same in quick
        // and full mode; the per-class dataset is the first 22 images with --quick.
        var ofClass = (labels == context.Seed % ClassNames.Count).nonzero().flatten();
        var defaultIndex = ofClass.numel() > 0 ? ofClass[0].ToInt64() : 0;
        var defaultLabel = labels[defaultIndex].ToInt64();
        var image = (options.Image is null ? images[defaultIndex].clone() : opened.Adapt(Png.Read(options.Image, (int)size, (int)opened.InputShape[2]).unsqueeze(0))[0]).to(device);
        if (quick) (images, labels) = (images.narrow(0, 0, 22), labels.narrow(0, 0, 22));
        var x = image.unsqueeze(0);
        var picture = image.shape[0] == 1 ? image.expand(3, -1, -1) : image;   // what the overlays are drawn on
        Tensor logits;
        using (no_grad()) logits = model.call(x);
        var classes = logits.shape[1];
        var predicted = logits[0].argmax().ToInt64();
        var target = options.Target ?? predicted;
        if (target >= classes) throw new ArgumentOutOfRangeException(nameof(options), target, $"target must be in [0, {classes - 1}] for this model's {classes} classes; got {target}.");
        string ClassName(long c) => classes == ClassNames.Count ? ClassNames[(int)c] : c.ToString(CultureInfo.InvariantCulture);
        metrics.Set("model", options.Model ?? StudyModel.DefaultSpec);
        metrics.Set("image", options.Image is null ? $"shapes test image {defaultIndex} ({ClassName(defaultLabel)})" : Path.GetFileName(options.Image));
        metrics.Set("target", target);
        metrics.Set("target_name", ClassName(target));
        metrics.Set("predicted_class", predicted);
        section.Paragraph($"Model: {(options.Model is null ? $"ShapesNet from the model zoo (conv1–conv4 with ReLU and max pooling, global average, fc → 11 shape classes; {ModelZoo.ShapesNetAccuracy:P1} test accuracy)" : $"{options.Model} ({opened.Loaded.Description})")}. " +
                          $"Input: {(options.Image is null ? $"shapes test image {defaultIndex}" : Path.GetFileName(options.Image))}, {size}×{size}. Explained class: {target} ({ClassName(target)}); the model predicts {predicted} ({ClassName(predicted)}).");

        // ---- 1. Every method on one input -----------------------------------------------------------------------------
        section.Heading("Every method on one input");
        section.Cite("simonyan2013", "shrikumar2016", "sundararajan2017", "smilkov2017", "lundberg2017", "shrikumar2017", "springenberg2014", "zeiler2014", "selvaraju2017", "bach2015", "castro2009", "strumbelj2010", "ribeiro2016");
        var methods = new List<AttributionStudyMethod>();
        methods.AddRange(GradientMethods(model, layers.Cam, quick, context.Seed, context.Batches));
        methods.AddRange(PerturbationMethods(model, quick, context.Seed, context.Batches));
        var perMethodMetrics = new List<AttributionStudyMetric>();
        perMethodMetrics.AddRange(GradientMetrics());

        var selected = options.Method == "all" ? methods : methods.Where(m => m.Name == options.Method).ToList();
        var tiles = new List<(string, Tensor)>();
        var perMethod = new Metrics();
        var rows = new List<IReadOnlyList<string>>();
        var ran = new List<AttributionStudyMethod>();
        var refused = new List<KeyValuePair<string, string>>();
        for (int i = 0; i < selected.Count; i++)
        {
            var method = selected[i];
            Report(context, $"attributing with {method.Name}", 0.05 + 0.45 * i / selected.Count);
            using var scope = NewDisposeScope();
            var watch = Stopwatch.StartNew();
            AttributionResult result;
            try
            {
                result = method.Run(x, target);
            }
            catch (Exception e) when (e is ArgumentException { ParamName: "model" or "layer" } or InvalidOperationException)
            {
                // A method that cannot explain this model says why (e.g. a nonlinearity it cannot hook): shown, not fatal.
                refused.Add(new(method.Name, e.Message));
                rows.Add(new[] { method.Name, "refused", e.Message });
                continue;
            }
            using var owned = result;
            ran.Add(method);
            var seconds = watch.Elapsed.TotalSeconds;
            var m = new Metrics();
            m.Set("seconds", Math.Round(seconds, 3));
            m.Set("max_abs", result.Attributions.abs().max().ToDouble());
            m.Set("sum", result.Attributions.sum().ToDouble());
            foreach (var (key, value) in result.Metadata) if (double.IsFinite(value)) m.Set(key, value);
            foreach (var metric in perMethodMetrics)
                if (metric.Evaluate(model, x, target, result) is double v && double.IsFinite(v)) m.Set(metric.Key, v);
            perMethod.Set(method.Name, m);
            var one = result.Attributions[0].cpu().detach().clone().MoveToOuterDisposeScope();
            tiles.Add((method.Title, one));
            context.SavePng($"overlay_{method.Name}.png", AttributionPictures.OverlayPicture(picture.cpu(), one, method.Title), method.Title);
            rows.Add(new[] { method.Name, seconds.ToString("F3", CultureInfo.InvariantCulture), m.Contains("completeness_error") ? m.GetDouble("completeness_error").ToString("G3", CultureInfo.InvariantCulture) : "does not apply" });
        }
        metrics.Set("methods", ran.Select(m => m.Name));
        if (refused.Count > 0) metrics.Set("refused_methods", refused.Select(r => new Metrics().Set("method", r.Key).Set("reason", r.Value)));
        metrics.Set("per_method", perMethod);
        AtomicFile.WriteAllBytes(context.PathOf("comparison_grid.png"), AttributionPictures.ComparisonGrid(picture.cpu(), tiles,
            $"Attribution of class {target} ({ClassName(target)}) by every method"));
        section.AddFigure(context.Figure("comparison_grid.png", "Every method on the same input. Signed maps: red raises the explained score, blue lowers it. Unsigned maps (saliency's |∂S/∂x|, Grad-CAM after its ReLU, tiles marked |·|) have no sign to show: white is 0 and red the largest magnitude. Each map is scaled to the 98th percentile of its own |values| (as Captum clips outliers), quoted in its title. Occlusion, feature ablation and the Shapley estimators replace pixels by black, which this network never saw in a shape's background: where they light the background, they measure the effect of an out-of-distribution black patch, not of the pixels."));
        section.AddTable(new Table("Per method: run time and completeness error |Σ attributions − (S(x) − S(0))| / |S(x) − S(0)|, for the methods that promise completeness against the black image (integrated gradients, DeepLift, Shapley sampling, KernelSHAP); the other methods make no such promise.",
            new[] { "method", "seconds", "completeness error" }, rows));
        section.AddFigureRow(ran.Select(m => context.Figure($"overlay_{m.Name}.png", m.Title)).ToList());
        foreach (var (_, t) in tiles) t.Dispose();
        FaithfulnessSection(context, section, metrics, opened, layers, x, target, ran, picture);
        // The sections of the methods that ran (a refused method's section would only repeat its refusal).
        bool Ran(string name) => ran.Any(m => m.Name == name);
        if (Ran("integrated_gradients")) ConvergenceSection(context, section, metrics, model, x, target);
        if (Ran("lrp")) LrpSection(context, section, metrics, model, x, target, picture);
        if (Ran("grad_cam") || (options.Method == "guided_grad_cam" && Ran("guided_grad_cam"))) LayerSection(context, section, metrics, opened, layers, x, target, picture);
        if (options.Method == "all") CircuitSection(context, section, metrics, opened, layers, x);
        if (Ran("integrated_gradients")) PerClassSection(context, section, metrics, opened, images, labels, ClassName);
        Report(context, "done", 1);
    }

    private void ConvergenceSection(StudyContext context, ReportSection section, Metrics metrics, nn.Module<Tensor, Tensor> model, Tensor x, long target)
    {
        bool quick = context.Quick;
        Report(context, "integrated gradients convergence", 0.55);
        section.Heading("Integrated gradients: convergence with the number of steps");
        section.Cite("sundararajan2017");
        var stepsList = quick ? new[] { 4, 8, 16, 32 } : new[] { 4, 8, 16, 32, 64, 128 };
        var series = new List<Series>();
        var ig = new IntegratedGradients(model);
        double igDelta = double.NaN;
        var glRelative = new List<KeyValuePair<string, double>>();
        foreach (var rule in Enum.GetValues<IntegrationRule>())
        {
            var ys = new List<double>();
            foreach (var s in stepsList)
            {
                using var r = ig.Attribute(x, target, new IntegratedGradientsOptions(s, rule, InternalBatchSize: 32, ReturnConvergenceDelta: true));
                ys.Add(Math.Max(r.Metadata["convergence_delta"], 1e-12));
                if (rule == IntegrationRule.GaussLegendre) glRelative.Add(new(s.ToString(CultureInfo.InvariantCulture), r.Metadata["convergence_delta_relative"]));
            }
            series.Add(new Series(rule.ToString(), stepsList.Select(s => (double)s).ToList(), ys, Markers: true));
        }
        using (var r50 = ig.Attribute(x, target, new IntegratedGradientsOptions(50, InternalBatchSize: 50, ReturnConvergenceDelta: true)))
        {
            igDelta = r50.Metadata["convergence_delta"];
            metrics.Set("ig_convergence_delta", igDelta);
            metrics.Set("ig_convergence_delta_relative", r50.Metadata["convergence_delta_relative"]);
            metrics.Set("ig_score_difference", r50.Metadata["score_difference"]);
        }
        metrics.Set("ig_convergence_relative_by_steps", glRelative);
        section.AddFigure(context.SavePng("ig_convergence.png", Charts.Line(series, new ChartOptions("Integrated gradients: completeness error by rule", "steps", "|Σ IG − (S(x) − S(0))|", LogX: true, LogY: true)),
            $"Completeness error of integrated gradients as the number of steps grows, per quadrature rule (zero baseline = black image). At 50 Gauss–Legendre steps: {igDelta:G3}, " +
            $"{metrics.GetDouble("ig_convergence_delta_relative"):P2} of the score difference {metrics.GetDouble("ig_score_difference"):G3} (ReLU kinks and max pooling along the path make the integrand non-smooth, so the error falls only polynomially with the steps, and 1 % needs more steps than 50)."));

    }

    private void LrpSection(StudyContext context, ReportSection section, Metrics metrics, nn.Module<Tensor, Tensor> model, Tensor x, long target, Tensor image)
    {
        Report(context, "LRP", 0.65);
        section.Heading("LRP: composites and conservation");
        section.Cite("bach2015");
        var composites = new[] { LrpComposite.EpsilonPlus(), LrpComposite.EpsilonGamma(), LrpComposite.EpsilonAlpha2Beta1(), LrpComposite.Uniform(new EpsilonRule()) };
        var lrpTiles = new List<(string, Tensor)>();
        var lrp = new Lrp(model);
        var conservation = new List<KeyValuePair<string, double>>();
        foreach (var c in composites)
        {
            using var r = lrp.Attribute(x, target, new LrpOptions(c));
            conservation.Add(new(c.Name, r.Metadata["conservation_error"]));
            lrpTiles.Add(($"LRP {c.Name}", r.Attributions[0].cpu().clone()));
        }
        metrics.Set("lrp_conservation_error", conservation[0].Value);
        metrics.Set("lrp_conservation_error_by_composite", conservation);
        AtomicFile.WriteAllBytes(context.PathOf("lrp_composites.png"), AttributionPictures.ComparisonGrid(image.cpu(), lrpTiles, "LRP composites"));
        section.AddFigure(context.Figure("lrp_composites.png",
            $"LRP with four composites. Conservation error |Σ R_input − R_output| / |R_output| (R_output = the target logit; biases absorb relevance): " +
            string.Join(", ", conservation.Select(kv => $"{kv.Key} {kv.Value:G3}")) + "."));
        foreach (var (_, t) in lrpTiles) t.Dispose();

    }

    private void LayerSection(StudyContext context, ReportSection section, Metrics metrics, StudyModel opened, AttributionLayers layers, Tensor x, long target, Tensor image)
    {
        var model = opened.Module;
        Report(context, "layer attributions", 0.72);
        section.Heading("Attribution at hidden layers");
        section.Cite("selvaraju2017", "sundararajan2017");
        var layerTiles = new List<(string, Tensor)>();
        foreach (var layer in layers.GradCamLayers)
        {
            using var r = new GradCam(model, layer).Attribute(x, target);
            layerTiles.Add(($"Grad-CAM {layer}", r.Attributions[0].cpu().clone()));
        }
        if (layers.LayerIg is { } ligLayer)
            using (var lig = new LayerIntegratedGradients(model, ligLayer).Attribute(x, target, new IntegratedGradientsOptions(context.Quick ? 16 : 50, InternalBatchSize: 32, ReturnConvergenceDelta: true)))
            {
                metrics.Set("layer_ig_convergence_delta", lig.Metadata["convergence_delta"]);
                layerTiles.Add(($"layer IG {ligLayer} (Σ channels)", lig.Attributions[0].sum(dim: 0, keepdim: true).cpu()));
            }
        AtomicFile.WriteAllBytes(context.PathOf("layers.png"), AttributionPictures.ComparisonGrid(image.cpu(), layerTiles, "Attribution at hidden layers"));
        section.AddFigure(context.Figure("layers.png", $"Grad-CAM at {Join(layers.GradCamLayers)} (coarser with depth)" +
            (layers.LayerIg is { } l ? $" and layer integrated gradients at {l} summed over channels" : "") + ", upsampled to the input."));
        foreach (var (_, t) in layerTiles) t.Dispose();
    }

    private static string Join(IReadOnlyList<string> names) => names.Count switch
    {
        0 => "no layer",
        1 => names[0],
        _ => string.Join(", ", names.Take(names.Count - 1)) + " and " + names[^1],
    };

    private void CircuitSection(StudyContext context, ReportSection section, Metrics metrics, StudyModel opened, AttributionLayers layers, Tensor x)
    {
        var model = opened.Module;
        Report(context, "circuits", 0.8);
        section.Heading("Circuits: activation × weight and expanded weights");
        section.Cite("cammarata2020", "voss2021");
        if (layers.Circuit is not var (from, to, toPositions))
        {
            section.Paragraph("Circuits need three convolutions; this model has " + opened.Convolutions.Count + ".");
            return;
        }
        using (var circuit = Circuits.Attribute(model, x, from, to))
        {
            var a = circuit.Attributions[0].cpu();
            var values = new double[a.shape[0], a.shape[1]];
            var data = a.to(float64).data<double>().ToArray();
            for (int o = 0; o < a.shape[0]; o++) for (int i = 0; i < a.shape[1]; i++) values[o, i] = data[o * a.shape[1] + i];
            section.AddFigure(context.SavePng($"circuit_{from}_{to}.png", Charts.Heatmap(values,
                new ChartOptions($"Activation × weight: {from} channel → {to} channel (summed over positions)", $"{from} channel (in)", $"{to} channel (out)", Width: 700, Height: 700), "attribution", diverging: true),
                $"Activation × weight attribution from every {from} channel to every {to} channel on this input (rows sum to {to}'s pre-activation minus bias, exactly)."));
            var bias = ((nn.Module)model).named_parameters().FirstOrDefault(p => p.name == to + ".bias").parameter;
            if (bias is not null)
            {
                // The pre-activation is summed over the positions of the convolution's output, so its bias counts once per position.
                var err = (circuit.Attributions.sum(dim: 2) - (circuit.Preactivation - bias.detach() * toPositions)).abs().max().ToDouble();
                metrics.Set("circuit_decomposition_error", err);
            }
        }
        var pictures = new List<Figure>();
        if (layers.Adjacent is var (adjacentFrom, adjacentTo))
            using (var kernels = Circuits.ExpandedWeights(model, x, adjacentFrom, adjacentTo))
                pictures.Add(context.SavePng($"weights_{adjacentFrom}_{adjacentTo}.png", Circuits.KernelPicture(kernels, $"Weights {adjacentFrom} → {adjacentTo} (adjacent: {adjacentTo}'s kernels)", maxOut: 12, maxIn: 16),
                    $"{adjacentTo}'s own {kernels.shape[2]}×{kernels.shape[3]} kernels (first 12 output × 16 input channels)."));
        if (layers.Expanded is var (expandedFrom, expandedTo, between))
            using (var kernels = Circuits.ExpandedWeights(model, x, expandedFrom, expandedTo))
            {
                pictures.Add(context.SavePng($"expanded_weights_{expandedFrom}_{expandedTo}.png",
                    Circuits.KernelPicture(kernels, $"Expanded weights {expandedFrom} → {expandedTo} (max pooling as average, activations as identity)", maxOut: 12, maxIn: 16),
                    $"Expanded weights from {expandedFrom} to {expandedTo} across {Join(between)}, linearised as in 'Visualizing Weights'."));
                metrics.Set("expanded_weights_shape", kernels.shape);
            }
        if (pictures.Count > 0) section.AddFigureRow(pictures);
    }

    private void PerClassSection(StudyContext context, ReportSection section, Metrics metrics, StudyModel opened, Tensor images, Tensor labels, Func<long, string> className)
    {
        var model = opened.Module;
        var quick = context.Quick;
        var device = context.Device;
        Report(context, "per-class means over a dataset", 0.88);
        section.Heading("Per-class mean attributions over a dataset");
        images = images.to(device);
        // A model of the shapes classes explains every image's label; any other model its own prediction.
        Tensor targets;
        if (opened.ClassifiesShapes) targets = labels.to(device);
        else using (no_grad()) targets = model.call(images).argmax(1);
        var classes = opened.Classes;
        var igStream = new IntegratedGradients(model).With(new IntegratedGradientsOptions(quick ? 8 : 32, InternalBatchSize: 64));
        using (var perClass = DatasetAttribution.PerClassMean(igStream, images, targets, (int)classes, batchSize: 4, cancellation: context.Cancellation))
        {
            var present = Enumerable.Range(0, (int)classes).Where(c => perClass.Counts[c] > 0).ToList();
            var classTiles = present.Select(c => ($"{className(c)} (n={perClass.Counts[c]})", perClass.Means[c].cpu())).ToList();
            var meanImage = images.mean(new long[] { 0 }).cpu();
            AtomicFile.WriteAllBytes(context.PathOf("per_class_mean.png"), AttributionPictures.ComparisonGrid(meanImage, classTiles, "Mean integrated gradients per class (over the mean image)"));
            metrics.Set("dataset_size", images.shape[0]);
            metrics.Set("dataset_classes", present.Select(c => className(c)));
        }
        section.AddFigure(context.Figure("per_class_mean.png", $"Integrated gradients of every image's {(opened.ClassifiesShapes ? "own class" : "predicted class")} over the first {images.shape[0]} shapes test images, streamed in batches of 4 and averaged per class (drawn over the mean image; shapes vary in position, so the means blur)."));
    }

    /// <summary>The layers the study's sections use, chosen from the model's own convolutions.</summary>
    /// <param name="Cam">Grad-CAM's layer; null for a model without a convolution (Grad-CAM is then left out).</param>
    /// <param name="GradCamLayers">Grad-CAM at several depths: the last three convolutions.</param>
    /// <param name="LayerIg">Layer integrated gradients: the activation after the second-last convolution.</param>
    /// <param name="Circuit">Activation × weight: from the activation after the third-last convolution to the second-last
    /// convolution, with the number of output positions of the latter.</param>
    /// <param name="Expanded">Expanded weights: from the activation after the fourth-last convolution to the second-last, and the leaf layers between.</param>
    /// <param name="Adjacent">Adjacent weights: from the layer that feeds the third-last convolution to it.</param>
    public sealed record AttributionLayers(string? Cam, IReadOnlyList<string> GradCamLayers, string? LayerIg, (string From, string To, long ToPositions)? Circuit,
        (string From, string To, IReadOnlyList<string> Between)? Expanded, (string From, string To)? Adjacent);

    /// <summary>
    /// Chooses the layers of every section from the model's convolutions (for ShapesNet: Grad-CAM at conv4, conv2–conv4,
    /// layer IG at relu3, circuit relu2 → conv3, expanded weights relu1 → conv3, adjacent weights pool1 → conv2).
    /// </summary>
    /// <param name="model">The surveyed model.</param>
    /// <param name="camLayer">Grad-CAM's layer, or null for the last convolution.</param>
    /// <exception cref="ArgumentException">The layer does not exist or has no <c>[batch, channels, h, w]</c> output.</exception>
    public static AttributionLayers ChooseLayers(StudyModel model, string? camLayer)
    {
        ArgumentNullException.ThrowIfNull(model);
        var convs = model.Convolutions;
        string? cam;
        if (camLayer is not null)
        {
            var layer = model.Layer(camLayer, "layer");
            if (!layer.IsSpatial)
                throw new ArgumentException($"layer: Grad-CAM needs a layer with a [batch, channels, h, w] output; '{camLayer}' gives [{string.Join(", ", layer.OutputShape)}]. " +
                                            $"Spatial layers: {string.Join(", ", model.Layers.Where(l => l.IsSpatial).Select(l => l.Path).Distinct())}.", "layer");
            cam = camLayer;
        }
        else cam = convs.Count > 0 ? convs[^1].Path : null;
        var gradCamLayers = convs.Skip(Math.Max(0, convs.Count - 3)).Select(c => c.Path).ToList();
        if (gradCamLayers.Count == 0 && cam is not null) gradCamLayers.Add(cam);
        string? layerIg = convs.Count >= 2 ? LayerSurvey.ActivationAfter(model.Layers, convs[^2]).Path : null;
        (string, string, long)? circuit = null;
        (string, string, IReadOnlyList<string>)? expanded = null;
        (string, string)? adjacent = null;
        if (convs.Count >= 3)
        {
            var to = convs[^2];
            circuit = (LayerSurvey.ActivationAfter(model.Layers, convs[^3]).Path, to.Path, to.OutputShape[2] * to.OutputShape[3]);
            if (LayerSurvey.LeafBefore(model.Layers, convs[^3]) is { } feed) adjacent = (feed.Path, convs[^3].Path);
        }
        if (convs.Count >= 4)
        {
            var from = LayerSurvey.ActivationAfter(model.Layers, convs[^4]);
            var to = convs[^2];
            expanded = (from.Path, to.Path, LayerSurvey.LeavesBetween(model.Layers, from, to).Select(l => l.Path).ToList());
        }
        return new AttributionLayers(cam, gradCamLayers, layerIg, circuit, expanded, adjacent);
    }

    /// <summary>
    /// Max-sensitivity per method, the deletion and insertion curves of every method on one chart each, and the
    /// cascading-randomisation sanity check (Adebayo et al. 2018) of every method, with its strip for three of them.
    /// </summary>
    private void FaithfulnessSection(StudyContext context, ReportSection section, Metrics metrics, StudyModel opened, AttributionLayers layers, Tensor x, long target,
        IReadOnlyList<AttributionStudyMethod> selected, Tensor image)
    {
        var quick = context.Quick;
        var model = opened.Module;
        Report(context, "faithfulness metrics", 0.5);
        section.Heading("Faithfulness and the randomisation sanity check");
        section.Cite("yeh2019", "petsiuk2018", "adebayo2018");
        var sensitivity = new List<KeyValuePair<string, double>>();
        var infidelity = new List<KeyValuePair<string, double>>();
        var deletion = new List<KeyValuePair<string, double>>();
        var insertion = new List<KeyValuePair<string, double>>();
        var curves = new List<(string, DeletionInsertionCurves)>();
        var rowsOf = new Dictionary<string, string[]>();
        foreach (var method in selected)
        {
            using var scope = NewDisposeScope();
            using var r = method.Run(x, target);
            if (r.Attributions.shape.SequenceEqual(x.shape))
            {
                infidelity.Add(new(method.Name, Infidelity.Compute(model.call, x, target, r.Attributions, new InfidelityOptions(Samples: quick ? 16 : 64, NoiseStd: 0.03, Seed: context.Seed))));
                // Perturbation methods cost hundreds of forward passes each: fewer sensitivity samples for them.
                var expensive = PerturbationNames.Contains(method.Name);
                var s = MaxSensitivity.Compute((input, t) => { using var rr = method.Run(input, t); return rr.Attributions.clone(); }, x, target,
                    new MaxSensitivityOptions(Samples: quick || expensive ? 3 : 10, Seed: context.Seed));
                sensitivity.Add(new(method.Name, s.Relative));
            }
            if (r.Attributions.dim() == 4)
            {
                var c = DeletionInsertion.Compute(model.call, x, target, r.Attributions, new DeletionInsertionOptions(Steps: quick ? 16 : 64));
                curves.Add((method.Name, c));
                deletion.Add(new(method.Name, c.DeletionAuc));
                insertion.Add(new(method.Name, c.InsertionAuc));
            }
        }
        metrics.Set("infidelity", infidelity);
        metrics.Set("sensitivity", sensitivity);
        metrics.Set("deletion_auc", deletion);
        metrics.Set("insertion_auc", insertion);
        section.AddFigureRow(new[]
        {
            context.SavePng("deletion_curves.png", DeletionInsertion.Chart(curves, "Curves"),
                "Deletion curves (Petsiuk et al. 2018): the target's probability as the pixels a method ranks highest are replaced by the image's mean colour first; a faithful map makes it fall fast (small area)."),
            context.SavePng("insertion_curves.png", DeletionInsertion.InsertionChart(curves, "Curves"),
                "Insertion curves: pixels inserted into a blurred copy of the image (Gaussian σ = 8 px), most important first, as Petsiuk et al. do; a faithful map makes the probability rise fast (large area)."),
        });

        Report(context, "randomisation sanity check", 0.53);
        var correlation = new List<KeyValuePair<string, double>>();
        var strips = new List<Figure>();
        foreach (var method in selected)
        {
            if (PerturbationNames.Contains(method.Name) && quick) continue;
            // The method is rebuilt around the randomised copy: the study's methods close over the model, so a second
            // list is made for every copy.
            Tensor Attribute(nn.Module<Tensor, Tensor> m, Tensor input, long t)
            {
                var rebuilt = GradientMethods(m, layers.Cam, true, context.Seed).Concat(PerturbationMethods(m, true, context.Seed)).First(z => z.Name == method.Name);
                using var rr = rebuilt.Run(input, t);
                return rr.Attributions.clone();
            }
            using var cascade = ModelRandomization.Run(model, opened.Reopen, Attribute, x, target, context.Seed);
            correlation.Add(new(method.Name, cascade.Steps[^1].RankCorrelation));
            if (method.Name is "saliency" or "integrated_gradients" or "guided_backprop")
            {
                using var strip = ModelRandomization.Strip(image.cpu(), cascade, method.Title);
                strips.Add(context.SavePng($"sanity_{method.Name}.png", Png.Encode(strip),
                    $"Cascading randomisation of {method.Title}: ρ after every layer is random = {cascade.Steps[^1].RankCorrelation:F2}."));
            }
        }
        metrics.Set("randomization_rank_correlation", correlation);
        if (strips.Count > 0) section.AddFigureRow(strips);
        section.AddTable(new Table("Faithfulness per method: infidelity (Yeh et al. 2019, Gaussian σ = 0.03, normalised; lower is better), relative max-sensitivity (r = 0.02; lower is steadier), " +
                                   "deletion / insertion AUC (probability; lower / higher is better), and the Spearman correlation of |map| with the original after every layer is re-initialised (Adebayo et al. 2018; near 1 = the map ignores the model).",
            new[] { "method", "infidelity", "sensitivity", "deletion AUC", "insertion AUC", "randomised ρ" },
            selected.Select(m => (IReadOnlyList<string>)new[]
            {
                m.Name, Find(infidelity, m.Name, "G3"), Find(sensitivity, m.Name, "F3"), Find(deletion, m.Name, "F3"), Find(insertion, m.Name, "F3"), Find(correlation, m.Name, "F2"),
            }).ToList()));
    }

    private static string Find(List<KeyValuePair<string, double>> values, string name, string format) =>
        values.FirstOrDefault(kv => kv.Key == name) is { Key: not null } kv ? kv.Value.ToString(format, CultureInfo.InvariantCulture) : "—";

    private static readonly HashSet<string> PerturbationNames = new() { "occlusion", "feature_ablation", "shapley_value_sampling", "kernel_shap", "lime" };
}
