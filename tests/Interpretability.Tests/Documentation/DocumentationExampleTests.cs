using System.Text.RegularExpressions;
using Interpretability.Attribution;
using Interpretability.Ensembles;
using Interpretability.FeatureVisualization;
using Interpretability.Imaging;
using Interpretability.LearningDynamics;
using Interpretability.Models;
using Interpretability.NeuronStudies;
using Interpretability.Nn;
using Interpretability.Probing;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Tests.Documentation;

/// <summary>
/// Every C# example of the README and of the XML docs (<c>&lt;example&gt;&lt;code&gt;</c>), run and checked for what it claims.
/// The examples' lines are copied into these tests verbatim; <see cref="Every_documented_example_line_is_run_by_a_test"/>
/// fails when the README or a doc comment changes and the test here does not (paths written with
/// <c>Path.Combine(dir, "x.png")</c> stand for the README's <c>"x.png"</c>; <c>TorchSession.Start</c> lines are covered by
/// the session tests, since the test process has its session already).
/// </summary>
public class DocumentationExampleTests
{
    private static string TempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "interp-doc-examples", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static bool IsPng(string path) => File.Exists(path) && File.ReadAllBytes(path).Take(4).SequenceEqual(new byte[] { 0x89, 0x50, 0x4E, 0x47 });

    [Fact]
    public void Readme_quick_start_captures_ablates_and_draws()
    {
        var dir = TempDir();
        using var model = ReferenceModels.SmallCnn(inChannels: 3, classes: 10, seed: 1);
        var images = rand(new long[] { 8, 3, 64, 64 });                // [batch, channels, height, width]

        // 1. Capture layers in one forward pass (detached tensors, owned by you).
        using var capture = ActivationRecorder.Capture(model, images, new[] { "conv1", "relu3" });
        Png.Save(capture["conv1"][0, 0], Path.Combine(dir, "conv1_ch0.png"), new PngOptions(Normalization.MinMax, Colormap.Viridis, Scale: 4));
        Assert.Equal(8, capture["conv1"].shape[0]);
        Assert.True(IsPng(Path.Combine(dir, "conv1_ch0.png")));

        // 2. Ablate channels 0 and 5 of relu3 while the scope lives (hooks removed even if forward throws).
        Tensor ablated;
        using (Ablation.Zero(model, "relu3", new long[] { 0, 5 }))
        {
            Console.WriteLine(model.call(images)[0].ToString(TorchSharp.TensorStringStyle.Numpy));
            ablated = model.call(images).detach();
        }
        // the same as replacing relu3's output by hand, and different from the intact model
        var keep = ones(1, capture["relu3"].shape[1], 1, 1);
        keep[0, 0] = 0; keep[0, 5] = 0;
        using (OutputReplacement.Apply(model, "relu3", o => o * keep))
            Assert.True(allclose(ablated, model.call(images), 1e-5, 1e-6));
        Assert.False(allclose(ablated, model.call(images), 1e-5, 1e-6));

        // 3. Gradient of a logit at a layer, drawn over the input.
        using var g = LayerGradient.Compute(model, images, "relu3", y => y[0, 3]);
        var map = (g.Gradient.mean(new long[] { 2, 3 }, keepdim: true) * g.Activation).sum(1)[0];
        Png.Save(Overlay.Heatmap(images[0], map), Path.Combine(dir, "gradient_overlay.png"));
        Assert.True(IsPng(Path.Combine(dir, "gradient_overlay.png")));
        Assert.True(map.abs().max().ToDouble() > 0);

        Directory.Delete(dir, true);
    }

    [Fact]
    public void Readme_package_example_prints_the_shape()
    {
        using var model = ReferenceModels.SmallCnn(inChannels: 3, classes: 10, seed: 1);
        using var capture = ActivationRecorder.Capture(model, rand(new long[] { 1, 3, 64, 64 }), new[] { "conv1" });
        Console.WriteLine(string.Join("x", capture["conv1"].shape));
        Assert.Equal(new long[] { 1, 64, 64 }, capture["conv1"].shape.Where((_, i) => i != 1).ToArray());
    }

