using System.Globalization;
using Interpretability.Imaging;
using Interpretability.LearningDynamics;
using SkiaSharp;

namespace Interpretability.Studies;

/// <summary>Options of the learning-dynamics study (the <c>interp dynamics</c> options).</summary>
/// <param name="Dataset">Dataset of the main theory-vs-simulation run: <c>semantic</c> (8 items × 22 features),
/// <c>toy</c> (4 × 7), <c>hierarchy</c> (branching diffusion) or <c>noise</c> (a category in noise).</param>
/// <param name="Initialization"><c>aligned</c> (balanced, decoupled) or <c>random</c> (small random).</param>
/// <param name="Depth">Number of weight matrices D ≥ 1 (2 = one hidden layer).</param>
/// <param name="Hidden">Hidden width; null chooses 16 for the semantic and toy data, 32 otherwise.</param>
/// <param name="LearningRate">Step λ (τ = 1/λ); null chooses <see cref="DynamicsConventions.DefaultLearningRate"/>.</param>
/// <param name="Epochs">Full-batch steps of the main run; null runs until every mode compared has reached 97% of s, plus 25%.</param>
/// <param name="InitialStrength">u0: the initial strength of every mode (default 1e-3).</param>
public sealed record DynamicsStudyOptions(string Dataset = "semantic", string Initialization = "aligned", int Depth = 2, int? Hidden = null,
    double? LearningRate = null, long? Epochs = null, double InitialStrength = 1e-3)
{
    /// <summary>The datasets the main run accepts.</summary>
    public static IReadOnlyList<string> Datasets { get; } = new[] { "semantic", "toy", "hierarchy", "noise" };

    /// <summary>The initialisations the main run accepts.</summary>
    public static IReadOnlyList<string> Initializations { get; } = new[] { "aligned", "random" };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first option out of range.</summary>
    public void Validate()
    {
        if (!Datasets.Contains(Dataset)) throw new ArgumentException($"dataset must be one of {string.Join(", ", Datasets)}; got '{Dataset}'.", nameof(Dataset));
        if (!Initializations.Contains(Initialization)) throw new ArgumentException($"init must be aligned or random; got '{Initialization}'.", nameof(Initialization));
        if (Depth < 1 || Depth > 8) throw new ArgumentOutOfRangeException(nameof(Depth), Depth, "depth (weight matrices) must be in [1, 8].");
        if (Hidden is < 1 or > 4096) throw new ArgumentOutOfRangeException(nameof(Hidden), Hidden, "hidden must be in [1, 4096].");
        if (LearningRate is { } lr) DynamicsConventions.RequireLearningRate(lr, nameof(LearningRate));
        if (Epochs is < 1 or > 5_000_000) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, "epochs must be in [1, 5,000,000].");
        if (!(InitialStrength > 0 && InitialStrength < 0.5)) throw new ArgumentOutOfRangeException(nameof(InitialStrength), InitialStrength, "u0 must be in (0, 0.5): learning from a small start.");
    }
}

/// <summary>
/// Learning dynamics of deep linear networks (Saxe, McClelland &amp; Ganguli 2014, arXiv:1312.6120; 2019, doi:10.1073/pnas.1820226116): the exact SVD theory
/// against simulation on the semantic items, learning order from a random start, illusory correlations, RSA over
/// training, hierarchical data learned broad-first, the category-in-noise threshold, depth and nonlinear networks.
/// </summary>
public sealed class DynamicsStudy : Study
{
    private static readonly string[] Palette = { "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf" };
    private static readonly double[] SemanticExpectedS = { Math.Sqrt(29), Math.Sqrt(13), Math.Sqrt(5), Math.Sqrt(5), 1, 1, 1, 1 };
    private readonly DynamicsStudyOptions options;

    /// <summary>Creates the study.</summary>
    /// <param name="options">Options of the main run (defaults: the semantic run of Saxe et al. 2019).</param>
    public DynamicsStudy(DynamicsStudyOptions? options = null)
    {
        this.options = options ?? new DynamicsStudyOptions();
        this.options.Validate();
    }

    /// <inheritdoc />
    public override string Name => "dynamics";

    /// <inheritdoc />
    public override string Title => "Learning dynamics of deep linear networks";

    /// <inheritdoc />
    public override void Run(StudyContext context, ReportSection section, Metrics metrics)
    {
        // Thousands of products of small matrices: one intra-op thread is fastest (see DeepNetworkSimulation.Run).
        using var threads = context.UseThreads(1);
        section.Cite("saxe2014", "saxe2019");
        section.Paragraph("Conventions (stated once, as in Saxe, McClelland & Ganguli 2014): loss L = ½ Σ_μ |y^μ − ŷ^μ|² summed over the items; " +
                          "Σ31 = Σ_μ y^μ x^μᵀ; full-batch gradient descent with step λ, time constant τ = 1/λ, time t = step·λ in units of τ. " +
                          "The items are one-hot, so the inputs are white (Σ11 = I) and the theory applies exactly. u0 is the initial strength (the product of the factors) of a mode; " +
                          "a mode is 'learned' at its half-learning time t_half = (τ/2s)·ln(s/u0 − 1), when its strength reaches s/2. " +
                          "Mode strength = u_αᵀ W_D⋯W_1 v_α. Double precision throughout (MathNet for the theory, TorchSharp float64 for the simulations).");
        Report(context, "main run", 0.02);
        section.Heading("Theory against simulation, mode by mode");
        var semantic = SemanticData.Eight();
        var main = MainRun(context, section, metrics, semantic);
        Report(context, "random start", 0.3);
        section.Heading("A small random start");
        RandomStart(context, section, metrics, semantic, main);
        Report(context, "illusory correlation and RSA", 0.45);
        section.Heading("Illusory correlations during learning");
        IllusoryCorrelation(context, section, metrics, semantic, main);
        section.Heading("Representational similarity over training");
        section.Cite("kriegeskorte2008");
        Representations(context, section, metrics, semantic, main);
        Report(context, "hierarchical data", 0.6);
        section.Heading("Hierarchically structured data");
        Hierarchy(context, section, metrics);
        Report(context, "category in noise", 0.75);
        section.Heading("A category hidden in noise");
        section.Cite("benaychgeorges2012");
        Noise(context, section, metrics);
        Report(context, "depth and nonlinear networks", 0.9);
        section.Heading("Deeper networks");
        Depth(context, section, metrics, semantic);
        section.Heading("Nonlinear networks");
        Nonlinear(context, section, metrics, semantic);
        Report(context, "done", 1);
    }

    // ------------------------------------------------------------------------------------------------------------
    // 1. Main run: theory against simulation on the chosen dataset.
    // ------------------------------------------------------------------------------------------------------------

    /// <summary>What the main run produced, for the later parts that reuse it.</summary>
    private sealed record MainResult(DynamicsDataset Data, InputOutputModes Modes, SimulationResult Simulation, double[] U0, int[] Evaluated, bool Semantic);

