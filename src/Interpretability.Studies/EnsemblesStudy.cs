using System.Globalization;
using Interpretability.Ensembles;
using Interpretability.Imaging;
using Interpretability.Nn;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Studies;

/// <summary>Options of <see cref="EnsemblesStudy"/> (the <c>interp ensembles</c> command).</summary>
/// <param name="Target"><c>bird</c> (the built-in procedural bird, with part labels) or the path of a picture.</param>
/// <param name="Size">Longer side of the picture in pixels (a square for the bird).</param>
/// <param name="Preset"><c>article</c> (CoordNet-37/460), <c>dense</c> (2-14-14-14-3, 462 synapses) or <c>random</c> (a random DAG with 37 neurons and 460 synapses).</param>
/// <param name="Epochs">Training epochs; null = 1500 (quick mode: 60).</param>
/// <param name="Threads">Intra-op threads the study asks the session for while it runs (restored afterwards); 0 keeps the
/// session's setting. Default 1: a coordinate network's operations are small (a few thousand pixels × at most 40 columns), so a
/// thread pool gains little and, on a shared machine, loses a lot (see <see cref="CoordinateTrainer.Train"/>).</param>
public sealed record EnsemblesStudyOptions(string Target = "bird", int Size = 64, string Preset = "article", int? Epochs = null, int Threads = 1)
{
    /// <summary>The preset names.</summary>
    public static IReadOnlyList<string> Presets { get; } = new[] { "article", "dense", "random" };
}

/// <summary>
/// Seeds 000/002 end to end: a coordinate network (37 tanh neurons, 460 synapses) learns to draw a bird; every synapse's
/// exact effect on every pixel (factored Jacobian, checked against finite differences); the ensemble of synapses behind
/// the patch under the wing; property gradients; a selective edit against the best single synapse; large-perturbation
/// strips; neuron maps; and the four thought experiments.
/// </summary>
public sealed class EnsemblesStudy : Study
{
    /// <summary>Size of the region edits: their linearised RMS colour change inside the region ([0, 1] units).</summary>
    public const double EditInsideRms = 0.25;

    private readonly EnsemblesStudyOptions options;

    /// <summary>Creates the study.</summary>
    public EnsemblesStudy(EnsemblesStudyOptions? options = null)
    {
        this.options = options ?? new EnsemblesStudyOptions();
        if (!EnsemblesStudyOptions.Presets.Contains(this.options.Preset))
            throw new ArgumentException($"Preset must be one of {string.Join(", ", EnsemblesStudyOptions.Presets)}; got '{this.options.Preset}'.", nameof(options));
        if (this.options.Size < 8) throw new ArgumentOutOfRangeException(nameof(options), this.options.Size, "Size must be at least 8 pixels.");
        if (this.options.Epochs is < 1) throw new ArgumentOutOfRangeException(nameof(options), this.options.Epochs, "Epochs must be at least 1.");
    }

    /// <inheritdoc />
    public override string Name => "ensembles";

    /// <inheritdoc />
    public override string Title => "Synapse ensembles: which synapses draw which part of a picture";

    /// <summary>The topology of a preset name.</summary>
    public static SynapseTopology TopologyOf(string preset, int seed) => preset switch
    {
        "article" => SynapseTopology.Article(),
        "dense" => SynapseTopology.Dense(),
        "random" => SynapseTopology.RandomDag(seed: seed),
        _ => throw new ArgumentException($"Unknown preset '{preset}'; use one of {string.Join(", ", EnsemblesStudyOptions.Presets)}.", nameof(preset)),
    };

    /// <summary>
    /// Reads a picture as a training target: RGB in [0, 1], resized (bilinear, antialiased) so that its longer side is
    /// <paramref name="size"/>.
    /// </summary>
    /// <returns><c>[3, H, W]</c> float32.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="ArgumentException">The file is not a readable picture.</exception>
    public static Tensor LoadTarget(string path, int size)
    {
        if (size < 8) throw new ArgumentOutOfRangeException(nameof(size), size, "size must be at least 8.");
        return Png.ReadWithLongerSide(path, size);
    }

    /// <inheritdoc />
    public override void Run(StudyContext context, ReportSection section, Metrics metrics)
    {
        using var threads = context.UseThreads(options.Threads);
        RunStudy(context, section, metrics);
    }