    [Fact]
    public void Readme_integrated_gradients_is_complete_and_returns_the_delta()
    {
        using var model = ModelZoo.ShapesNet();
        model.eval();
        var image = ShapesDataset.Test(4).Images.narrow(0, 0, 1);
        using var r = new IntegratedGradients(model).Attribute(image, target: 3,
            new IntegratedGradientsOptions(Steps: 50, Rule: IntegrationRule.GaussLegendre, InternalBatchSize: 32, ReturnConvergenceDelta: true));
        var attributions = r.Attributions;                 // [1, 3, 64, 64], detached, owned by the result
        var delta = r.ConvergenceDelta;                    // [1]: Σ IG − (S(x) − S(x′)) per example, signed (on request, as Captum)
        Assert.Equal(new long[] { 1, 3, 64, 64 }, attributions.shape);
        using var _ = no_grad();
        var gap = (model.call(image)[0, 3] - model.call(zeros_like(image))[0, 3]).ToDouble();
        // the delta is what it says, and small: 50 Gauss–Legendre nodes leave a few per cent on this max-pooling network
        Assert.Equal(attributions.sum().ToDouble() - gap, delta![0].ToDouble(), Math.Abs(gap) * 1e-4);
        Assert.True(Math.Abs(delta[0].ToDouble()) <= 0.1 * Math.Abs(gap), $"delta {delta[0].ToDouble()} for a score gap {gap}");
    }

    [Fact]
    public void Readme_feature_visualisation_raises_the_channel_and_draws_a_picture()
    {
        using var model = ModelZoo.ShapesNet();
        model.eval();
        var viz = new FeatureVisualizer(model);
        var objective = Objective.Channel("relu3", 5) - 0.5 * Objective.TotalVariation();
        using var r = viz.Visualize(objective, new FeatureVisualizationOptions(Height: 64, Width: 64, Steps: 512, Seed: 0));
        // r.Images: [1, 3, 64, 64] in [0, 1]; r.Trace: 512 values
        Assert.Equal(new long[] { 1, 3, 64, 64 }, r.Images.shape);
        Assert.Equal(512, r.Trace.Count);
        Assert.True(r.Trace[^1] >= 10 * r.Trace[0], $"objective {r.Trace[0]:0.000} → {r.Trace[^1]:0.000}");
        Assert.True(r.Images.std().ToDouble() > 0.1, "a flat picture");   // not a grey square

        // four diverse images of one channel (the diversity weight depends on the activations' scale: Lucid used 1e2–1e3 on
        // InceptionV1; on ShapesNet about half the channel's mean test-set activation)
        using var d = viz.Visualize(Objective.Channel("relu3", 5) + 0.5 * Objective.Diversity("relu3"),
            new FeatureVisualizationOptions(Batch: 4, Height: 64, Width: 64));
        Assert.Equal(4, d.Images.shape[0]);
        for (int i = 1; i < 4; i++) Assert.True((d.Images[i] - d.Images[0]).abs().mean().ToDouble() > 0.05, $"image {i} is a copy of image 0");

        // every channel of a layer in one batch: image i maximises channel c_i
        var all = Enumerable.Range(0, 8).Select(i => Objective.Channel("relu3", i, batch: i)).Aggregate((a, b) => a + b);
        using var grid = viz.Visualize(all, new FeatureVisualizationOptions(Batch: 8, Height: 64, Width: 64));
        using var acts = ActivationRecorder.Capture(model, grid.Images, new[] { "relu3" });
        var means = acts["relu3"].mean(new long[] { 2, 3 });         // [8 images, channels]
        for (int i = 0; i < 8; i++)
            Assert.True(means[i, i].ToDouble() > 2 * means[(i + 1) % 8, i].ToDouble() || means[i, i].ToDouble() > 1,
                $"image {i} drives channel {i} to {means[i, i].ToDouble():0.00}, another image's to {means[(i + 1) % 8, i].ToDouble():0.00}");
    }