    private MainResult MainRun(StudyContext context, ReportSection section, Metrics metrics, DynamicsDataset semantic)
    {
        var o = options;
        var data = o.Dataset switch
        {
            "semantic" => semantic,
            "toy" => SemanticData.Toy(),
            "hierarchy" => context.Quick ? BranchingDiffusion.Generate(3, 2, 0.1, 200, context.Seed) : BranchingDiffusion.Generate(5, 2, 0.1, 1000, context.Seed),
            _ => CategoryInNoise.Generate(200, 200, 28, 28, 1, 1, context.Seed).Dataset,
        };
        var modes = InputOutputModes.Of(data);
        int hidden = o.Hidden ?? (data.Items <= 16 ? 16 : 32);
        var lr = o.LearningRate ?? DynamicsConventions.DefaultLearningRate(modes.SingularValues[0]) * (context.Quick ? 4 : 1);
        bool aligned = o.Initialization == "aligned";
        // Compared modes: those carrying 99% of Σ31's energy that the network can hold (index < hidden unless D = 1).
        int holdable = o.Depth == 1 ? modes.Count : Math.Min(modes.Count, hidden);
        var evaluated = Enumerable.Range(0, Math.Min(modes.ModesCarrying(0.99), holdable)).ToArray();
        var s = modes.SingularValues;
        double endTime = evaluated.Max(a => ModeDynamics.TimeToReach(s[a], Math.Min(aligned ? o.InitialStrength : o.InitialStrength / 4, s[a] / 4), 0.97 * s[a], o.Depth)) * 1.25;
        long steps = o.Epochs ?? DynamicsConventions.StepsFor(endTime, lr);
        var simOptions = new SimulationOptions(lr, steps, o.Depth, hidden, HiddenActivation.Linear,
            aligned ? WeightInitialization.Aligned : WeightInitialization.Random, o.InitialStrength, context.Seed,
            RecordEvery: (int)Math.Max(1, steps / 1500), CheckpointTimes: data.Items <= 32 ? CheckpointGrid(steps * lr, 60) : null,
            RecordOutputs: data.Items * data.OutputSize <= 400);
        var sim = DeepNetworkSimulation.Run(data, simOptions, context.Device, cancellation: context.Cancellation).EnsureConverged();
        var u0 = aligned ? s.Select(_ => o.InitialStrength).ToArray() : sim.InitialConditions.Select((ic, a) => ic.EquivalentBalancedStrength(s[a])).ToArray();
        double Theory(int a, double t) => aligned ? ModeDynamics.Strength(t, s[a], u0[a], o.Depth) : sim.InitialConditions[a].Strength(t, s[a]);
        double TheoryHalf(int a) => aligned ? ModeDynamics.HalfLearningTime(s[a], u0[a], o.Depth) : sim.InitialConditions[a].HalfLearningTime(s[a]);

        metrics.Set("dataset", data.Name);
        metrics.Set("initialization", o.Initialization);
        metrics.Set("depth", o.Depth);
        metrics.Set("hidden", hidden);
        metrics.Set("learning_rate", lr);
        metrics.Set("tau", 1 / lr);
        metrics.Set("epochs", sim.StepsRun);
        metrics.Set("u0", o.InitialStrength);
        metrics.Set("input_whiteness_deviation", modes.InputWhitenessDeviation);
        metrics.Set("singular_values", s);
        if (data.Name == "semantic")
            metrics.Set("singular_values_max_abs_error_vs_expected", s.Select((v, a) => Math.Abs(v - SemanticExpectedS[a])).Max());
        int[]? levels = data.Hierarchy is null ? null : modes.Levels(data).Level;
        if (levels is not null) metrics.Set("mode_levels", levels);
        metrics.Set("evaluated_modes", evaluated.Length);

        var halfSim = TrajectoryAnalysis.HalfLearningTimes(sim);
        var halfTheory = Enumerable.Range(0, s.Count).Select(TheoryHalf).ToArray();
        metrics.Set("mode_learning_times_theory", evaluated.Select(a => halfTheory[a]));
        metrics.Set("mode_learning_times_simulation", evaluated.Select(a => halfSim[a] ?? -1));
        var halfErrors = evaluated.Where(a => halfSim[a] is not null).Select(a => Math.Abs(halfSim[a]!.Value / halfTheory[a] - 1)).ToList();
        metrics.Set("half_time_max_rel_error", halfErrors.DefaultIfEmpty(1).Max());
        var windowErrors = evaluated.Select(a => TrajectoryAnalysis.MaxRelativeError(sim.Times, sim.Strength(a), t => Theory(a, t))).ToList();
        var notReached = evaluated.Where((a, i) => windowErrors[i] is null || sim.Strength(a)[^1] < 0.9 * s[a]).ToList();
        metrics.Set("max_rel_error_theory_vs_simulation", notReached.Count > 0 ? 1.0 : windowErrors.Max(e => e!.Value));
        metrics.Set("modes_not_learned_in_run", notReached.Count);
        double maxAbs = 0;
        foreach (var a in evaluated)
        {
            var u = sim.Strength(a);
            for (int k = 0; k < sim.Times.Length; k++) maxAbs = Math.Max(maxAbs, Math.Abs(u[k] - Theory(a, sim.Times[k])) / s[a]);
        }
        metrics.Set("max_abs_error_over_s", maxAbs);
        var finalTheoryLoss = ModeDynamics.Loss(modes, Enumerable.Range(0, s.Count).Select(a => a < holdable ? Theory(a, sim.Times[^1]) : 0).ToArray());
        metrics.Set("loss_final_simulation", sim.Loss[^1]);
        metrics.Set("loss_final_theory", finalTheoryLoss);

        section.Paragraph($"Main run: {data.Description.TrimEnd('.')}. {(aligned ? "Aligned balanced" : "Small random")} initialisation with u0 = {Fmt(o.InitialStrength)}, " +
                          $"depth {o.Depth} (weight matrices), hidden width {hidden}, λ = {Fmt(lr)} (λ·s_max = {Fmt(lr * s[0])}), {sim.StepsRun} full-batch steps = {Fmt(sim.Times[^1])} τ. " +
                          $"The {evaluated.Length} modes that carry 99% of Σ31's energy{(evaluated.Length < modes.ModesCarrying(0.99) ? " and fit into the hidden layer" : "")} are compared. " +
                          (notReached.Count > 0 ? $"WARNING: {notReached.Count} of them did not reach 90% of s within the run (raise --epochs); their error counts as 1. " : "") +
                          (aligned ? "" : o.Depth == 2
                              ? "For a random start the theory uses each mode's initial condition read off the initial weights (u0 estimated per mode, see the random-start part below). "
                              : "CAUTION: for a random start at depth ≠ 2 there is no per-mode solution; the dashed curves start the balanced solution from |u_α(0)|, which is only indicative — large errors against the simulation are expected and do not test the theory. "));
        if (data.Name == "semantic")
            section.AddTable(new Table("Semantic data: singular values of Σ31 and half-learning times (units of τ). EXPECT: √29, √13, √5 (×2), 1 (×4); t_half 0.7977, 1.1357, 1.7245, 3.4534 for u0 = 1e-3, two layers.",
                new[] { "mode", "level", "s (computed)", "s (expected)", "t_half theory", "t_half simulation", "relative difference" },
                evaluated.Select(a => (IReadOnlyList<string>)new[]
                {
                    (a + 1).ToString(CultureInfo.InvariantCulture), levels is null ? "" : data.Hierarchy!.LevelNames[levels[a]], Fmt(s[a], 5), Fmt(SemanticExpectedS[a], 5),
                    Fmt(halfTheory[a], 4), halfSim[a] is { } h ? Fmt(h, 4) : "not learned", halfSim[a] is { } h2 ? (h2 / halfTheory[a] - 1).ToString("+0.00%;-0.00%", CultureInfo.InvariantCulture) : "",
                }).ToList()));

        // Figures: the data and its modes; every mode's strength; the loss staircase.
        var figs = new List<Figure>();
        if (data.Items <= 40 && data.OutputSize <= 60)
        {
            figs.Add(context.SavePng("data_matrix.png", MatrixChart.Render(data.Targets.ToArray(), data.FeatureNames, data.ItemNames,
                new ChartOptions($"{data.Name}: features × items (Σ31 for one-hot items)", "item", "feature", Width: 520, Height: 640), "value"),
                "The dataset: one row per feature, one column per item (1 = the item has it)."));
            var vt = modes.ObjectAnalysers.Transpose().ToArray();
            figs.Add(context.SavePng("object_analysers.png", MatrixChart.Render(vt,
                Enumerable.Range(0, modes.Count).Select(a => $"mode {a + 1} (s={Fmt(s[a], 3)})").ToList(), data.ItemNames,
                new ChartOptions("Object analysers v_α (rows) over the items", "item", "", Width: 560, Height: 460), "v_α(item)", diverging: true),
                "The SVD's object analysers: mode 1 is shared by all items, mode 2 splits animals from plants, modes 3–4 split the classes, 5–8 the single items (signs arbitrary, degenerate modes any rotation)."));
            section.AddFigureRow(figs);
        }
        var levelOf = levels ?? evaluated.Select(a => a).ToArray();
        var series = ModeSeries(sim, evaluated, a => levelOf[a], (a, t) => Theory(a, t), data.Hierarchy?.LevelNames, s);
        section.AddFigure(context.SavePng("modes_theory_vs_simulation.png", Charts.Line(series,
            new ChartOptions($"Mode strengths, {data.Name} data, {o.Initialization} start, depth {o.Depth}: simulation (solid) vs closed form (dashed)", "time t (units of τ = 1/λ)", "mode strength u_α(t)", Width: 1000, Height: 560)),
            $"Every compared mode's strength u_α(t) = u_αᵀ W⋯W v_α over training: solid = gradient-descent simulation, dashed = the closed-form solution, one colour per {(levels is null ? "mode" : "tree level")}. " +
            "Each mode sits near zero (a saddle) and then rises in a sigmoid to its singular value s_α; larger s is learned earlier. " +
            $"Largest relative error on the rise (10%–90% of the final strength): {Fmt(metrics.GetDouble("max_rel_error_theory_vs_simulation") * 100, 3)}%; largest half-time error {Fmt(metrics.GetDouble("half_time_max_rel_error") * 100, 3)}%."));

        var lossTheory = sim.Times.Select(t => ModeDynamics.Loss(modes, Enumerable.Range(0, s.Count).Select(a => a < holdable ? Theory(a, t) : 0).ToArray())).ToList();
        var halfLevels = evaluated.GroupBy(a => levelOf[a]).Select(g => halfTheory[g.First()]).ToList();
        var lossTiles = new List<SKBitmap>();
        try
        {
            foreach (var log in new[] { false, true })
                lossTiles.Add(SKBitmap.Decode(Charts.Line(new[]
                    {
                        new Series(log ? "" : "simulation", sim.Times, sim.Loss, "#222222", LineWidth: 2.5f),
                        new Series(log ? "" : "closed form ½ tr Σ33 − Σ(s u − u²/2)", sim.Times, lossTheory, "#d62728", Dashed: true),
                    },
                    new ChartOptions(log ? "log scale: every step visible" : "linear scale", "time t (units of τ)", "loss L = ½ Σ |y − ŷ|²", LogY: log, Width: 640, Height: 440),
                    halfLevels.Select((t, i) => new ReferenceLine(t, true, i == 0 && !log ? "theory t_half per level" : null, "#888888")).ToList())));
            ImageGrid.Save(context.PathOf("loss_staircase.png"), lossTiles, null, new GridOptions(Columns: 2, Title: $"Training loss, {data.Name} data: a staircase of saddles", FontSize: 14));
        }
        finally
        {
            foreach (var b in lossTiles) b.Dispose();
        }
        section.AddFigure(context.Figure("loss_staircase.png",
            "The training loss (black: simulation; red dashed: the closed form) drops in steps: each plateau is a saddle point, each drop a group of equal singular values being learned " +
            "(dotted lines: their theoretical half-learning times); each learned mode lowers the loss by s²/2. Left linear, right logarithmic."));
        return new MainResult(data, modes, sim, u0, evaluated, data.Name == "semantic");
    }