    private void RunStudy(StudyContext context, ReportSection section, Metrics metrics)
    {
        bool quick = context.Quick;
        int size = quick ? Math.Min(options.Size, 24) : options.Size;
        int epochs = options.Epochs ?? (quick ? 60 : 1500);
        var device = context.Device;
        var phases = new List<KeyValuePair<string, double>>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        void Mark(string phase) { phases.Add(new(phase, Math.Round(clock.Elapsed.TotalSeconds, 2))); clock.Restart(); }

        // ---- 1. Target ------------------------------------------------------------------------------------------------
        Report(context, "drawing the target", 0.01);
        LabelledImage? bird = null;
        Tensor target;
        Tensor regionMask;
        string regionName;
        if (options.Target == "bird")
        {
            bird = ProceduralBird.Draw(size, size);
            target = bird.Image;
            regionMask = bird.Mask(BirdPart.UnderWingPatch);
            regionName = "the patch under the wing";
            if (regionMask.sum().ToInt64() == 0) throw new InvalidOperationException($"At {size}×{size} the patch under the wing covers no pixel; use a larger --size.");
        }
        else
        {
            target = LoadTarget(options.Target, size);
            var g0 = new PixelGrid((int)target.shape[2], (int)target.shape[1]);
            var c0 = g0.Coordinates();
            regionMask = (c0.pow(2).sum(1) < 0.25f).reshape(g0.Height, g0.Width);
            regionName = "the central disc (radius 0.5)";
        }
        var grid = new PixelGrid((int)target.shape[2], (int)target.shape[1]);
        metrics.Set("target", options.Target == "bird" ? "bird" : Path.GetFileName(options.Target));
        metrics.Set("image_width", grid.Width);
        metrics.Set("image_height", grid.Height);
        metrics.Set("preset", options.Preset);
        metrics.Set("torch_threads", torch.get_num_threads());

        Mark("target");
        // ---- 2. Network and training ----------------------------------------------------------------------------------
        section.Heading("Network and training");
        var topology = TopologyOf(options.Preset, context.Seed);
        var network = new CoordinateNetwork(topology, seed: context.Seed, device: device);
        metrics.Set("neuron_count", topology.NeuronCount);
        metrics.Set("synapse_count", topology.SynapseCount);
        metrics.Set("level_count", topology.LevelCount);
        section.Paragraph($"A Habr article on synapse ensembles (the popular version of a talk at Neuroinformatics-2015, which answers Szegedy et al. 2013, \"Intriguing properties of neural networks\", arXiv:1312.6199) memorises one picture with a feed-forward network of 37 tanh neurons and 460 synapses " +
                          $"mapping a pixel's (x, y) to its (r, g, b), then ask which synapses carry which property of the picture. We rebuild it on an explicit synapse list: " +
                          $"preset '{options.Preset}' = {topology}. Target: {(bird is not null ? "the built-in procedural bird" : Path.GetFileName(options.Target))}, {grid.Width}×{grid.Height} pixels; " +
                          $"coordinates and colours in (−1, 1); RMSE is quoted with colours in [0, 1].");
        Report(context, "training", 0.03);
        var lastReport = DateTime.UtcNow;
        var progress = new SynchronousProgress<TrainingProgress>(p =>
        {
            if ((DateTime.UtcNow - lastReport).TotalSeconds < 0.5 && p.Epoch != p.Epochs) return;
            lastReport = DateTime.UtcNow;
            context.Progress?.Report(new StudyProgress(Name, $"training: epoch {p.Epoch}/{p.Epochs}, RMSE {p.Rmse:0.0000}", 0.03 + 0.5 * p.Epoch / p.Epochs));
        });
        var training = CoordinateTrainer.Train(network, target.to(device), new TrainingOptions(Epochs: epochs, Seed: context.Seed), progress, context.Cancellation);
        metrics.Set("final_rmse", training.FinalRmse);
        metrics.Set("epochs", epochs);
        metrics.Set("training_steps", training.Steps);
        metrics.Set("training_seconds", Math.Round(training.Seconds, 2));
        network.Save(context.PathOf("network.json"));
        var recon = network.Render(grid).cpu();
        var fine = network.Render(new PixelGrid(Math.Min(256, grid.Width * 4), Math.Min(256, grid.Height * 4))).cpu();
        {
            var tiles = new List<Tensor> { target.cpu(), recon, ((recon - target.cpu()).abs().mean(new long[] { 0 })), fine };
            var titles = new List<string?> { "target", $"reconstruction (RMSE {training.FinalRmse:0.0000})", "|error| (mean over r, g, b)", $"rendered at {fine.shape[2]}×{fine.shape[1]}: a function of (x, y)" };
            if (bird is not null) { tiles.Add(LabelPicture(bird)); titles.Add("part labels (the patch under the wing in magenta)"); }
            SaveGrid(context.PathOf("target_reconstruction.png"), tiles, titles, new GridOptions(Columns: tiles.Count, TileSize: 200), errorIndex: 2);
        }
        section.AddFigure(context.Figure("target_reconstruction.png",
            $"The target, the network's picture after {epochs} epochs ({training.Steps} Adam steps of 1024 pixels, {training.Seconds:0.0} s), the absolute error (viridis, min–max), " +
            "the same network rendered at four times the resolution (it is a continuous function of the coordinates), and the part labels of the bird."));
        var curve = Charts.Line(new[] { new Series("RMSE per epoch (moving weights)", training.EpochRmse.Select((_, i) => (double)(i + 1)).ToList(), training.EpochRmse) },
            new ChartOptions("Training: RMSE per epoch (colours in [0, 1])", "epoch", "RMSE", LogY: true, Width: 700, Height: 400),
            new[] { new ReferenceLine(0.08, false, "goal 0.08", "#cc3333") });
        section.AddFigure(context.SavePng("training_curve.png", curve, "Mini-batch RMSE of each epoch (log scale) with our goal of 0.08; the learning rate decays (cosine) to a tenth over the run."));

        Mark("training");
        // ---- 3. Exact Jacobian and its check ------------------------------------------------------------------------------
        section.Heading("The exact synapse Jacobian");
        section.Cite("rumelhart1986");
        Report(context, "checking the synapse Jacobian against finite differences", 0.55);
        double jacobianError;
        int checkSize = quick ? 6 : 24;
        using (var net64 = network.Copy(ScalarType.Float64))
        using (var checkCoords = PixelGrid.Square(checkSize).Coordinates(ScalarType.Float64, device))
        {
            using var f64 = SynapseJacobian.Compute(net64, checkCoords);
            var exactJ = f64.Materialize();
            var fdJ = SynapseJacobian.CentralDifferences(net64, checkCoords, 1e-4);
            jacobianError = SynapseJacobian.MaxRelativeError(exactJ, fdJ);
            var exact = exactJ.reshape(-1).cpu();
            var fd = fdJ.reshape(-1).cpu();
            using var gen = new Generator((ulong)context.Seed);
            var pick = randperm(exact.shape[0], generator: gen).narrow(0, 0, Math.Min(3000, exact.shape[0]));
            var ex = exact.index_select(0, pick).data<double>().ToArray();
            var fdv = fd.index_select(0, pick).data<double>().ToArray();
            var scatter = Charts.Scatter(new[] { new Series("3000 random entries (pixel, channel, synapse)", fdv, ex, "#1f77b4") },
                new ChartOptions($"Factored Jacobian vs central differences (float64, {checkSize}×{checkSize} grid)", "finite difference (h = 1e-4)", "δ·a (factored)", Width: 600, Height: 450));
            section.AddFigure(context.SavePng("jacobian_check.png", scatter,
                $"Every point is one entry ∂O_c(p)/∂w_s; they lie on the diagonal. Largest relative error per synapse column over all {topology.SynapseCount} synapses: {jacobianError:0.0e0} (goal ≤ 1e-4)."));
        }
        metrics.Set("jacobian_max_rel_error", jacobianError);
        metrics.Set("jacobian_check_grid", checkSize);

        Mark("jacobian_check");
        // ---- 4. Effect maps of every synapse, neuron maps ---------------------------------------------------------------
        section.Heading("Effect maps of every synapse; neuron maps");
        Report(context, "synapse effect maps", 0.6);
        var coords = grid.Coordinates(network.DType, device);
        using var factors = SynapseJacobian.Compute(network, coords);
        var luminance = LuminanceEffects(factors);                                                // [S, P]
        ContactSheet(context.PathOf("synapse_contact_sheet.png"), topology, grid, luminance);
        section.AddFigure(context.Figure("synapse_contact_sheet.png",
            "Contact sheet of all synapses: one row per target neuron, one tile per incoming synapse (title: synapse number and source). Each tile is the synapse's exact effect map " +
            "∂(mean of r, g, b)/∂w over the picture — red brightens, blue darkens, white is no effect — each tile scaled to its own largest value, so it shows where a synapse acts, not how strongly."));
        var neuronMaps = NeuronMaps.Activations(network, grid);
        var ablation = NeuronMaps.AblationEffects(network, grid);
        {
            var tiles = Enumerable.Range(0, topology.NeuronCount).Select(j => neuronMaps[j]).ToList();
            var titles = Enumerable.Range(0, topology.NeuronCount).Select(j => (string?)$"{topology.NeuronName(j)} Δ{ablation[j]:0.00}").ToList();
            ImageGrid.Save(context.PathOf("neuron_maps.png"), tiles, titles,
                new GridOptions(Columns: Math.Min(10, tiles.Count), TileSize: 72, Padding: 3, FontSize: 10, Title: "Neuron activation maps (black −1, white +1); Δ = RMS picture change when the neuron is silenced"),
                new PngOptions(Normalization.Fixed(-1, 1), Colormap.Grey));
        }
        section.AddFigure(context.Figure("neuron_maps.png",
            "Each neuron's activation over the (x, y) plane (grey, fixed scale −1…1), as the Habr article on synapse ensembles (2015) shows for its neurons 29, 31, 33. Under each map: the RMS colour change of the whole picture " +
            "([0, 1] units) when that neuron's activation is clamped to 0 at every pixel."));
        metrics.Set("neuron_ablation_rms", ablation);

        Mark("effect_and_neuron_maps");
        // ---- 5. Region energies and the ensemble ---------------------------------------------------------------------------
        section.Heading("Region energies and the region's ensemble");
        Report(context, $"region energies and the ensemble of {regionName}", 0.66);
        // Chunked over pixels; on CUDA the context's batch runner halves the chunk on out-of-memory.
        var energies = context.Batches.Run($"region-energy:{network.Topology.SynapseCount}:{grid.PixelCount}", RegionEnergy.DefaultChunkPixels,
            chunk => RegionEnergy.Compute(network, grid, regionMask, chunk));
        var ensemble = RegionEnsemble.Find(topology, energies);
        metrics.Set("region_pixels", (long)Math.Round(energies.InsidePixels));
        metrics.Set("region_ensemble_size", ensemble.Size);
        metrics.Set("region_ensemble_fraction", ensemble.Fraction);
        metrics.Set("region_energy_share", ensemble.Coverage);
        metrics.Set("region_ensemble_reached_share", ensemble.Reached);
        metrics.Set("region_ensemble_leakage", ensemble.Leakage);
        metrics.Set("region_candidates", ensemble.CandidateCount);
        metrics.Set("ensemble_neurons", ensemble.TargetNeurons.Count);
        metrics.Set("ensemble_neuron_ids", ensemble.TargetNeurons);
        metrics.Set("ensemble_neurons_touched", ensemble.NeuronsTouched.Count);
        metrics.Set("ensemble_synapses", ensemble.Synapses);
        int allSynapsesFor80 = CountForShare(energies, 0.8, selective: false);
        metrics.Set("region_synapses_for_share_without_selectivity", allSynapsesFor80);
        section.Paragraph($"Region: {regionName}, {energies.InsidePixels:0} of {grid.PixelCount} pixels. Region energy E_R(s) = Σ_(p∈R) Σ_c (∂O_c(p)/∂w_s)² for every synapse in one matrix product " +
                          $"over pixels; selectivity ρ(s) = per-pixel energy inside / outside. The ensemble is the smallest set of selective synapses (ρ ≥ 2), strongest first, carrying 80% of the region's energy: " +
                          $"{ensemble.Size} of {topology.SynapseCount} synapses ({100 * ensemble.Fraction:0.0}%), carrying {100 * ensemble.Coverage:0.0}% of the region energy" +
                          $"{(ensemble.Reached ? "" : " (the selective candidates ran out before 80%)")} and {100 * ensemble.Leakage:0.0}% of the energy outside, " +
                          $"ending at {ensemble.TargetNeurons.Count} neurons ({string.Join(", ", ensemble.TargetNeurons.Select(topology.NeuronName))}) and touching {ensemble.NeuronsTouched.Count} neurons at either end. " +
                          $"The article found \"about 46 of 460\" synapses (10%) spread over at least 7 neurons for its region under the peacock's wing. " +
                          $"Without the selectivity condition, {allSynapsesFor80} synapses would be needed to carry 80% of the region's energy.");
        RegionFigures(context, section, topology, grid, factors, recon, regionMask, energies, ensemble);

        Mark("region_ensemble");
        // ---- 6. Gram matrix and clusters ---------------------------------------------------------------------------------
        section.Heading("Gram matrix and clusters of synapses");
        Report(context, "Gram matrix of effect maps and clusters", 0.72);
        var gram = SynapseGram.Compute(network, coords, null);
        var clusters = SynapseClustering.Agglomerative(topology, gram, Math.Min(quick ? 8 : 16, topology.SynapseCount));
        ClusterFigures(context, section, topology, grid, factors, gram, clusters, metrics);

        Mark("gram_clusters");
        // ---- 7. Property gradients ---------------------------------------------------------------------------------------
        section.Heading("Property gradients");
        Report(context, "property gradients", 0.78);
        PropertySection(context, section, network, grid, metrics);

        Mark("properties");
        // ---- 8. Editing the region ---------------------------------------------------------------------------------------
        section.Heading("Editing the region along its ensemble");
        Report(context, "editing the region along its ensemble", 0.84);
        // An ensemble can be empty (an untrained network in quick mode may have no selective synapse): then the edit may use every synapse.
        var editable = ensemble.Size > 0 ? ensemble.Synapses : Enumerable.Range(0, topology.SynapseCount).ToArray();
        if (ensemble.Size == 0) section.Paragraph("No synapse is selective for the region (ρ ≥ 2), so the ensemble is empty; the edit below may move every synapse.");
        var eigen = EnsembleEditing.MostSelective(network, grid, regionMask, editable, label: "ensemble eigen-direction");
        var single = EnsembleEditing.BestSingleSynapse(topology, energies);
        using var editEnsemble = EnsembleEditing.Apply(network, grid, regionMask, eigen.Direction, EditInsideRms);
        using var editSingle = EnsembleEditing.Apply(network, grid, regionMask, single.Direction, EditInsideRms);
        metrics.Set("edit_selectivity_ensemble", Finite(editEnsemble.Selectivity));
        metrics.Set("edit_selectivity_best_single", Finite(editSingle.Selectivity));
        metrics.Set("edit_linear_selectivity_ensemble", Finite(eigen.LinearSelectivity));
        metrics.Set("edit_linear_selectivity_best_single", Finite(single.LinearSelectivity));
        metrics.Set("edit_best_single_synapse", single.Synapses[0]);
        metrics.Set("edit_inside_rms_ensemble", editEnsemble.InsideRms);
        metrics.Set("edit_outside_rms_ensemble", editEnsemble.OutsideRms);
        metrics.Set("edit_inside_rms_best_single", editSingle.InsideRms);
        metrics.Set("edit_outside_rms_best_single", editSingle.OutsideRms);
        {
            var dEns = (editEnsemble.After - editEnsemble.Before).abs().mean(new long[] { 0 });
            var dOne = (editSingle.After - editSingle.Before).abs().mean(new long[] { 0 });
            var limit = Math.Max(1e-6, Math.Max(dEns.max().ToDouble(), dOne.max().ToDouble()));
            var outline = Outline(regionMask);
            var tiles = new[]
            {
                WithOutline(editEnsemble.Before, outline), WithOutline(editEnsemble.After, outline), WithOutline(HeatTile(dEns, limit), outline),
                WithOutline(editSingle.After, outline), WithOutline(HeatTile(dOne, limit), outline),
            };
            var titles = new string?[]
            {
                "before", $"ensemble edit ({editable.Count} synapses)", $"|change|: inside {editEnsemble.InsideRms:0.000}, outside {editEnsemble.OutsideRms:0.0000}, selectivity {editEnsemble.Selectivity:0.0}",
                $"best single synapse s{single.Synapses[0]}", $"|change|: inside {editSingle.InsideRms:0.000}, outside {editSingle.OutsideRms:0.0000}, selectivity {editSingle.Selectivity:0.0}",
            };
            SaveGrid(context.PathOf("region_edit.png"), tiles, titles, new GridOptions(Columns: 5, TileSize: 180, FontSize: 11));
        }
        section.AddFigure(context.Figure("region_edit.png",
            $"Editing {regionName} (the magenta ring surrounds it). Ensemble edit: the top generalised eigenvector of G_R d = λ (G_¬R + εI) d over the ensemble's {editable.Count} synapses (the weight direction " +
            $"that changes the region most per unit change outside). Best single synapse: {topology.Describe(single.Synapses[0])}, the synapse with the largest E_R/(E_¬R + ε). Both steps are scaled so the " +
            $"linearised RMS change inside the region is {EditInsideRms} (colours in [0, 1]); the pictures are re-rendered (not linearised). |change| maps share one scale (viridis). Selectivity = mean squared change per pixel inside / outside: " +
            $"ensemble {editEnsemble.Selectivity:0.0} vs single synapse {editSingle.Selectivity:0.0} (linearised: {eigen.LinearSelectivity:0.0} vs {single.LinearSelectivity:0.0}). " +
            $"The re-rendered edits did not reach the aimed strength: the actual RMS change inside is {editEnsemble.InsideRms:0.000} for the ensemble and {editSingle.InsideRms:0.000} for the single synapse " +
            $"(aimed: {EditInsideRms}), because the network is not linear along either direction; the two selectivities are therefore measured at different strengths and are not a like-for-like comparison."));

        Mark("edit");
        // ---- 9. Large-perturbation strips ---------------------------------------------------------------------------------
        section.Heading("Large perturbations and the linear prediction");
        Report(context, "large-perturbation strips", 0.9);
        StripFigure(context, section, network, grid, topology, ensemble, single, energies, quick);
        LinearVersusActual(context, section, network, grid, topology, coords, factors, ensemble, metrics);

        Mark("strips_and_linearization");
        // ---- 10. Thought experiments --------------------------------------------------------------------------------------
        section.Heading("Thought experiments");
        Report(context, "thought experiments", 0.95);
        var experiments = ThoughtExperiments.VerifyAll();
        metrics.Set("thought_experiments_passed", experiments.Count(e => e.Passed));
        metrics.Set("thought_experiments_total", experiments.Count);
        ThoughtExperimentFigures(context, section, experiments);
        Mark("thought_experiments");
        metrics.Set("phase_seconds", phases);
        bird?.Dispose();
        Report(context, "done", 1);
    }