    [Fact]
    public void Readme_curve_family_finds_orientation_selective_units()
    {
        using var net = ModelZoo.ShapesNet();
        var tuning = SyntheticTuning.Curves(net, "relu3", Stimuli.Orientations(72), new[] { 3.0, 5, 8, 12, 20 });
        var lines = SyntheticTuning.Lines(net, "relu3", Stimuli.Orientations(36, halfTurn: true));
        var family = CurveFamilies.Find(tuning, lines);
        foreach (var u in family.Units)
            Console.WriteLine($"relu3:{u.Channel} prefers {u.PreferredOrientation * 180 / Math.PI:F0}° at r {u.PreferredRadius} (selectivity {u.Selectivity:F2})");
        Console.WriteLine($"equivariance {family.EquivarianceScore:F2}");
        Assert.True(family.Units.Count >= 3, $"{family.Units.Count} curve units");
        Assert.All(family.Units, u => Assert.True(u.Selectivity >= 0.5));
        Assert.True(family.Units.Zip(family.Units.Skip(1)).All(p => p.First.PreferredOrientation <= p.Second.PreferredOrientation));
        Assert.True(family.EquivarianceScore > 0.5, $"equivariance {family.EquivarianceScore:0.00}");
    }

    [Fact]
    public void Readme_synapse_ensembles_train_find_and_edit()
    {
        var dir = TempDir();
        using var bird = ProceduralBird.Draw(64, 64);                        // picture [3, 64, 64] + a label per part
        var grid = bird.Grid;
        using var net = new CoordinateNetwork(SynapseTopology.Article(), seed: 0);   // 37 tanh neurons, 460 synapses
        var fit = CoordinateTrainer.Train(net, bird.Image, new TrainingOptions(Epochs: 300));
        Console.WriteLine($"RMSE {fit.FinalRmse:0.000} after {fit.Steps} steps");
        Assert.True(fit.FinalRmse < 0.2, $"RMSE {fit.FinalRmse:0.000}");

        // Every synapse's exact effect on every pixel: dO_c(p)/dw_(i->j) = delta_(c,j)(p) * a_i(p).
        using var factors = SynapseJacobian.Compute(net, grid);
        using var effect = factors.Column(0);                                // [P, 3]: what synapse 0 does to the picture
        Assert.Equal(new long[] { 64 * 64, 3 }, effect.shape);

        // The ensemble behind the patch under the wing, and the most selective edit along it.
        using var patch = bird.Mask(BirdPart.UnderWingPatch);                // [64, 64] bool
        var energies = RegionEnergy.Compute(net, grid, patch);
        var ensemble = RegionEnsemble.Find(net.Topology, energies);          // 80% of the region's energy, rho >= 2
        Console.WriteLine($"{ensemble.Size} synapses ending at neurons {string.Join(", ", ensemble.TargetNeurons)}");
        Assert.InRange(ensemble.Size, 1, net.Topology.SynapseCount - 1);
        var direction = EnsembleEditing.MostSelective(net, grid, patch, ensemble.Synapses);
        using var edit = EnsembleEditing.Apply(net, grid, patch, direction.Direction);
        Png.Save(edit.After, Path.Combine(dir, "edited.png"), new PngOptions(Scale: 4));
        Assert.True(IsPng(Path.Combine(dir, "edited.png")));

        // Which synapses tilt the bird?
        var tilt = PropertyGradient.Compute(net, grid, new MaskProperty(MaskMoment.Orientation));
        Console.WriteLine($"tilt {tilt.Value:0.0} deg, strongest synapses {string.Join(", ", tilt.TopSynapses(5))}");
        Assert.Equal(5, tilt.TopSynapses(5).Count());
        Directory.Delete(dir, true);
    }