    private static List<Series> ModeSeries(SimulationResult sim, IReadOnlyList<int> modesShown, Func<int, int> group, Func<int, double, double> theory,
        IReadOnlyList<string>? groupNames, IReadOnlyList<double> s)
    {
        var series = new List<Series>();
        var seen = new HashSet<int>();
        var times = Thin(sim.Times, 400);
        bool theoryLabelled = false;
        foreach (var a in modesShown)
        {
            var g = group(a);
            var color = Palette[g % Palette.Length];
            var first = seen.Add(g);
            var name = groupNames is null ? $"mode {a + 1}" : groupNames[g];
            var u = sim.Strength(a);
            series.Add(new Series(first ? $"{name} (s = {Fmt(s[a], 3)})" : "", times.Select(k => sim.Times[k]).ToList(), times.Select(k => u[k]).ToList(), color, LineWidth: 2.5f));
            series.Add(new Series(theoryLabelled ? "" : "theory (dashed, every mode)", times.Select(k => sim.Times[k]).ToList(), times.Select(k => theory(a, sim.Times[k])).ToList(), "#000000", Dashed: true, LineWidth: 1.5f));
            theoryLabelled = true;
        }
        return series;
    }

    // ------------------------------------------------------------------------------------------------------------
    // 2. Random start: learning order and u0 estimated per mode.
    // ------------------------------------------------------------------------------------------------------------