    // ======================================================================================================================
    // Figures
    // ======================================================================================================================

    private static void RegionFigures(StudyContext context, ReportSection section, SynapseTopology topology, PixelGrid grid, JacobianFactors factors,
        Tensor recon, Tensor mask, RegionEnergies energies, SynapseEnsemble ensemble)
    {
        var all = Enumerable.Range(0, topology.SynapseCount).ToArray();
        var members = ensemble.Synapses.ToHashSet();
        var others = all.Where(s => !members.Contains(s)).ToArray();
        var ens = EnergyDensity(factors, ensemble.Synapses, grid);
        var rest = EnergyDensity(factors, others, grid);
        var share = ens / (ens + rest).clamp_min(1e-12);
        var outline = Outline(mask);
        var tiles = new[]
        {
            WithOutline(recon, outline),
            WithOutline(Colormap.Viridis.Apply(Normalization.MinMax.Apply(ens.sqrt())), outline),
            WithOutline(Colormap.Viridis.Apply(Normalization.MinMax.Apply(rest.sqrt())), outline),
            WithOutline(Colormap.Viridis.Apply(share), outline),
        };
        SaveGrid(context.PathOf("region_ensemble.png"), tiles, new string?[]
        {
            "the region (outlined) on the reconstruction", $"√ energy of the {ensemble.Size} ensemble synapses", $"√ energy of the other {others.Length} synapses",
            "ensemble's share of each pixel's energy (0…1)",
        }, new GridOptions(Columns: 4, TileSize: 200));
        section.AddFigure(context.Figure("region_ensemble.png",
            "Where the ensemble acts. Energy of a set of synapses at a pixel = Σ_(s in set) Σ_c (∂O_c/∂w_s)², shown as its square root (viridis, min–max); a magenta ring surrounds the region. " +
            "The last tile is the ensemble's share of all synapses' energy at each pixel (fixed scale 0…1)."));

        // Cumulative share curves.
        var bySelective = energies.Inside.Select((e, s) => (e, s)).Where(t => t.e > 0 && energies.Selectivity(t.s) >= 2).OrderByDescending(t => t.e).Select(t => t.e).ToList();
        var byAll = energies.Inside.OrderByDescending(e => e).ToList();
        var total = energies.TotalInside;
        List<double> Cum(List<double> v) { double acc = 0; return v.Select(e => (acc += e) / total).ToList(); }
        var curves = new List<Series> { new("all synapses, strongest first", Enumerable.Range(1, byAll.Count).Select(i => (double)i).ToList(), Cum(byAll), "#7f7f7f") };
        if (bySelective.Count > 0)
            curves.Add(new Series("selective synapses (ρ ≥ 2), strongest first", Enumerable.Range(1, bySelective.Count).Select(i => (double)i).ToList(), Cum(bySelective), "#d62728"));
        var curve = Charts.Line(curves, new ChartOptions($"Share of the region's energy carried by the first k synapses (ensemble: {ensemble.Size})", "k (synapses)", "share of Σ E_R", LogX: true, Width: 700, Height: 420, Legend: false),
            new[] { new ReferenceLine(0.8, false, "q = 0.8", "#333333"), new ReferenceLine(Math.Max(1, ensemble.Size), true, $"ensemble: {ensemble.Size}", "#d62728") });
        var selectivityPoints = Enumerable.Range(0, topology.SynapseCount)
            .Select(s => (s, e: energies.Inside[s] / total, r: energies.Selectivity(s)))
            .Where(t => t.e > 0 && double.IsFinite(t.r) && t.r > 0).ToList();
        var scatterSeries = new[]
        {
            new Series("other synapses", selectivityPoints.Where(t => !members.Contains(t.s)).Select(t => t.e).ToList(), selectivityPoints.Where(t => !members.Contains(t.s)).Select(t => t.r).ToList(), "#7f7f7f"),
            new Series("ensemble", selectivityPoints.Where(t => members.Contains(t.s)).Select(t => t.e).ToList(), selectivityPoints.Where(t => members.Contains(t.s)).Select(t => t.r).ToList(), "#d62728"),
        }.Where(x => x.X.Count > 0).ToList();
        var scatter = Charts.Scatter(scatterSeries, new ChartOptions("Every synapse: share of the region's energy vs selectivity (red: the ensemble)", "E_R(s) / Σ E_R", "selectivity ρ (inside/outside per pixel)", LogX: true, LogY: true, Width: 700, Height: 420, Legend: false),
            new[] { new ReferenceLine(2, false, "ρ_min = 2", "#333333") });
        section.AddFigureRow(new[]
        {
            context.SavePng("ensemble_share_curve.png", curve, "How many synapses it takes to carry the region: red, the selective candidates (ρ ≥ 2) strongest first — the ensemble ends where red crosses q = 0.8 (dotted); grey, all synapses without the selectivity condition (where the two coincide, the strongest synapses are all selective)."),
            context.SavePng("ensemble_selectivity.png", scatter, "Each point is a synapse: its share of the region's energy and its selectivity (log–log); dotted: ρ_min = 2. The ensemble (red) is the strongest of the selective synapses; the many weak synapses (left) barely touch the region and are not selective."),
        });

        // The ensemble in the wiring: target neuron × source node.
        var values = new double[topology.NeuronCount, topology.NodeCount];
        for (int s = 0; s < topology.SynapseCount; s++) values[topology.TargetNeuron(s), topology.Sources[s]] = Math.Sqrt(energies.Inside[s] / total);
        var markX = ensemble.Synapses.Select(s => topology.Sources[s] + 0.5).ToList();
        var markY = ensemble.Synapses.Select(s => topology.TargetNeuron(s) + 0.5).ToList();
        var matrix = Charts.Heatmap(values, new ChartOptions("Region energy of every synapse in the wiring (√ share); red dots: the ensemble", "source node (0 = x, 1 = y, 2 + j = neuron j)", "target neuron", Width: 760, Height: 640),
            "√(E_R(s)/Σ E_R)", overlay: markX.Count > 0 ? new[] { new Series("ensemble", markX, markY, "#ff2020", Markers: true, LineWidth: 0) } : null);
        section.AddFigure(context.SavePng("ensemble_matrix.png", matrix,
            "The synapse list as a matrix: row = target neuron, column = source node (x, y, then neurons); colour = √ of the synapse's share of the region's energy (dark cells with no colour are absent synapses or silent ones). " +
            TargetConcentration(topology, ensemble.Synapses)));

        var rows = ensemble.Synapses.Take(60).Select(s => (IReadOnlyList<string>)new[]
        {
            s.ToString(CultureInfo.InvariantCulture), topology.Describe(s).Split(": ")[1], F(energies.Inside[s] / total, "0.0000"),
            F(energies.Selectivity(s), "0.0"), F(energies.Outside[s] / Math.Max(energies.TotalOutside, 1e-300), "0.0000"),
        }).ToList();
        section.AddTable(new Table($"The ensemble of {ensemble.Size} synapses, strongest first{(ensemble.Size > 60 ? " (first 60)" : "")}",
            new[] { "synapse", "from → to", "share of E_R", "selectivity ρ", "share of E_¬R" }, rows));
    }