    [Fact]
    public void Readme_learning_dynamics_numbers_are_the_ones_printed()
    {
        var data = SemanticData.Eight();                                   // 8 one-hot items × 22 features
        var modes = InputOutputModes.Of(data);                             // s = √29, √13, √5, √5, 1, 1, 1, 1
        var tHalf = ModeDynamics.HalfLearningTime(modes.SingularValues[0], u0: 1e-3);      // 0.7977 τ
        Assert.Equal(new[] { Math.Sqrt(29), Math.Sqrt(13), Math.Sqrt(5), Math.Sqrt(5), 1, 1, 1, 1 }, modes.SingularValues.Take(8).ToArray(), new ToleranceComparer(1e-9));
        Assert.Equal(0.7977, tHalf, 4);

        var lr = DynamicsConventions.DefaultLearningRate(modes.SingularValues[0]);         // λ = 0.005 / s_max
        var run = DeepNetworkSimulation.Run(data, new SimulationOptions(lr, Steps: DynamicsConventions.StepsFor(6.5, lr),
            Depth: 2, Hidden: 16, Initialization: WeightInitialization.Aligned, InitialStrength: 1e-3)).EnsureConverged();

        double?[] simulated = TrajectoryAnalysis.HalfLearningTimes(run);  // 0.799, 1.137, 1.726, …, 3.454 τ
        double? error = TrajectoryAnalysis.MaxRelativeError(run.Times, run.Strength(0),
            t => ModeDynamics.Strength(t, modes.SingularValues[0], 1e-3));               // ≈ 0.01 on the 10–90% rise
        var (levels, _) = modes.Levels(data);                              // 0, 1, 2, 2, 3, 3, 3, 3: broad splits first
        double threshold = CategoryInNoise.ThresholdArea(objects: 200, features: 200, sigma: 1);   // 200
        Assert.Equal(0.799, simulated[0]!.Value, 2);
        Assert.Equal(1.137, simulated[1]!.Value, 2);
        Assert.True(error < 0.02, $"relative error {error}");
        Assert.Equal(new[] { 0, 1, 2, 2, 3, 3, 3, 3 }, levels.Take(8).ToArray());
        Assert.Equal(200, threshold, 6);
    }

    [Fact]
    public void Doc_examples_of_the_attribution_methods_give_input_shaped_maps()
    {
        using var model = ModelZoo.ShapesNet();
        model.eval();
        var image = ShapesDataset.Test(2).Images.narrow(0, 0, 1);
        var images = image;
        using var s = new Saliency(model).Attribute(image, target: 3);
        {
            using var r = new Saliency(model).Attribute(image, target: 3);  // r.Attributions: [1, 3, H, W]
            Assert.Equal(image.shape, r.Attributions.shape);
        }
        {
            using var r = new Occlusion(model).Attribute(image, 3, new OcclusionOptions(8, 8, 4, 4));  // [1, 3, H, W]
            Assert.Equal(image.shape, r.Attributions.shape);
        }
        {
            using var r = new NoiseTunnel(new Saliency(model)).Attribute(image, 3);
            Assert.Equal(image.shape, r.Attributions.shape);
            Assert.False(allclose(r.Attributions, s.Attributions));       // noise changed the map
        }
        {
            using var r = new IntegratedGradients(model).Attribute(image, 3, new IntegratedGradientsOptions(Steps: 64, InternalBatchSize: 32, ReturnConvergenceDelta: true));
            var delta = r.ConvergenceDelta;   // [batch]
            Assert.Equal(new long[] { 1 }, delta!.shape);
        }
        {
            using var r = new Saliency(model).Attribute(images, target: 3);
            Assert.True(r.Attributions.abs().sum().ToDouble() > 0);
        }
    }

    [Fact]
    public void Doc_examples_of_probing_capture_and_replace()
    {
        using var model = ReferenceModels.SmallCnn(inChannels: 3, classes: 10, seed: 1);
        var x = rand(2, 3, 32, 32);
        var intact = model.call(x).detach();
        using var rec = new ActivationRecorder(model, ["conv1", "fc"]);
        model.call(x);
        using var capture = rec.Take();          // capture.Outputs["conv1"]: [batch, channels, height, width]
        Assert.Equal(4, capture.Outputs["conv1"].dim());
        Assert.True(allclose(intact, capture.Outputs["fc"]));
        rec.Dispose();

        Tensor halved;
        using (OutputReplacement.Apply(model, "relu1", o => o * 0.5f)) model.call(x);
        using (OutputReplacement.Apply(model, "relu1", o => o * 0.5f)) halved = model.call(x).detach();
        Assert.False(allclose(intact, halved));
        Assert.True(allclose(intact, model.call(x)));      // the hook is gone with the scope
    }