    private void RandomStart(StudyContext context, ReportSection section, Metrics metrics, DynamicsDataset semantic, MainResult main)
    {
        SimulationResult sim;
        InputOutputModes modes;
        if (main.Semantic && options.Initialization == "random" && options.Depth == 2) { sim = main.Simulation; modes = main.Modes; }
        else
        {
            modes = InputOutputModes.Of(semantic);
            var lr = DynamicsConventions.DefaultLearningRate(modes.SingularValues[0]) * (context.Quick ? 4 : 1);
            var steps = DynamicsConventions.StepsFor(6.5, lr);
            sim = DeepNetworkSimulation.Run(semantic, new SimulationOptions(lr, steps, 2, 16, HiddenActivation.Linear, WeightInitialization.Random,
                options.InitialStrength, context.Seed, RecordEvery: (int)Math.Max(1, steps / 1500), CheckpointTimes: CheckpointGrid(steps * lr, 60)),
                context.Device, cancellation: context.Cancellation).EnsureConverged();
        }
        var s = modes.SingularValues;
        var half = TrajectoryAnalysis.HalfLearningTimes(sim);
        var theory = Enumerable.Range(0, s.Count).Select(a => sim.InitialConditions[a].HalfLearningTime(s[a])).ToArray();
        var naive = Enumerable.Range(0, s.Count).Select(a => sim.InitialConditions[a].Product > 0 ? ModeDynamics.HalfLearningTime(s[a], Math.Min(sim.InitialConditions[a].Product, s[a] / 2)) : double.NaN).ToArray();
        var ordered = TrajectoryAnalysis.OrderMatchesSingularValues(s, half);
        var errors = Enumerable.Range(0, s.Count).Where(a => half[a] is not null).Select(a => Math.Abs(half[a]!.Value / theory[a] - 1)).ToList();
        metrics.Set("learning_order_matches_singular_values", ordered);
        metrics.Set("random_init_u0_estimated", Enumerable.Range(0, s.Count).Select(a => sim.InitialConditions[a].EquivalentBalancedStrength(s[a])));
        metrics.Set("random_init_u0_product", sim.InitialConditions.Select(ic => ic.Product));
        metrics.Set("random_init_learning_times_simulation", half.Select(h => h ?? -1));
        metrics.Set("random_init_learning_times_theory", theory);
        metrics.Set("random_init_half_time_max_rel_error", errors.DefaultIfEmpty(1).Max());
        var levels = modes.Levels(semantic).Level;
        section.AddFigure(context.SavePng("random_start_modes.png", Charts.Line(
            ModeSeries(sim, Enumerable.Range(0, s.Count).ToList(), a => levels[a], (a, t) => sim.InitialConditions[a].Strength(t, s[a]), semantic.Hierarchy!.LevelNames, s),
            new ChartOptions("Small random start (8 items, 16 hidden units): simulation (solid) vs theory with u0 estimated per mode (dashed)", "time t (units of τ)", "mode strength u_α(t)", Width: 1000, Height: 560)),
            $"From small random weights (entries N(0, 2u0/16)) the modes are still learned in the order of their singular values ({(ordered ? "yes" : "NO")}), but each starts from its own initial condition. " +
            "Dashed: the theory from each mode's initial hidden-layer vectors a = W2ᵀu_α, b = W1v_α (the growing part |a+b|²/4 and the decaying part |a−b|²/4, with the directions already taken by larger modes removed). " +
            $"Largest half-time error {Fmt(errors.DefaultIfEmpty(1).Max() * 100, 3)}%; the remaining gap is the coupling between modes that the decoupled theory leaves out."));
        section.AddTable(new Table("Random start: per-mode initial condition and half-learning time (units of τ). u_α(0) is the direct estimate (the product of the initial weights along the mode); it is often tiny or negative, so the theory uses the growing part of the mode's hidden vectors instead (equivalent u0 shown).",
            new[] { "mode", "s", "u_α(0) = u_αᵀW2W1v_α", "equivalent u0", "t_half with u_α(0) (if > 0)", "t_half theory", "t_half simulation" },
            Enumerable.Range(0, s.Count).Select(a => (IReadOnlyList<string>)new[]
            {
                (a + 1).ToString(CultureInfo.InvariantCulture), Fmt(s[a], 4), sim.InitialConditions[a].Product.ToString("0.00e+0", CultureInfo.InvariantCulture),
                sim.InitialConditions[a].EquivalentBalancedStrength(s[a]).ToString("0.00e+0", CultureInfo.InvariantCulture),
                double.IsNaN(naive[a]) ? "(negative)" : Fmt(naive[a], 4), Fmt(theory[a], 4), half[a] is { } h ? Fmt(h, 4) : "not learned",
            }).ToList()));
    }

    // ------------------------------------------------------------------------------------------------------------
    // 3. Illusory correlation and representational similarity.
    // ------------------------------------------------------------------------------------------------------------

    private SimulationResult AlignedSemantic(StudyContext context, DynamicsDataset semantic, MainResult main)
    {
        if (main.Semantic && options.Initialization == "aligned" && options.Depth == 2 && main.Simulation.Outputs is not null) return main.Simulation;
        var modes = InputOutputModes.Of(semantic);
        var lr = DynamicsConventions.DefaultLearningRate(modes.SingularValues[0]) * (context.Quick ? 4 : 1);
        var steps = DynamicsConventions.StepsFor(6, lr);
        return DeepNetworkSimulation.Run(semantic, new SimulationOptions(lr, steps, 2, 16, HiddenActivation.Linear, WeightInitialization.Aligned,
            options.InitialStrength, context.Seed, RecordEvery: (int)Math.Max(1, steps / 1500), CheckpointTimes: CheckpointGrid(steps * lr, 60), RecordOutputs: true),
            context.Device, cancellation: context.Cancellation).EnsureConverged();
    }

    private SimulationResult? alignedSemantic;

    private void IllusoryCorrelation(StudyContext context, ReportSection section, Metrics metrics, DynamicsDataset semantic, MainResult main)
    {
        alignedSemantic = AlignedSemantic(context, semantic, main);
        var sim = alignedSemantic;
        var modes = sim.Modes;
        var names = semantic.FeatureNames.ToList();
        int gills = names.IndexOf("gills"), roots = names.IndexOf("roots"), fly = names.IndexOf("fly");
        int canary = semantic.ItemNames.ToList().IndexOf("canary");
        var u0 = options.InitialStrength;
        var theoryMaps = sim.Times.Select(t => ModeDynamics.Prediction(modes, ModeDynamics.Strengths(t, modes.SingularValues, modes.SingularValues.Select(_ => u0).ToArray()))).ToList();
        double[] Sim(int feature) => sim.Times.Select((_, k) => sim.Outputs![k, canary, feature]).ToArray();
        double[] Theory(int feature) => theoryMaps.Select(m => m[feature, canary]).ToArray();
        var simGills = Sim(gills);
        var thGills = Theory(gills);
        int peak = Array.IndexOf(simGills, simGills.Max());
        int peakTh = Array.IndexOf(thGills, thGills.Max());
        metrics.Set("illusory_correlation_peak", simGills[peak]);
        metrics.Set("illusory_correlation_peak_time", sim.Times[peak]);
        metrics.Set("illusory_correlation_peak_theory", thGills[peakTh]);
        metrics.Set("illusory_correlation_peak_time_theory", sim.Times[peakTh]);
        var idx = Thin(sim.Times, 400);
        var t = idx.Select(k => sim.Times[k]).ToList();
        var series = new List<Series>();
        foreach (var (feature, label, color) in new[] { (gills, "'canary has gills' (false)", "#d62728"), (roots, "'canary has roots' (false)", "#2ca02c"), (fly, "'canary can fly' (true)", "#1f77b4") })
        {
            var simValues = Sim(feature);
            var theoryValues = Theory(feature);
            series.Add(new Series(label, t, idx.Select(k => simValues[k]).ToList(), color, LineWidth: 2.5f));
            series.Add(new Series(feature == gills ? "theory Σ u_α(t) u_α v_αᵀ (dashed)" : "", t, idx.Select(k => theoryValues[k]).ToList(), "#000000", Dashed: true, LineWidth: 1.5f));
        }
        section.AddFigure(context.SavePng("illusory_correlation.png", Charts.Line(series,
            new ChartOptions("What the network believes about a canary over training", "time t (units of τ)", "network output ŷ(feature | canary)", Width: 900, Height: 480, LegendCorner: "upper left"),
            new[] { new ReferenceLine(0, false, null, "#888888"), new ReferenceLine(1, false, null, "#888888") }),
            $"Illusory correlations (aligned start, u0 = {Fmt(u0)}; solid = simulation, dashed = theory). 'Canary has gills' is false, but ŷ = 0.25 u₁/s₁ + 0.25 u₂/s₂ − 0.5 u₃/s₃ first rises " +
            $"(living things and animals are learned before birds are told apart from fish) to {Fmt(simGills[peak], 3)} at t = {Fmt(sim.Times[peak], 3)} τ " +
            $"(theory {Fmt(thGills[peakTh], 3)} at {Fmt(sim.Times[peakTh], 3)}; closed form: 0.377 at 1.337) and returns to 0 once the bird–fish mode is learned. " +
            "'Canary has roots' is a briefer error, corrected by the animal–plant mode; 'canary can fly' climbs to 1 in steps as the modes that carry it are learned."));
    }