    /// <summary>How concentrated an ensemble is on its target neurons, as a sentence for the caption.</summary>
    private static string TargetConcentration(SynapseTopology topology, IReadOnlyList<int> synapses)
    {
        if (synapses.Count == 0) return "The ensemble is empty.";
        var byNeuron = synapses.GroupBy(topology.TargetNeuron).OrderByDescending(g => g.Count()).ToList();
        int four = byNeuron.Take(4).Sum(g => g.Count());
        return $"The ensemble's {synapses.Count} synapses (red dots) end at {byNeuron.Count} target neurons; {four} of them ({(double)four / synapses.Count:P0}) end at the four most used " +
               $"({string.Join(", ", byNeuron.Take(4).Select(g => $"n{g.Key}: {g.Count()}"))}).";
    }

    private static void ClusterFigures(StudyContext context, ReportSection section, SynapseTopology topology, PixelGrid grid, JacobianFactors factors,
        Tensor gram, IReadOnlyList<SynapseCluster> clusters, Metrics metrics)
    {
        var order = clusters.SelectMany(c => c.Synapses).ToArray();
        using var cos = SynapseGram.Cosine(gram);
        var idx = tensor(order.Select(s => (long)s).ToArray());
        var reordered = cos.index_select(0, idx).index_select(1, idx).abs();
        var n = order.Length;
        var values = new double[n, n];
        var data = reordered.contiguous().data<double>().ToArray();
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) values[i, j] = data[i * n + j];
        var heat = Charts.Heatmap(values, new ChartOptions("|cosine| between synapse effect maps, synapses grouped by cluster", "synapse (cluster order)", "synapse (cluster order)", Width: 720, Height: 640), "|cos|");
        var top = clusters.Take(12).ToList();
        var tiles = top.Select(c => Colormap.Viridis.Apply(Normalization.MinMax.Apply(EnergyDensity(factors, c.Synapses, grid).sqrt()))).ToList();
        var titles = top.Select((c, i) => (string?)$"c{i + 1}: {c.Synapses.Count} syn → {NeuronList(topology, c.TargetNeurons)}").ToList();
        // how alike the clusters' maps are: the mean cosine between the twelve energy maps (1 = they all light the same pixels)
        var flatMaps = stack(top.Select(c => EnergyDensity(factors, c.Synapses, grid).flatten().to(float64)).ToArray());
        flatMaps = flatMaps / flatMaps.norm(1, true).clamp_min(1e-300);
        var cosines = matmul(flatMaps, flatMaps.t());
        long m = cosines.shape[0];
        double meanCos = m < 2 ? double.NaN : (cosines.sum().ToDouble() - cosines.diagonal().sum().ToDouble()) / (m * (m - 1));
        metrics.Set("cluster_map_mean_cosine", Math.Round(meanCos, 4));
        ImageGrid.Save(context.PathOf("cluster_maps.png"), tiles, titles, new GridOptions(Columns: 6, TileSize: 120, FontSize: 10,
            Title: "Where each cluster of synapses acts (√ energy, viridis, each tile min–max)"));
        section.AddFigureRow(new[]
        {
            context.SavePng("gram_clusters.png", heat, "Gram matrix of the effect maps of all synapses, G[s,t] = Σ_p Σ_c J[p,c,s] J[p,c,t], as |cosine| and reordered by agglomerative clustering (average linkage on 1 − |cos|): bright blocks on the diagonal are candidate ensembles."),
            context.Figure("cluster_maps.png", $"The energy map of the twelve strongest clusters, with the neurons their synapses end at. The maps' mean pairwise cosine is {meanCos:0.00}" +
                (meanCos > 0.5 ? ": most clusters act on the same pixels (largely the picture's outlines), so a cluster is not a part of the picture." : ": the clusters act on different parts of the picture.")),
        });
        section.AddTable(new Table("Clusters of synapses (candidate ensembles), strongest first", new[] { "cluster", "synapses", "share of all effect energy", "mean |cos| inside", "target neurons", "source neurons" },
            clusters.Select((c, i) => (IReadOnlyList<string>)new[]
            {
                $"c{i + 1}", c.Synapses.Count.ToString(CultureInfo.InvariantCulture), F(c.Energy / clusters.Sum(x => x.Energy), "0.000"), F(c.MeanAbsCosine, "0.00"),
                NeuronList(topology, c.TargetNeurons), NeuronList(topology, c.SourceNeurons),
            }).ToList()));
        metrics.Set("cluster_count", clusters.Count);
        metrics.Set("cluster_sizes", clusters.Select(c => c.Synapses.Count));
    }

    private static void PropertySection(StudyContext context, ReportSection section, CoordinateNetwork network, PixelGrid grid, Metrics metrics)
    {
        var properties = new ImageProperty[]
        {
            new MeanChannel(1), new ColourBalance(1), new MaskProperty(MaskMoment.Area), new MaskProperty(MaskMoment.CentroidX),
            new MaskProperty(MaskMoment.CentroidY), new MaskProperty(MaskMoment.Orientation), new MaskProperty(MaskMoment.Width),
        };
        var results = properties.Select(p => PropertyGradient.Compute(network, grid, p)).ToList();
        var checks = properties.Select(p => PropertyGradient.Check(network, grid, p)).ToList();
        section.Paragraph("Property directions: a scalar property P of the rendered picture, its gradient over all weights ∇_w P = Σ_p (∂P/∂O(p))·∂O(p)/∂w by one backward pass, and the synapses " +
                          "with the largest |∂P/∂w|. Mask properties use the soft green mask m(p) = σ(10 (G − max(R, B))), which picks out the green bird (body, head, tail). The first-order check steps " +
                          "the weights by α = 1e-3 along the unit gradient and compares the change of P with α|∇P| (goal: within 5%).");
        section.AddTable(new Table("Property gradients", new[] { "property", "value", "|∇P|", "top 5 synapses", "share of |∇P|² in top 5", "first-order check: actual/predicted − 1" },
            properties.Select((p, i) => (IReadOnlyList<string>)new[]
            {
                $"{p.Name} ({p.Unit})", F(results[i].Value, "0.0000"), F(results[i].Norm, "0.000e0"), string.Join(", ", results[i].TopSynapses(5).Select(s => $"s{s}")),
                F(results[i].TopShare(5), "0.00"), F((checks[i].Actual - checks[i].Predicted) / Math.Max(Math.Abs(checks[i].Predicted), 1e-300), "+0.0000;-0.0000"),
            }).ToList()));
        metrics.Set("property_first_order_max_rel_error", checks.Max(c => c.RelativeError));
        metrics.Set("property_values", properties.Select((p, i) => new KeyValuePair<string, double>(p.Name, results[i].Value)));
        metrics.Set("property_top_synapse", properties.Select((p, i) => new KeyValuePair<string, double>(p.Name, results[i].TopSynapses(1)[0])));

        // Which synapses carry tilt and which carry green: the seed's synapse 0 vs 418 story.
        var tilt = results[5];
        var green = results[0];
        double maxT = tilt.Gradient.Max(Math.Abs), maxG = green.Gradient.Max(Math.Abs);
        var xs = Enumerable.Range(0, tilt.Gradient.Count).Select(s => (double)s).ToList();
        var bars = Charts.Line(new[]
        {
            new Series("tilt (mask orientation)", xs, tilt.Gradient.Select(g => Math.Abs(g) / Math.Max(maxT, 1e-300)).ToList(), "#1f77b4", Markers: true, LineWidth: 0.7f),
            new Series("mean green", xs, green.Gradient.Select(g => -Math.Abs(g) / Math.Max(maxG, 1e-300)).ToList(), "#2ca02c", Markers: true, LineWidth: 0.7f),
        }, new ChartOptions("|∂P/∂w_s| per synapse, each property scaled to its largest (green drawn downwards)", "synapse", "relative |gradient|", Width: 900, Height: 420));
        section.AddFigure(context.SavePng("property_gradients.png", bars,
            $"The tilt of the bird and its greenness are carried by different synapses: tilt's strongest are {string.Join(", ", tilt.TopSynapses(5).Select(s => $"s{s}"))}, green's {string.Join(", ", green.TopSynapses(5).Select(s => $"s{s}"))}."));

        // Editing a property along its own small ensemble, with the other as control (restrict, renormalise, step).
        var rows = new List<Tensor>();
        var titles = new List<string?>();
        var tableRows = new List<IReadOnlyList<string>>();
        foreach (var (result, property, control, controlProperty, goal) in new[]
                 {
                     (tilt, properties[5], green, properties[0], 8.0),
                     (green, properties[0], tilt, properties[5], 0.1),
                 })
        {
            var top = result.TopSynapses(10);
            var d = PropertyGradient.Restrict(result.Gradient, top);
            var slope = d.Zip(result.Gradient, (a, b) => a * b).Sum();
            if (slope == 0) continue;
            var alpha = goal / slope;
            using var delta = tensor(d.Select(v => v * alpha).ToArray(), dtype: ScalarType.Float64);
            var before = network.Render(grid);
            double afterP, afterC;
            Tensor after;
            using (network.Perturb(delta))
            {
                after = network.Render(grid);
                afterP = PropertyGradient.Value(network, grid, property);
                afterC = PropertyGradient.Value(network, grid, controlProperty);
            }
            rows.Add(before.cpu());
            rows.Add(after.cpu());
            rows.Add(HeatTile((after - before).abs().mean(new long[] { 0 }).cpu(), null));
            titles.Add("before");
            titles.Add($"{property.Name} {result.Value:0.000} → {afterP:0.000} (aimed +{goal})");
            titles.Add($"|change|; control {controlProperty.Name} {control.Value:0.000} → {afterC:0.000}");
            tableRows.Add(new[]
            {
                property.Name, string.Join(", ", top.Select(s => $"s{s}")), F(goal, "0.###"), F(afterP - result.Value, "+0.000;-0.000"),
                controlProperty.Name, F(afterC - control.Value, "+0.0000;-0.0000"),
            });
            metrics.Set($"property_edit_{property.Name}_change", afterP - result.Value);
            metrics.Set($"property_edit_{property.Name}_control_change", afterC - control.Value);
        }
        if (rows.Count > 0)
        {
            SaveGrid(context.PathOf("property_edit.png"), rows, titles, new GridOptions(Columns: 3, TileSize: 200, FontSize: 11));
            section.AddFigure(context.Figure("property_edit.png",
                "Editing one property along its own ensemble: the gradient restricted to the property's 10 strongest synapses, renormalised, stepped to change the property by the aimed amount " +
                "(first row: tilt by +8°, second: mean green by +0.1), re-rendered. The other property is the control. |change| in viridis, min–max."));
            section.AddTable(new Table("Property edits along the top-10 synapses", new[] { "property", "synapses moved", "aimed change", "actual change", "control", "control change" }, tableRows));
        }
    }

    private static void StripFigure(StudyContext context, ReportSection section, CoordinateNetwork network, PixelGrid grid, SynapseTopology topology,
        SynapseEnsemble ensemble, EditDirection single, RegionEnergies energies, bool quick)
    {
        var candidates = new List<(int Synapse, string Why)>();
        if (ensemble.Size > 0) candidates.Add((ensemble.Synapses[0], "strongest of the ensemble"));
        candidates.Add((single.Synapses[0], "best single synapse for the region"));
        candidates.Add((0, "synapse 0 (the article's tilt synapse; here x→n0)"));
        var strongest = Enumerable.Range(0, topology.SynapseCount).MaxBy(s => energies.Inside[s] + energies.Outside[s]);
        candidates.Add((strongest, "strongest overall"));
        var chosen = candidates.GroupBy(c => c.Synapse).Select(g => g.First()).ToList();
        var offsets = PerturbationStrips.Offsets(quick ? 2 : 4, 0.25);
        var tiles = new List<Tensor>();
        var rowLabels = new List<string>();
        foreach (var (s, why) in chosen)
        {
            using var strip = PerturbationStrips.Render(network, grid, s, offsets);
            var limit = Math.Max(1e-6, strip.Differences.max().ToDouble());
            for (int k = 0; k < offsets.Length; k++) tiles.Add(strip.Frames[k]);
            for (int k = 0; k < offsets.Length; k++) tiles.Add(HeatTile(strip.Differences[k], limit));
            rowLabels.Add($"s{s} {topology.Describe(s).Split(": ")[1]}");
            rowLabels.Add($"|Δ| (max {limit:0.00})");
        }
        var columnLabels = offsets.Select(o => $"Δw = {o:+0.00;-0.00;0}").ToList();
        SaveGrid(context.PathOf("strips.png"), tiles, null, new GridOptions(Columns: offsets.Length, TileSize: 84, Padding: 3, RowLabels: rowLabels, ColumnLabels: columnLabels, FontSize: 11,
            Title: "Large-perturbation strips: the picture with one weight moved by Δw"));
        section.AddFigure(context.Figure("strips.png",
            $"The Habr article's experiment: move one synapse's weight far (Δw = kΔ, Δ = 0.25, k = −{(quick ? 2 : 4)}…{(quick ? 2 : 4)}) and re-render. Rows: " +
            string.Join("; ", chosen.Select(c => $"s{c.Synapse} = {c.Why}")) + ". Under each frame |O_k − O_0| (viridis, one scale per synapse, its maximum in the row label)."));
    }

    private static void LinearVersusActual(StudyContext context, ReportSection section, CoordinateNetwork network, PixelGrid grid, SynapseTopology topology,
        Tensor coords, JacobianFactors factors, SynapseEnsemble ensemble, Metrics metrics)
    {
        const double small = 0.25, large = 1.0;
        var errors = EffectMaps.LinearizationErrors(network, coords, small);
        var sorted = errors.Order().ToArray();
        metrics.Set("effect_linearization_median_rel_error", sorted[sorted.Length / 2]);
        metrics.Set("effect_linearization_p90_rel_error", sorted[(int)(0.9 * (sorted.Length - 1))]);
        var picks = new List<int>();
        if (ensemble.Size > 0) picks.Add(ensemble.Synapses[0]);
        picks.Add(0);
        picks.Add(errors.Select((e, s) => (e, s)).MaxBy(t => t.e).s);
        picks.Add(errors.Select((e, s) => (e, s)).Where(t => t.e > 0).MinBy(t => t.e).s);
        picks = picks.Distinct().ToList();
        var tiles = new List<Tensor>();
        var labels = new List<string>();
        foreach (var s in picks)
        {
            Tensor Map(Tensor change) => grid.ToMap(change.mean(new long[] { 1 })).to(ScalarType.Float32).cpu();
            var maps = new[]
            {
                Map(EffectMaps.Linear(factors, s, small)), Map(EffectMaps.Actual(network, coords, s, small)),
                Map(EffectMaps.Linear(factors, s, large)), Map(EffectMaps.Actual(network, coords, s, large)),
            };
            var limitSmall = Math.Max(1e-9, Math.Max(maps[0].abs().max().ToDouble(), maps[1].abs().max().ToDouble()));
            var limitLarge = Math.Max(1e-9, Math.Max(maps[2].abs().max().ToDouble(), maps[3].abs().max().ToDouble()));
            for (int k = 0; k < 4; k++)
                tiles.Add(Colormap.Diverging.Apply(Normalization.SymmetricWithLimit(k < 2 ? limitSmall : limitLarge).Apply(maps[k])));
            labels.Add($"{topology.Describe(s)} (error {errors[s]:0.00})");
        }
        SaveGrid(context.PathOf("effect_linear_vs_actual.png"), tiles, null, new GridOptions(Columns: 4, TileSize: 120, FontSize: 11, RowLabels: labels,
            ColumnLabels: new[] { $"linear, Δw = {small}", $"actual, Δw = {small}", $"linear, Δw = {large}", $"actual, Δw = {large}" },
            Title: "Effect of one synapse on the mean colour: linearised (J·Δw) vs re-rendered"));
        section.AddFigure(context.Figure("effect_linear_vs_actual.png",
            $"Linearised effect maps (from the exact Jacobian, no extra pass) against the actual change after re-rendering, for Δw = {small} and Δw = {large} " +
            "(red brighter, blue darker; the two tiles of a pair share one scale). Rows: the ensemble's strongest synapse, synapse 0, the synapse whose linearisation is worst and the one whose is best at " +
            $"Δw = {small}; the row label gives ‖actual − linear‖/‖actual‖. Over all {topology.SynapseCount} synapses at Δw = {small}, the median of that error is {sorted[sorted.Length / 2]:0.00} and " +
            $"its 90th percentile {sorted[(int)(0.9 * (sorted.Length - 1))]:0.00}. Synapses whose effect is to move an edge respond far from linearly already at Δw = {small}, and at Δw = {large} the " +
            "linearisation overshoots wherever the tanh outputs saturate: a synapse's working range is much smaller than the range of its strips, as the Habr article remarks."));
    }

    private static void ThoughtExperimentFigures(StudyContext context, ReportSection section, IReadOnlyList<ThoughtExperimentResult> results)
    {
        section.Paragraph("The four thought experiments of the Habr article on synapse ensembles (2015), built as networks with exact hand-set weights and verified exhaustively: " +
                          string.Join("; ", results.Select(r => $"{r.Name}: {r.Correct}/{r.Checked} {(r.Passed ? "passed" : "FAILED")}")) + ".");
        // 1. Line classifier: decision map over the plane (y up).
        using var line = ThoughtExperiments.LineClassifier(0.5);
        const int n = 101;
        var pts = new double[n * n, 2];
        for (int r = 0; r < n; r++)
            for (int c = 0; c < n; c++) { pts[r * n + c, 0] = -1 + 2.0 * c / (n - 1); pts[r * n + c, 1] = 1 - 2.0 * r / (n - 1); }
        var outs = ThoughtExperiments.Evaluate(line, pts);
        var map = new double[n, n];
        for (int r = 0; r < n; r++) for (int c = 0; c < n; c++) map[r, c] = outs[r * n + c];
        var lineChart = Charts.Heatmap(map, new ChartOptions("1. Line classifier: tanh(−0.5x + y)", "x", "y", Width: 520, Height: 440), "output", diverging: true,
            xRange: (-1, 1), yRange: (1, -1), overlay: new[] { new Series("y = 0.5x", new[] { -1.0, 1.0 }, new[] { -0.5, 0.5 }, "#000000", Dashed: true) });
        // 2. Comparator: output for every (A, B).
        using var comparator = ThoughtExperiments.Comparator(1);
        var bits = new double[256, 8];
        for (int a = 0; a < 16; a++)
            for (int b = 0; b < 16; b++)
                for (int bit = 0; bit < 4; bit++) { bits[a * 16 + b, bit] = (a >> (3 - bit)) & 1; bits[a * 16 + b, 4 + bit] = (b >> (3 - bit)) & 1; }
        var cmp = ThoughtExperiments.Evaluate(comparator, bits);
        var cmpMap = new double[16, 16];
        for (int a = 0; a < 16; a++) for (int b = 0; b < 16; b++) cmpMap[15 - a, b] = cmp[a * 16 + b];        // row 0 = A = 15, drawn at the top
        var cmpChart = Charts.Heatmap(cmpMap, new ChartOptions($"2. Comparator: out > 0 ⇔ A > B ({results[1].Correct}/256)", "B", "A", Width: 520, Height: 440), "output", diverging: true,
            xRange: (-0.5, 15.5), yRange: (15.5, -0.5));
        // 3. Range detector with its boundaries moved by one bias at a time.
        using var range = ThoughtExperiments.RangeDetector();
        var xs = Enumerable.Range(0, 401).Select(i => -1 + i * 0.005).ToList();
        var series = new List<Series> { new("original: (−0.3, 0.4)", xs, ThoughtExperiments.Evaluate(range, xs), "#1f77b4") };
        var b0 = range.GetBiases();
        foreach (var (d1, d2, label, colour) in new[]
                 {
                     (-4.0, 0.0, "h1 bias −4: only L moves (→ −0.1)", "#ff7f0e"),
                     (-6.0, -6.0, "both biases −6: the interval shifts (0, 0.7)", "#2ca02c"),
                     (-4.0, 4.0, "h1 −4, h2 +4: the interval shrinks (−0.1, 0.2)", "#9467bd"),
                 })
        {
            range.SetBiases(new[] { b0[0] + d1, b0[1] + d2, b0[2] });
            series.Add(new Series(label, xs, ThoughtExperiments.Evaluate(range, xs), colour, Dashed: true));
        }
        range.SetBiases(b0);
        var rangeChart = Charts.Line(series, new ChartOptions("3. Range detector: out > 0 ⇔ x ∈ (L, U)", "x", "output", Width: 620, Height: 420, Legend: false),
            new[] { new ReferenceLine(-0.3, true, "L", "#777777"), new ReferenceLine(0.4, true, "U", "#777777"), new ReferenceLine(0, false) });
        // 4. Two-interval detector.
        using var two = ThoughtExperiments.TwoIntervalDetector();
        var bounds = ThoughtExperiments.TwoIntervalBoundaries;
        var twoChart = Charts.Line(new[] { new Series("out(x)", xs, ThoughtExperiments.Evaluate(two, xs), "#1f77b4") },
            new ChartOptions("4. Two-interval detector: positive on (B1, B2) ∪ (B3, B4)", "x", "output", Width: 620, Height: 420),
            bounds.Select((v, i) => new ReferenceLine(v, true, $"B{i + 1} (stated) = {v:0.000}", "#777777")).Append(new ReferenceLine(0, false)).ToList());
        section.AddFigureRow(new[]
        {
            context.SavePng("te_line_classifier.png", lineChart, $"One neuron separates the plane along y = 0.5x: the ratio of its two synapses is the slope ({results[0].Correct}/{results[0].Checked} points correct)."),
            context.SavePng("te_comparator.png", cmpChart, "One neuron with weights 8:4:2:1 on A and −8:−4:−2:−1 on B compares two 4-bit numbers: red exactly above the diagonal. Synapses 0–3 and 4–7 are two disjoint ensembles in one neuron."),
        });
        section.AddFigureRow(new[]
        {
            context.SavePng("te_range_detector.png", rangeChart, "Three neurons detect an interval (blue: L = −0.3, U = 0.4, dotted). Orange: h1's bias −4 moves only L (to −0.1). Green: both biases −6 shift the interval to (0, 0.7). Purple: h1 −4 and h2 +4 shrink it to (−0.1, 0.2). The interval's width is a property of the pair of synapses, not of either neuron."),
            context.SavePng("te_two_interval.png", twoChart, "Four neurons: n1 excites, n2 (gentle) inhibits, n3 excites again, n2 saturates and inhibits again. B1 belongs to n1 and B3 to n3, but B2 and B4 both move with n2: moving one inner boundary alone needs several synapses at once. (The stated B1 and B3 neglect h2's small value; the exact sign changes are at −0.621 and 0.104.)"),
        });
    }

    // ======================================================================================================================
    // Helpers
    // ======================================================================================================================

    /// <summary>Signed effect of each synapse on the mean of the channels: <c>[S, P]</c>.</summary>
    private static Tensor LuminanceEffects(JacobianFactors f)
    {
        using var scope = NewDisposeScope();
        var t = f.Topology;
        var src = tensor(t.Sources.Select(v => (long)v).ToArray(), device: f.Activations.device);
        var tgt = tensor(t.Targets.Select(v => (long)(v - t.InputCount)).ToArray(), device: f.Activations.device);
        var deltaMean = f.Deltas.mean(new long[] { 0 });                                          // [P, N]
        return (deltaMean.t().contiguous().index_select(0, tgt) * f.Activations.t().contiguous().index_select(0, src)).to(ScalarType.Float32).cpu().MoveToOuterDisposeScope();
    }

    /// <summary>Σ over a set of synapses of Σ_c J², per pixel, as an <c>[H, W]</c> map.</summary>
    private static Tensor EnergyDensity(JacobianFactors f, IReadOnlyList<int> synapses, PixelGrid grid)
    {
        using var scope = NewDisposeScope();
        if (synapses.Count == 0) return zeros(grid.Height, grid.Width).MoveToOuterDisposeScope();
        var t = f.Topology;
        var src = tensor(synapses.Select(s => (long)t.Sources[s]).ToArray(), device: f.Activations.device);
        var tgt = tensor(synapses.Select(s => (long)(t.Targets[s] - t.InputCount)).ToArray(), device: f.Activations.device);
        var q = f.Deltas.pow(2).sum(dim: 0).t().contiguous();                                          // [N, P]
        var a2 = f.Activations.pow(2).t().contiguous();                                           // [T, P]
        var e = (q.index_select(0, tgt) * a2.index_select(0, src)).sum(dim: 0);
        return e.reshape(grid.Height, grid.Width).to(ScalarType.Float32).cpu().MoveToOuterDisposeScope();
    }

    private static void ContactSheet(string path, SynapseTopology topology, PixelGrid grid, Tensor effects)
    {
        int columns = Enumerable.Range(0, topology.NeuronCount).Max(topology.FanIn);
        var tiles = new List<SKBitmap>();
        var titles = new List<string?>();
        var labels = new List<string>();
        int tileSize = Math.Max(36, Math.Min(56, 900 / Math.Max(columns, 1)));
        try
        {
            using var blank = new SKBitmap(grid.Width, grid.Height);
            blank.Erase(SKColors.White);
            var options = new PngOptions(Normalization.Symmetric, Colormap.Diverging);
            for (int j = 0; j < topology.NeuronCount; j++)
            {
                var incoming = topology.IncomingSynapses(j);
                labels.Add(topology.NeuronName(j));
                for (int c = 0; c < columns; c++)
                {
                    if (c < incoming.Count)
                    {
                        var s = incoming[c];
                        using var map = effects[s].reshape(grid.Height, grid.Width);
                        tiles.Add(Png.ToBitmap(map, options));
                        titles.Add($"{s}:{topology.NodeName(topology.Sources[s])}");
                    }
                    else
                    {
                        tiles.Add(blank.Copy());
                        titles.Add(null);
                    }
                }
            }
            ImageGrid.Save(path, tiles, titles, new GridOptions(Columns: columns, TileSize: tileSize, Padding: 2, RowLabels: labels, FontSize: 9,
                Title: $"Effect of every synapse on the picture (∂ mean colour / ∂w; red +, blue −); row = target neuron, tile = 'synapse:source'"));
        }
        finally
        {
            foreach (var t in tiles) t.Dispose();
        }
    }

    /// <summary>A picture of the labels: each part in its own colour, the patch under the wing in magenta.</summary>
    private static Tensor LabelPicture(LabelledImage image)
    {
        var palette = new float[]
        {
            0.80f, 0.88f, 1.00f,  0.80f, 0.70f, 0.50f,  0.10f, 0.45f, 0.20f,  0.30f, 0.70f, 0.35f,  0.90f, 0.10f, 0.80f,
            0.20f, 0.30f, 0.70f,  0.55f, 0.85f, 0.55f,  1.00f, 0.60f, 0.10f,  0.05f, 0.05f, 0.05f,
        };
        using var scope = NewDisposeScope();
        var table = tensor(palette).reshape(-1, 3);
        var rgb = table.index_select(0, image.Labels.reshape(-1)).t().reshape(3, image.Labels.shape[0], image.Labels.shape[1]);
        return rgb.contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>The ring of pixels just outside a mask (so the region itself stays visible): <c>[H, W]</c> boolean.</summary>
    private static Tensor Outline(Tensor mask)
    {
        using var scope = NewDisposeScope();
        var m = mask.to(ScalarType.Float32).unsqueeze(0).unsqueeze(0);
        var dilated = nn.functional.max_pool2d(m, 3, 1, 1);
        return ((dilated - m) > 0.5f)[0, 0].cpu().MoveToOuterDisposeScope();
    }

    private static Tensor WithOutline(Tensor image, Tensor outline)
    {
        using var scope = NewDisposeScope();
        var img = image.cpu().to(ScalarType.Float32).clone();
        var magenta = tensor(new[] { 1f, 0f, 1f }).reshape(3, 1, 1).expand_as(img);
        return where(outline.unsqueeze(0).expand_as(img), magenta, img).MoveToOuterDisposeScope();
    }

    private static Tensor HeatTile(Tensor map, double? limit)
    {
        var norm = limit is double l ? Normalization.Fixed(0, l) : Normalization.MinMax;
        return Colormap.Viridis.Apply(norm.Apply(map.cpu()));
    }

    private static void SaveGrid(string path, IReadOnlyList<Tensor> images, IReadOnlyList<string?>? titles, GridOptions options, int errorIndex = -1)
    {
        var tiles = images.Select((t, i) => i == errorIndex ? Colormap.Viridis.Apply(Normalization.MinMax.Apply(t.cpu())) : t.cpu()).ToList();
        ImageGrid.Save(path, tiles, titles, options);
    }

    private static int CountForShare(RegionEnergies energies, double share, bool selective)
    {
        var total = energies.TotalInside;
        double acc = 0;
        int k = 0;
        foreach (var (e, s) in energies.Inside.Select((e, s) => (e, s)).Where(t => !selective || energies.Selectivity(t.s) >= 2).OrderByDescending(t => t.e))
        {
            if (acc >= share * total) break;
            acc += e;
            k++;
        }
        return k;
    }

    private static string NeuronList(SynapseTopology topology, IReadOnlyList<int> neurons) =>
        neurons.Count == 0 ? "—" : neurons.Count <= 8 ? string.Join(", ", neurons.Select(j => $"n{j}")) : string.Join(", ", neurons.Take(8).Select(j => $"n{j}")) + $" … ({neurons.Count})";

    private static double Finite(double v) => double.IsFinite(v) ? v : 1e12;

    private static string F(double v, string format) => double.IsPositiveInfinity(v) ? "∞" : v.ToString(format, CultureInfo.InvariantCulture);
}