    [Fact]
    public void Doc_example_of_the_feature_visualizer_runs()
    {
        using var model = ModelZoo.ShapesNet();
        model.eval();
        var viz = new FeatureVisualizer(model);
        using var r = viz.Visualize(Objective.Channel("relu3", 5) - 0.5 * Objective.TotalVariation(), new FeatureVisualizationOptions(Height: 64, Width: 64, Steps: 128));
        // r.Images: [1, 3, 64, 64]; r.Trace: one value per step
        Assert.Equal(128, r.Trace.Count);
        Assert.True(r.Trace[^1] >= 5 * r.Trace[0], $"objective {r.Trace[0]:0.000} → {r.Trace[^1]:0.000}");
    }

    /// <summary>Each code line of each README C# block and XML-doc example, normalised, appears in this file.</summary>
    [Fact]
    public void Every_documented_example_line_is_run_by_a_test()
    {
        var root = RepositoryRoot();
        var here = File.ReadAllLines(Path.Combine(root, "tests", "Interpretability.Tests", "Documentation", "DocumentationExampleTests.cs"))
            .Select(Normalise).ToHashSet();
        var missing = new List<string>();
        foreach (var (source, line) in ReadmeExamples(root).Concat(DocExamples(root)))
        {
            var n = Normalise(line);
            if (n.Length == 0 || n.StartsWith("using ") && n.EndsWith(";") && !n.Contains('=') || n.StartsWith("#:") || n.Contains("TorchSession.Start(")) continue;
            if (!here.Contains(n)) missing.Add($"{source}: {line.Trim()}");
        }
        Assert.True(missing.Count == 0, "documented example lines no test runs (copy them into DocumentationExampleTests):\n" + string.Join("\n", missing));
    }

    private static IEnumerable<(string Source, string Line)> ReadmeExamples(string root)
    {
        bool inside = false;
        foreach (var line in File.ReadAllLines(Path.Combine(root, "README.md")))
        {
            var t = line.Trim();
            if (!inside && t == "```csharp") { inside = true; continue; }
            if (inside && t == "```") { inside = false; continue; }
            if (inside) yield return ("README.md", line);
        }
    }

    private static IEnumerable<(string Source, string Line)> DocExamples(string root)
    {
        foreach (var file in Directory.EnumerateFiles(Path.Combine(root, "src"), "*.cs", SearchOption.AllDirectories))
        {
            if (file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") || file.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}")) continue;
            var doc = string.Join("\n", File.ReadAllLines(file).Where(l => l.TrimStart().StartsWith("///")).Select(l => l.TrimStart()[3..]));
            foreach (Match m in Regex.Matches(doc, @"<example>\s*<code>(.*?)</code>\s*</example>", RegexOptions.Singleline))
                foreach (var line in System.Net.WebUtility.HtmlDecode(m.Groups[1].Value).Split('\n'))
                    yield return (Path.GetRelativePath(root, file), line);
        }
    }

    /// <summary>Trims, drops a trailing <c>//</c> comment, and reads <c>Path.Combine(dir, "x")</c> as <c>"x"</c>.</summary>
    private static string Normalise(string line)
    {
        var t = Regex.Replace(line, @"Path\.Combine\(dir, (""[^""]*"")\)", "$1");
        int comment = t.IndexOf("//", StringComparison.Ordinal);
        while (comment >= 0 && t.Take(comment).Count(c => c == '"') % 2 == 1) comment = t.IndexOf("//", comment + 2, StringComparison.Ordinal);
        if (comment >= 0) t = t[..comment];
        return Regex.Replace(t.Trim(), @"\s+", " ");
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Interpretability.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory);
    }

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= tolerance;
        public int GetHashCode(double v) => 0;
    }
}