    private void Representations(StudyContext context, ReportSection section, Metrics metrics, DynamicsDataset semantic, MainResult main)
    {
        // Theory check on the aligned run: the hidden Gram matrix is Σ u_α(t) v_α v_αᵀ.
        var aligned = alignedSemantic!;
        var modes = aligned.Modes;
        double gramError = 0;
        foreach (var c in aligned.Checkpoints.Where(c => c.Time > 0))
        {
            var simGram = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.DenseOfArray(RepresentationalSimilarity.Gram(c.Hidden));
            var u = Enumerable.Range(0, modes.Count).Select(a => ModeDynamics.Strength(c.Time, modes.SingularValues[a], options.InitialStrength)).ToArray();
            var theory = ModeDynamics.HiddenGram(modes, u);
            gramError = Math.Max(gramError, (simGram - theory).FrobeniusNorm() / theory.FrobeniusNorm());
        }
        metrics.Set("rsa_theory_gram_max_rel_error", gramError);

        // RSA over training from a random start (the talk's "first random, then animals/plants, then the sub-splits").
        var randomModes = InputOutputModes.Of(semantic);
        var lr = DynamicsConventions.DefaultLearningRate(randomModes.SingularValues[0]) * (context.Quick ? 4 : 1);
        var s = randomModes.SingularValues;
        var th = new[] { 0, 1, 2, 4 }.Select(a => ModeDynamics.HalfLearningTime(s[a], options.InitialStrength)).ToArray();
        var shown = new[] { 0, 0.5 * (th[0] + th[1]), 0.5 * (th[1] + th[2]), 0.5 * (th[2] + th[3]), 1.6 * th[3] };
        var steps = DynamicsConventions.StepsFor(shown[^1], lr);
        var grid = CheckpointGrid(steps * lr, 80).Concat(shown).OrderBy(t => t).ToList();
        var sim = DeepNetworkSimulation.Run(semantic, new SimulationOptions(lr, steps, 2, 16, HiddenActivation.Linear, WeightInitialization.Random,
            options.InitialStrength, context.Seed + 1, RecordEvery: (int)Math.Max(1, steps / 500), CheckpointTimes: grid), context.Device, cancellation: context.Cancellation).EnsureConverged();
        var hierarchy = semantic.Hierarchy!;
        // When do the splits appear? Measured on the aligned run, where the similarity starts symmetric (u0·I) and every
        // split's separation grows from zero (a random start begins with random separations, so only the pictures use it).
        var kingdom = TrajectoryAnalysis.SeparationTime(aligned.Checkpoints, hierarchy.GroupOfItem[0], hierarchy.GroupOfItem[1]);
        var classes = TrajectoryAnalysis.SeparationTime(aligned.Checkpoints, hierarchy.GroupOfItem[1], hierarchy.GroupOfItem[2]);
        var alignedHalf = TrajectoryAnalysis.HalfLearningTimes(aligned);
        metrics.Set("rsa_kingdoms_separate_time", kingdom ?? -1);
        metrics.Set("rsa_classes_separate_time", classes ?? -1);
        bool treeOrder = kingdom is not null && classes is not null && kingdom < classes;
        metrics.Set("rsa_separation_in_tree_order", treeOrder);

        var tiles = new List<SKBitmap>();
        var titles = new List<string?>();
        var colors = semantic.ItemNames.Select((_, i) => Palette[hierarchy.GroupOfItem[2][i]]).ToList();
        try
        {
            var picked = shown.Select(t => sim.Checkpoints.OrderBy(c => Math.Abs(c.Time - t)).First()).ToList();
            foreach (var c in picked)
            {
                var r = RepresentationalSimilarity.Correlation(c.Hidden);
                tiles.Add(SKBitmap.Decode(MatrixChart.Render(r, semantic.ItemNames, semantic.ItemNames,
                    new ChartOptions($"t = {Fmt(c.Time, 3)} τ", Width: 380, Height: 360), "Pearson r", diverging: true, range: (-1, 1))));
                titles.Add(Stage(c.Time, TrajectoryAnalysis.HalfLearningTimes(sim), s));
            }
            foreach (var c in picked)
            {
                var tree = Dendrogram.AverageLinkage(RepresentationalSimilarity.CorrelationDistance(RepresentationalSimilarity.Correlation(c.Hidden)));
                tiles.Add(SKBitmap.Decode(DendrogramChart.Render(tree.Merges.Select(m => (m.Left, m.Right, m.Height)).ToList(), semantic.ItemNames,
                    new ChartOptions($"t = {Fmt(c.Time, 3)} τ", YLabel: "1 − r (average linkage)", Width: 380, Height: 300), colors, maxHeight: 2)));
                titles.Add(null);
            }
            ImageGrid.Save(context.PathOf("rsa_over_training.png"), tiles, titles, new GridOptions(Columns: 5, Title: "Hidden-layer similarity of the 8 items over training (small random start)", FontSize: 14));
        }
        finally
        {
            foreach (var t in tiles) t.Dispose();
        }
        section.AddFigure(context.Figure("rsa_over_training.png",
            "Representational similarity (Pearson correlation of the 16 hidden units between items, blue −1 … red +1) and its average-linkage dendrogram (height 1 − r; dot colour = class) at five times of a small random start. " +
            "At first the representation is random; then the broad animal/plant structure appears, then birds/fish and trees/flowers grow underneath, then the single items. " +
            $"When do the splits appear? On the aligned run (whose representation starts symmetric), a split appears when the mean Euclidean distance across it, minus that within its groups, reaches half its final value: " +
            $"animals | plants at t = {T(kingdom)} τ, birds | fish and trees | flowers at {T(classes)} τ ({(treeOrder ? "broad first" : "NOT in tree order")}; " +
            $"half-learning times of the kingdom and class modes: {T(alignedHalf[1])} and {T(alignedHalf[2])} τ). " +
            $"With an aligned start the hidden Gram matrix equals the theory Σ u_α(t) v_α v_αᵀ within {Fmt(gramError * 100, 3)}% (Frobenius, relative)."));
    }

    private static string T(double? t) => t is { } v ? Fmt(v, 3) : "never";

    private static string Stage(double t, double?[] half, IReadOnlyList<double> s)
    {
        var learned = Enumerable.Range(0, s.Count).Where(a => half[a] is { } h && h <= t).ToList();
        return t == 0 ? "start (random weights)" : learned.Count == 0 ? "no mode at s/2 yet" : $"{learned.Count} of {s.Count} modes past s/2";
    }

    // ------------------------------------------------------------------------------------------------------------
    // 4. Hierarchical data: broader splits first.
    // ------------------------------------------------------------------------------------------------------------

    private void Hierarchy(StudyContext context, ReportSection section, Metrics metrics)
    {
        int depth = context.Quick ? 3 : 5, features = context.Quick ? 200 : 1000;
        const double flip = 0.1;
        var data = BranchingDiffusion.Generate(depth, 2, flip, features, context.Seed);
        var modes = InputOutputModes.Of(data);
        var (levels, purity) = modes.Levels(data);
        var predicted = BranchingDiffusion.PredictedSpectrum(depth, 2, flip, features);
        var s = modes.SingularValues;
        var lr = 0.04 / s[0];                    // ordering is what is checked here; λ·s_max = 0.04 shifts times by ≈ 2%
        const double u0 = 1e-3;
        var endTime = 1.3 * ModeDynamics.TimeToReach(s[^1], u0 / 4, 0.97 * s[^1]);
        var steps = DynamicsConventions.StepsFor(endTime, lr);
        int hidden = Math.Max(data.Items, 32);    // wide enough that every mode's random start is close to u0 (see the random-start part)
        var sim = DeepNetworkSimulation.Run(data, new SimulationOptions(lr, steps, 2, hidden, HiddenActivation.Linear, WeightInitialization.Random, u0, context.Seed,
            RecordEvery: (int)Math.Max(1, steps / 500)), context.Device, cancellation: context.Cancellation).EnsureConverged();
        var half = TrajectoryAnalysis.HalfLearningTimes(sim);
        var byLevel = Enumerable.Range(0, depth + 1).Select(l => Enumerable.Range(0, s.Count).Where(a => levels[a] == l).ToList()).ToList();
        bool broadFirst = true;
        for (int l = 0; l < depth; l++)
        {
            var latest = byLevel[l].Select(a => half[a] ?? double.PositiveInfinity).DefaultIfEmpty(0).Max();
            var earliestNext = byLevel[l + 1].Select(a => half[a] ?? double.PositiveInfinity).DefaultIfEmpty(double.PositiveInfinity).Min();
            if (!(latest < earliestNext)) broadFirst = false;
        }
        bool sizesMatch = byLevel.Select(g => g.Count).SequenceEqual(predicted.Select(p => p.Multiplicity));
        metrics.Set("hierarchy_singular_values", s);
        metrics.Set("hierarchy_mode_levels", levels);
        metrics.Set("hierarchy_level_purity_min", purity.Min());
        metrics.Set("hierarchy_level_sizes_match_tree", sizesMatch);
        metrics.Set("hierarchy_predicted_level_singular_values", predicted.Select(p => p.SingularValue));
        metrics.Set("hierarchy_level_mean_singular_values", byLevel.Select(g => g.Count == 0 ? 0 : g.Average(a => s[a])));
        metrics.Set("hierarchy_level_mean_learning_times", byLevel.Select(g => g.Select(a => half[a] ?? -1).DefaultIfEmpty(-1).Average()));
        metrics.Set("hierarchy_mode_learning_times_simulation", half.Select(h => h ?? -1));
        metrics.Set("hierarchy_levels_learned_broad_first", broadFirst);

        var points = new List<Series>();
        for (int l = 0; l <= depth; l++)
        {
            var members = byLevel[l];
            if (members.Count == 0) continue;
            points.Add(new Series($"{data.Hierarchy!.LevelNames[l]} ({members.Count} mode{(members.Count == 1 ? "" : "s")})", members.Select(a => (double)(a + 1)).ToList(), members.Select(a => s[a]).ToList(), Palette[l % Palette.Length], Markers: true, LineWidth: 0));
            points.Add(new Series(l == 0 ? "predicted √(N_f λ) per level" : "", new[] { members.Min() + 0.6, members.Max() + 1.4 }, new[] { predicted[l].SingularValue, predicted[l].SingularValue }, Palette[l % Palette.Length], Dashed: true, LineWidth: 1.5f));
        }
        var spectrum = context.SavePng("hierarchy_singular_values.png", Charts.Line(points,
            new ChartOptions($"Branching diffusion (depth {depth}, ε = {flip}, {features} features): singular values by tree level", "mode index (by singular value)", "singular value s_α", Width: 760, Height: 500)),
            $"Each SVD mode of the {data.Items}-item data, coloured by the tree level its item vector belongs to (assigned by projection onto each level's Haar-like split subspace; smallest share {Fmt(purity.Min() * 100, 3)}%). " +
            "Dashed: the predicted √(N_f λ_level). Broader splits (the root, then the first split) have the largest singular values; the level sizes are 1, 1, 2, 4, … as the tree says" +
            (sizesMatch ? "." : " (NOT matched here)."));
        var curves = ModeSeries(sim, Enumerable.Range(0, s.Count).ToList(), a => levels[a], (a, t) => sim.InitialConditions[a].Strength(t, s[a]), data.Hierarchy!.LevelNames, s);
        var learning = context.SavePng("hierarchy_learning.png", Charts.Line(curves,
            new ChartOptions("Hierarchical data from a small random start: broader splits are learned first", "time t (units of τ)", "mode strength u_α(t)", Width: 900, Height: 500)),
            $"Every mode's strength (solid: simulation, 2 layers, {hidden} hidden units, random start u0 = {Fmt(u0)}; dashed: theory with u0 estimated per mode), coloured by tree level. " +
            $"Every mode of a broader level is learned before every mode of the next finer level: {(broadFirst ? "yes" : "NO")} (checked on the mode-to-level assignment and the simulated half-learning times).");
        section.AddFigureRow(new[] { spectrum, learning });
    }

    // ------------------------------------------------------------------------------------------------------------
    // 5. A category hidden in noise: the learnability threshold.
    // ------------------------------------------------------------------------------------------------------------

    private void Noise(StudyContext context, ReportSection section, Metrics metrics)
    {
        const int n = 200;
        var predicted = CategoryInNoise.ThresholdArea(n, n, 1);
        // (a) Threshold at σ = 1 over a sweep of block sizes and seeds.
        var ks = context.Quick ? new[] { 12, 20, 24, 30 } : Enumerable.Range(5, 12).Select(i => 2 * i).ToArray();
        int seeds = context.Quick ? 2 : 4;
        var points = ks.SelectMany(k => Enumerable.Range(0, seeds).Select(r => new CategorySweepPoint(k, k, 1.0, 1, context.Seed * 7919 + 101 * r + k))).ToList();
        var sweep = CategorySweep.Run(n, n, points, device: context.Device, cancellation: context.Cancellation);
        var measured = CategorySweep.MeasureThreshold(sweep);
        metrics.Set("noise_threshold_predicted", predicted);
        metrics.Set("noise_threshold_measured", measured.Area);
        metrics.Set("noise_threshold_rel_error", Math.Abs(measured.Area / predicted - 1));
        var areas = ks.Select(k => (double)k * k).ToList();
        var meanOverlap = ks.Select(k => sweep.Where(r => r.Point.BlockObjects == k).Average(r => r.ItemOverlap)).ToList();
        metrics.Set("noise_sweep_areas", areas);
        metrics.Set("noise_sweep_mean_item_overlap", meanOverlap);

        var fine = Enumerable.Range(0, 200).Select(i => 25 + i * (ks[^1] * ks[^1] * 1.05 - 25) / 199.0).ToList();
        var overlapChart = Charts.Line(new[]
            {
                new Series("learned mode's item overlap², each network", sweep.Select(r => r.Point.EffectiveArea).ToList(), sweep.Select(r => r.ItemOverlap).ToList(), "#9ecae1", Markers: true, LineWidth: 0),
                new Series("mean over seeds", areas, meanOverlap, "#1f77b4", Markers: true, LineWidth: 2),
                new Series("BBP prediction", fine, fine.Select(a => CategoryInNoise.PredictedItemOverlap(n, n, Math.Sqrt(a), 1)).ToList(), "#000000", Dashed: true),
                new Series("fit q = α + β/area", fine.Where(a => a >= measured.Area).ToList(), fine.Where(a => a >= measured.Area).Select(a => measured.Intercept + measured.Slope / a).ToList(), "#ff7f0e", LineWidth: 1.5f),
            },
            new ChartOptions($"N_o = N_f = {n}, σ = 1: is the category learned?", "category area K_o·K_f", "overlap² of the strongest learned mode with the category", Width: 760, Height: 500, LegendCorner: "lower right"),
            new[] { new ReferenceLine(predicted, true, $"predicted threshold {Fmt(predicted, 4)}", "#000000"), new ReferenceLine(measured.Area, true, $"measured {Fmt(measured.Area, 4)}", "#ff7f0e") });
        var strengthChart = Charts.Line(new[]
            {
                new Series("planted mode's learned strength", areas, ks.Select(k => sweep.Where(r => r.Point.BlockObjects == k).Average(r => r.PlantedStrength)).ToList(), "#d62728", Markers: true),
                new Series("strongest noise mode", areas, ks.Select(k => sweep.Where(r => r.Point.BlockObjects == k).Average(r => r.NoiseStrength)).ToList(), "#7f7f7f", Markers: true),
                new Series("predicted ŝ (BBP) / bulk edge", fine, fine.Select(a => CategoryInNoise.PredictedTopSingularValue(n, n, Math.Sqrt(a), 1)).ToList(), "#000000", Dashed: true),
            },
            new ChartOptions("Learned mode strengths", "category area K_o·K_f", "learned strength (singular value of W2W1)", Width: 640, Height: 500, LegendCorner: "upper left"),
            new[] { new ReferenceLine(predicted, true, "predicted threshold", "#000000") });
        var noiseFigs = new List<Figure>
        {
            context.SavePng("noise_threshold.png", overlapChart,
                $"One two-layer linear network per category (2 hidden units, small random start, trained to convergence by full-batch descent), {seeds} seeds per size. " +
                "Below the predicted area σ²√(N_o N_f) the strongest learned mode is a noise mode (overlap ≈ 0); above it the category is learned as its own mode and the overlap follows the random-matrix (BBP) prediction 1 − A*/area. " +
                $"Measured threshold: where the straight-line fit against 1/area (orange, points with mean overlap² in [0.2, 0.8]) reaches zero: {Fmt(measured.Area, 4)} vs predicted {Fmt(predicted, 4)} ({(measured.Area / predicted - 1).ToString("+0.0%;-0.0%", CultureInfo.InvariantCulture)})."),
            context.SavePng("noise_strengths.png", strengthChart,
                "Red: the strength of the learned mode that overlaps the category most (below the threshold that is just one of the noise modes); grey: the strongest other learned mode; dashed: the BBP value ŝ above the threshold and the bulk edge σ(√N_o+√N_f) ≈ 28.3 below it (at N = 200 the measured noise modes sit slightly below the asymptotic edge). " +
                "The category's strength leaves the noise only slowly — ŝ grows quadratically from the edge — which is why the threshold is read off the overlap, which rises linearly."),
        };
        section.AddFigureRow(noiseFigs);

        // (b) Phase diagram over (block side K, σ) with the predicted curve K² = σ²√(N_o N_f).
        var sides = context.Quick ? new[] { 8, 16, 24, 32 } : Enumerable.Range(1, 10).Select(i => 4 * i).ToArray();
        var sigmas = context.Quick ? new[] { 0.5, 1.0, 1.5 } : new[] { 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0 };
        var gridPoints = sigmas.SelectMany(sg => sides.Select(k => new CategorySweepPoint(k, k, sg, 1, context.Seed * 131 + k + (int)(sg * 1000)))).ToList();
        var phase = CategorySweep.Run(n, n, gridPoints, horizon: context.Quick ? 15 : 40, device: context.Device, cancellation: context.Cancellation);
        var cells = new double[sigmas.Length, sides.Length];
        int agree = 0;
        for (int i = 0; i < sigmas.Length; i++)
            for (int j = 0; j < sides.Length; j++)
            {
                var r = phase[i * sides.Length + j];
                cells[sigmas.Length - 1 - i, j] = r.ItemOverlap;                // row 0 at the top = largest σ
                var predictedLearned = (double)sides[j] * sides[j] > CategoryInNoise.ThresholdArea(n, n, sigmas[i]);
                if ((r.ItemOverlap >= 0.2) == predictedLearned) agree++;
            }
        metrics.Set("noise_phase_agreement", (double)agree / (sigmas.Length * sides.Length));
        double step = sides[1] - sides[0];
        double sStep = sigmas[1] - sigmas[0];
        var sigLine = Enumerable.Range(0, 100).Select(i => sigmas[0] - sStep / 2 + i * (sigmas[^1] - sigmas[0] + sStep) / 99).ToList();
        var kLine = sigLine.Select(sg => sg * Math.Pow((double)n * n, 0.25)).ToList();
        var keep = Enumerable.Range(0, 100).Where(i => kLine[i] >= sides[0] - step / 2 && kLine[i] <= sides[^1] + step / 2).ToList();
        section.AddFigure(context.SavePng("noise_phase_diagram.png", Charts.Heatmap(cells,
                new ChartOptions($"Category in noise (N_o = N_f = {n}): learned or not", "block side K (K_o = K_f = K, density 1)", "noise σ", Width: 820, Height: 560, LegendCorner: "upper left"),
                "overlap² with the category",
                xRange: (sides[0] - step / 2, sides[^1] + step / 2), yRange: (sigmas[^1] + sStep / 2, sigmas[0] - sStep / 2),
                overlay: new[] { new Series("predicted threshold K² = σ²√(N_o N_f)", keep.Select(i => kLine[i]).ToList(), keep.Select(i => sigLine[i]).ToList(), "#ff2020", Dashed: true, LineWidth: 3) }),
            "Each cell: one network trained on a K×K category in N(0, σ²) noise; colour = overlap² of its strongest learned mode with the category (yellow: learned as its own mode; dark: lost in the noise). " +
            $"Red dashed line: the predicted threshold K = σ (N_o N_f)^¼ — a bigger category is needed in stronger noise; the critical area grows as √(N_o N_f) (the critical size ∝ √(N·M) of Saxe, McClelland & Ganguli 2019, PNAS, doi:10.1073/pnas.1820226116). " +
            $"Cells on the predicted side of the line (learned := overlap² ≥ 0.2): {agree} of {sigmas.Length * sides.Length}."));

        // (c) The seed's picture: the noisy matrix as given and with rows and columns sorted by the category.
        var shownCategory = CategoryInNoise.Generate(n, n, 30, 30, 1, 1, context.Seed + 5);
        var y = shownCategory.Dataset.Targets;
        var rowOrder = shownCategory.BlockFeatures.Concat(Enumerable.Range(0, n).Except(shownCategory.BlockFeatures)).ToArray();
        var colOrder = shownCategory.BlockItems.Concat(Enumerable.Range(0, n).Except(shownCategory.BlockItems)).ToArray();
        var sorted = new double[n, n];
        for (int r = 0; r < n; r++) for (int c = 0; c < n; c++) sorted[r, c] = y[rowOrder[r], colOrder[c]];
        section.AddFigureRow(new[]
        {
            context.SavePng("noise_matrix_raw.png", MatrixChart.Render(y.ToArray(), null, null, new ChartOptions("A 30×30 category in 200×200 noise (σ = 1), as given", "item", "feature", Width: 520, Height: 480), "value", diverging: true),
                "The data as the network sees it: items and features in random order; the category (area 900 = 4.5× threshold) is invisible to the eye."),
            context.SavePng("noise_matrix_sorted.png", MatrixChart.Render(sorted, null, null, new ChartOptions("The same matrix, category rows and columns first", "item", "feature", Width: 520, Height: 480), "value", diverging: true),
                "Rows and columns permuted to put the category first: the block appears. The network finds it without being told the permutation."),
        });
    }

    // ------------------------------------------------------------------------------------------------------------
    // 6. Depth and nonlinear networks.
    // ------------------------------------------------------------------------------------------------------------

    private void Depth(StudyContext context, ReportSection section, Metrics metrics, DynamicsDataset semantic)
    {
        var modes = InputOutputModes.Of(semantic);
        var s = modes.SingularValues;
        var u0 = options.InitialStrength;
        var lr = DynamicsConventions.DefaultLearningRate(s[0]) * (context.Quick ? 8 : 2);   // λ·s_max = 0.01 (0.04 quick)
        var series = new List<Series>();
        double worst = 0;
        var depths = context.Quick ? new[] { 3 } : new[] { 2, 3, 4 };
        var dash = new List<string>();
        foreach (var d in depths)
        {
            var end = 1.15 * ModeDynamics.TimeToReach(s[^1], u0, 0.97 * s[^1], d);
            var steps = DynamicsConventions.StepsFor(end, lr);
            var sim = DeepNetworkSimulation.Run(semantic, new SimulationOptions(lr, steps, d, 16, HiddenActivation.Linear, WeightInitialization.Aligned, u0, context.Seed,
                RecordEvery: (int)Math.Max(1, steps / 600)), context.Device, cancellation: context.Cancellation).EnsureConverged();
            var half = TrajectoryAnalysis.HalfLearningTimes(sim);
            foreach (var a in new[] { 0, 4 })
                if (half[a] is { } h) worst = Math.Max(worst, Math.Abs(h / ModeDynamics.HalfLearningTime(s[a], u0, d) - 1));
            var idx = Thin(sim.Times, 300);
            foreach (var (a, label) in new[] { (0, "s = √29"), (4, "s = 1") })
            {
                var u = sim.Strength(a);
                series.Add(new Series($"D = {d}, {label}", idx.Select(k => sim.Times[k]).ToList(), idx.Select(k => u[k] / s[a]).ToList(), Palette[d - 2], LineWidth: a == 0 ? 2.5f : 1.5f));
                series.Add(new Series("", idx.Select(k => sim.Times[k]).ToList(), idx.Select(k => ModeDynamics.Strength(sim.Times[k], s[a], u0, d) / s[a]).ToList(), "#000000", Dashed: true, LineWidth: 1));
            }
        }
        metrics.Set("depth_half_time_max_rel_error", worst);
        section.AddFigure(context.SavePng("depth.png", Charts.Line(series,
            new ChartOptions("Deeper linear networks: strongest and weakest semantic mode, simulation (colour) vs theory (dashed)", "time t (units of τ)", "u_α(t) / s_α", Width: 900, Height: 480)),
            $"With D weight matrices each mode obeys τ du/dt = D u^(2−2/D) (s − u) (aligned start, u0 = {Fmt(u0)} split as u0^(1/D) per matrix). Deeper networks wait longer on the saddle and then switch more abruptly. " +
            $"Dashed: the theory (closed form for D = 2, quadrature for D ≥ 3); largest half-time error {Fmt(worst * 100, 3)}%."));
    }

    private void Nonlinear(StudyContext context, ReportSection section, Metrics metrics, DynamicsDataset semantic)
    {
        var modes = InputOutputModes.Of(semantic);
        var s = modes.SingularValues;
        var lr = DynamicsConventions.DefaultLearningRate(s[0]) * (context.Quick ? 8 : 2);   // λ·s_max = 0.01 (0.04 quick)
        var steps = DynamicsConventions.StepsFor(7, lr);
        var tiles = new List<SKBitmap>();
        var levels = modes.Levels(semantic).Level;
        var order = new Dictionary<HiddenActivation, bool>();
        var lateness = new Dictionary<HiddenActivation, double>();
        try
        {
            foreach (var act in new[] { HiddenActivation.Linear, HiddenActivation.Tanh, HiddenActivation.ReLU })
            {
                var sim = DeepNetworkSimulation.Run(semantic, new SimulationOptions(lr, steps, 2, 16, act, WeightInitialization.Random, options.InitialStrength, context.Seed + 2,
                    RecordEvery: (int)Math.Max(1, steps / 600)), context.Device, cancellation: context.Cancellation).EnsureConverged();
                var half = TrajectoryAnalysis.HalfLearningTimes(sim);
                var name = act.ToString().ToLowerInvariant();
                order[act] = TrajectoryAnalysis.OrderMatchesSingularValues(s, half);
                var theoryHalf = Enumerable.Range(0, s.Count).Select(a => sim.InitialConditions[a].HalfLearningTime(s[a])).ToArray();
                lateness[act] = Enumerable.Range(0, s.Count).Where(a => half[a] is not null).Select(a => half[a]!.Value / theoryHalf[a] - 1).DefaultIfEmpty(double.NaN).Average();
                metrics.Set($"nonlinear_{name}_half_times", half.Select(h => h ?? -1));
                metrics.Set($"nonlinear_{name}_order_matches_singular_values", order[act]);
                metrics.Set($"nonlinear_{name}_final_strengths", Enumerable.Range(0, s.Count).Select(a => sim.ModeStrengths[sim.Times.Length - 1, a]));
                var series = ModeSeries(sim, Enumerable.Range(0, s.Count).ToList(), a => levels[a], (a, t) => sim.InitialConditions[a].Strength(t, s[a]), semantic.Hierarchy!.LevelNames, s);
                if (act != HiddenActivation.Linear) series = series.Select(x => x with { Label = "" }).ToList();
                var title = act == HiddenActivation.Linear ? "linear hidden layer" : act == HiddenActivation.Tanh ? "tanh hidden layer" : "ReLU hidden layer";
                var chart = Charts.Line(series, new ChartOptions($"{title}: order by s {(order[act] ? "kept" : "NOT kept")}", "time t (units of τ)", "u_αᵀ Σ̂31 v_α", Width: 620, Height: 460));
                tiles.Add(SKBitmap.Decode(chart));
            }
            ImageGrid.Save(context.PathOf("nonlinear.png"), tiles, null, new GridOptions(Columns: 3, Title: "Same shape, same random start (8 items, 16 hidden units): linear, tanh and ReLU hidden layers against the linear theory (dashed)", FontSize: 14));
        }
        finally
        {
            foreach (var t in tiles) t.Dispose();
        }
        string Pct(double v) => double.IsNaN(v) ? "–" : v.ToString("+0%;-0%", CultureInfo.InvariantCulture);
        section.AddFigure(context.Figure("nonlinear.png",
            "Mode strengths of networks with a nonlinear hidden layer (no biases), measured as u_αᵀ Σ̂31 v_α with Σ̂31 = Σ_μ ŷ^μ x^μᵀ (for a linear net this is u_αᵀ W2 W1 v_α); dashed: the linear theory from the same initial weights. " +
            $"tanh is linear near zero, so it follows the theory through the plateaus and lags once hidden activations grow and saturate (half-learning times {Pct(lateness[HiddenActivation.Tanh])} on average against the theory; order by s {(order[HiddenActivation.Tanh] ? "kept" : "not kept")}). " +
            $"ReLU passes only the positive part of each unit's input: the broad modes are delayed ({Pct(lateness[HiddenActivation.ReLU])} on average), the order by singular value is {(order[HiddenActivation.ReLU] ? "kept" : "NOT kept among the finer modes")}, " +
            "and without biases some single-item modes stay below s (dead units). The linear theory describes the linear and, early on, the tanh network; the ReLU network only qualitatively."));
    }

    // ------------------------------------------------------------------------------------------------------------

    private static List<double> CheckpointGrid(double end, int count) => Enumerable.Range(0, count).Select(i => end * i / (count - 1)).ToList();

    private static List<int> Thin(IReadOnlyList<double> times, int count)
    {
        if (times.Count <= count) return Enumerable.Range(0, times.Count).ToList();
        return Enumerable.Range(0, count).Select(i => (int)Math.Round(i * (times.Count - 1) / (double)(count - 1))).Distinct().ToList();
    }

    private static string Fmt(double v, int digits = 3) => v.ToString("G" + digits, CultureInfo.InvariantCulture);
}
