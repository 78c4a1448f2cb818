using System.Globalization;
using MathNet.Numerics.LinearAlgebra;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.LearningDynamics;

/// <summary>One planted category of a sweep.</summary>
/// <param name="BlockObjects">K_o.</param>
/// <param name="BlockFeatures">K_f.</param>
/// <param name="Sigma">Noise σ.</param>
/// <param name="Density">Block density ρ.</param>
/// <param name="Seed">Seed of the data and of the network's initialisation.</param>
public sealed record CategorySweepPoint(int BlockObjects, int BlockFeatures, double Sigma, double Density = 1, int Seed = 0)
{
    /// <summary>The effective area <c>ρ² K_o K_f</c> (the quantity the threshold bounds).</summary>
    public double EffectiveArea => Density * Density * BlockObjects * BlockFeatures;
}

/// <summary>What a two-layer linear network learned from one planted category.</summary>
/// <param name="Point">The category.</param>
/// <param name="LearnedStrengths">Singular values of the learned map <c>W2 W1</c>, descending (the learned mode strengths).</param>
/// <param name="ItemOverlap">Squared overlap of the strongest learned mode's item vector with the category's item indicator.</param>
/// <param name="FeatureOverlap">Squared overlap of the strongest learned mode's feature vector with the category's feature indicator.</param>
/// <param name="PlantedStrength">Strength of the learned mode most aligned with the category (largest item overlap).</param>
/// <param name="NoiseStrength">Largest strength among the other learned modes (the noise modes).</param>
/// <param name="DataTopSingularValue">Largest singular value of the data <c>Y</c> (what the network should reach).</param>
/// <param name="PredictedTopSingularValue">The BBP prediction <c>ŝ</c> (or the bulk edge below threshold).</param>
/// <param name="Time">Training time of this network in units of its own τ = 1/λ_b.</param>
public sealed record CategorySweepResult(CategorySweepPoint Point, double[] LearnedStrengths, double ItemOverlap, double FeatureOverlap,
    double PlantedStrength, double NoiseStrength, double DataTopSingularValue, double PredictedTopSingularValue, double Time);

/// <summary>The threshold a sweep measured.</summary>
/// <param name="Area">Measured threshold on the effective area <c>ρ² K_o K_f</c>: where the straight line fitted to the
/// learned item overlap against <c>1/area</c> reaches zero.</param>
/// <param name="Intercept">The fitted overlap at infinite area (α).</param>
/// <param name="Slope">The fitted slope against 1/area (−α·Area).</param>
/// <param name="PointsUsed">How many (area, mean overlap) points entered the fit.</param>
public sealed record MeasuredThreshold(double Area, double Intercept, double Slope, int PointsUsed);

/// <summary>
/// Trains one two-layer linear network per planted category — all of them at once, as one batched full-batch gradient
/// descent (<c>bmm</c> over the batch; each network has its own step <c>λ_b = c/s_max,b</c>, so each runs the same
/// number of its own τ) — from small random weights, and reads off what each learned: the SVD of <c>W2 W1</c>, and
/// whether its strongest mode is the category (category coherence: Saxe, McClelland &amp; Ganguli 2019, PNAS,
/// doi:10.1073/pnas.1820226116).
/// </summary>
public static class CategorySweep
{
    /// <summary>Runs the sweep.</summary>
    /// <param name="objects">N_o items.</param>
    /// <param name="features">N_f features.</param>
    /// <param name="points">The categories to plant.</param>
    /// <param name="hidden">Hidden width (the network learns at most this many modes) ≥ 2.</param>
    /// <param name="initialStrength">u0 of the random initialisation (see <see cref="WeightInitialization.Random"/>).</param>
    /// <param name="stepScale">c = λ_b · s_max,b in (0, 0.5]; only the end state matters here, so much larger than the
    /// 0.005 the theory comparison uses (gradient descent stays stable for c &lt; 1).</param>
    /// <param name="horizon">Training length in the dimensionless time <c>s_h · t</c> of the h-th singular value.</param>
    /// <param name="device">Device (CPU when null).</param>
    /// <param name="cancellation">Checked every 50 steps.</param>
    /// <returns>One result per point, in order.</returns>
    /// <remarks>Small batched matrix products: run it inside <c>session.UseThreads(1)</c> of the application's
    /// <see cref="TorchSession"/> (200 batched steps of 24 networks took 0.28 s on one thread and 8 s on two on a loaded
    /// 2-core machine).</remarks>
    public static IReadOnlyList<CategorySweepResult> Run(int objects, int features, IReadOnlyList<CategorySweepPoint> points, int hidden = 2,
        double initialStrength = 1e-3, double stepScale = 0.25, double horizon = 40, Device? device = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(points);
        if (points.Count == 0) throw new ArgumentException("At least one point is needed.", nameof(points));
        if (hidden < 2) throw new ArgumentOutOfRangeException(nameof(hidden), hidden, "hidden must be at least 2 (the category and a noise mode).");
        if (!(initialStrength > 0) || double.IsInfinity(initialStrength)) throw new ArgumentOutOfRangeException(nameof(initialStrength), initialStrength, "u0 must be a finite number > 0.");
        if (!(stepScale > 0 && stepScale <= 0.5)) throw new ArgumentOutOfRangeException(nameof(stepScale), stepScale, "stepScale must be in (0, 0.5].");
        if (!(horizon > 0) || double.IsInfinity(horizon)) throw new ArgumentOutOfRangeException(nameof(horizon), horizon, "horizon must be a finite number > 0.");
        device ??= CPU;
        var planted = points.Select(p => CategoryInNoise.Generate(objects, features, p.BlockObjects, p.BlockFeatures, p.Sigma, p.Density, p.Seed)).ToList();
        int b = points.Count;
        using var scope = NewDisposeScope();
        // Σ31 = Y (one-hot items, Σ11 = I): [B, N_f, N_o].
        var y = stack(planted.Select(c => tensor(c.Dataset.Targets.ToArray(), dtype: ScalarType.Float64)).ToArray()).to(device);
        var sData = linalg.svdvals(y).cpu().data<double>().ToArray();
        int ranks = (int)Math.Min(objects, features);
        var sMax = Enumerable.Range(0, b).Select(i => sData[i * ranks]).ToArray();
        var sHidden = Enumerable.Range(0, b).Select(i => sData[i * ranks + Math.Min(hidden, ranks) - 1]).ToArray();
        if (sMax.Any(s => !(s > 0))) throw new ArgumentException("A sweep point has no variance (σ = 0 and an empty block).", nameof(points));
        // Train each network until s_h · t = horizon for the weakest mode it can hold (s_h: its data's h-th singular value):
        // learning a mode takes s·t ≈ ln(s/u0)/2 ≈ 5; resolving the category from nearly equal noise modes takes longer.
        // With λ_b = c/s_max,b that is t_b·s_max,b/c steps; networks with similar step counts run together in one batch.
        var time = Enumerable.Range(0, b).Select(i => horizon / sHidden[i]).ToArray();
        var need = Enumerable.Range(0, b).Select(i => (long)Math.Ceiling(time[i] * sMax[i] / stepScale)).ToArray();
        var firstWeights = new Matrix<double>[b];
        var secondWeights = new Matrix<double>[b];
        var trained = new double[b];
        var byNeed = Enumerable.Range(0, b).OrderBy(i => need[i]).ToList();
        for (int start = 0; start < b;)
        {
            int end = start;
            while (end + 1 < b && need[byNeed[end + 1]] <= 1.3 * need[byNeed[start]]) end++;
            var chunk = byNeed.GetRange(start, end - start + 1);
            long steps = need[chunk[^1]];
            using (var chunkScope = NewDisposeScope())
            {
                var (w1, w2) = Train(y.index_select(0, tensor(chunk.Select(i => (long)i).ToArray(), device: device)), chunk.Select(i => points[i].Seed).ToList(),
                    chunk.Select(i => stepScale / sMax[i]).ToArray(), steps, hidden, initialStrength, stepScale, device, cancellation);
                for (int j = 0; j < chunk.Count; j++)
                {
                    firstWeights[chunk[j]] = DeepNetworkSimulation.ToMatrix(w1[j]);
                    secondWeights[chunk[j]] = DeepNetworkSimulation.ToMatrix(w2[j]);
                    trained[chunk[j]] = steps * stepScale / sMax[chunk[j]];
                }
            }
            start = end + 1;
        }
        var results = new CategorySweepResult[b];
        for (int i = 0; i < b; i++)
        {
            // SVD of the learned map W2 W1 (rank ≤ h) through thin QRs of the factors: W2 = Q2 R2, W1ᵀ = Q1 R1,
            // W2 W1 = Q2 (R2 R1ᵀ) Q1ᵀ, so only the h × h core needs an SVD.
            var first = firstWeights[i];
            var second = secondWeights[i];
            var qr2 = second.QR(MathNet.Numerics.LinearAlgebra.Factorization.QRMethod.Thin);
            var qr1 = first.Transpose().QR(MathNet.Numerics.LinearAlgebra.Factorization.QRMethod.Thin);
            var core = (qr2.R * qr1.R.Transpose()).Svd(computeVectors: true);
            var featureVectors = qr2.Q * core.U;                           // [N_f, h]
            var itemVectors = qr1.Q * core.VT.Transpose();                 // [N_o, h]
            var strengths = core.S.ToArray();
            var items = planted[i].BlockItems;
            var feats = planted[i].BlockFeatures;
            double ItemOverlap(int j) => items.Length == 0 ? 0 : Math.Pow(items.Sum(o => itemVectors[o, j]), 2) / items.Length;
            double FeatureOverlap(int j) => feats.Length == 0 ? 0 : Math.Pow(feats.Sum(f => featureVectors[f, j]), 2) / feats.Length;
            var overlaps = Enumerable.Range(0, strengths.Length).Select(ItemOverlap).ToArray();
            int planted1 = Array.IndexOf(overlaps, overlaps.Max());
            var noise = Enumerable.Range(0, strengths.Length).Where(j => j != planted1).Select(j => strengths[j]).DefaultIfEmpty(0).Max();
            var p = points[i];
            var theta = CategoryInNoise.BlockSingularValue(p.BlockObjects, p.BlockFeatures, p.Density);
            results[i] = new CategorySweepResult(p, strengths, overlaps[0], FeatureOverlap(0), strengths[planted1], noise, sMax[i],
                CategoryInNoise.PredictedTopSingularValue(objects, features, theta, p.Sigma), trained[i]);
        }
        return results;
    }

    /// <summary>Batched full-batch descent of two-layer linear networks on one-hot data: Σ31 = y [B, N_f, N_o], Σ11 = I.</summary>
    private static (Tensor W1, Tensor W2) Train(Tensor y, IReadOnlyList<int> seeds, double[] learningRates, long steps, int hidden,
        double initialStrength, double stepScale, Device device, CancellationToken cancellation)
    {
        int b = seeds.Count;
        long features = y.shape[1], objects = y.shape[2];
        var lr = tensor(learningRates, dtype: ScalarType.Float64).to(device).reshape(b, 1, 1);
        var std = Math.Sqrt(2.0 / hidden * initialStrength);
        var w1 = new Tensor[b];
        var w2 = new Tensor[b];
        for (int i = 0; i < b; i++)
        {
            using var g = new Generator((ulong)(seeds[i] * 7919L + 17));
            w1[i] = randn(new long[] { hidden, objects }, dtype: ScalarType.Float64, generator: g) * std;
            w2[i] = randn(new long[] { features, hidden }, dtype: ScalarType.Float64, generator: g) * std;
        }
        var W1 = stack(w1).to(device);       // [B, h, N_o]
        var W2 = stack(w2).to(device);       // [B, N_f, h]
        using (no_grad())
        {
            for (long step = 0; step < steps; step++)
            {
                using var stepScope = NewDisposeScope();
                // The batch rule in correlation form (Saxe et al. 2014 eq. 1 with Σ11 = I), which reads the data twice per
                // step instead of forming the [N_f, N_o] error: ∂L/∂W2 = W2 (W1 W1ᵀ) − Σ31 W1ᵀ, ∂L/∂W1 = (W2ᵀ W2) W1 − W2ᵀ Σ31.
                var g2 = W2.bmm(W1.bmm(W1.transpose(1, 2))) - y.bmm(W1.transpose(1, 2));
                var g1 = W2.transpose(1, 2).bmm(W2).bmm(W1) - W2.transpose(1, 2).bmm(y);
                W1.sub_(g1 * lr);
                W2.sub_(g2 * lr);
                if (step % 50 == 0)
                {
                    cancellation.ThrowIfCancellationRequested();
                    if (!W1.isfinite().all().item<bool>() || !W2.isfinite().all().item<bool>())
                        throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"The category sweep diverged at step {step} (stepScale {stepScale}); use a smaller stepScale."));
                }
            }
        }
        return (W1, W2);
    }

    /// <summary>
    /// Measures the threshold area from a sweep. The order parameter is the learned category mode's squared item overlap
    /// q (averaged over the seeds of each area). Above the transition q rises linearly in <c>1/area</c> from zero (exactly
    /// <c>1 − A*/area</c> for square data), while the learned strength leaves the noise edge only quadratically, so q
    /// locates the transition far better at finite size. The measured threshold is where a least-squares line
    /// <c>q = α + β/area</c>, fitted to the areas whose mean q is at least <paramref name="minOverlap"/> (clearly learned;
    /// below it finite-size tails dominate), reaches q = 0.
    /// </summary>
    /// <param name="results">A sweep over areas (at one σ, N_o, N_f).</param>
    /// <param name="minOverlap">Smallest mean overlap of the points fitted.</param>
    /// <param name="maxOverlap">Largest mean overlap of the points fitted (far above threshold the line bends).</param>
    /// <exception cref="InvalidOperationException">Fewer than two areas qualify: the sweep does not reach above the threshold.</exception>
    public static MeasuredThreshold MeasureThreshold(IReadOnlyList<CategorySweepResult> results, double minOverlap = 0.2, double maxOverlap = 0.8)
    {
        ArgumentNullException.ThrowIfNull(results);
        var byArea = results.GroupBy(r => r.Point.EffectiveArea).Select(g => (Area: g.Key, Q: g.Average(r => r.ItemOverlap)))
            .Where(p => p.Q >= minOverlap && p.Q <= maxOverlap).OrderBy(p => p.Area).ToList();
        if (byArea.Count < 2)
            throw new InvalidOperationException($"Only {byArea.Count} area(s) of the sweep have a mean learned overlap in [{minOverlap}, {maxOverlap}]; extend the sweep above the threshold.");
        var x = byArea.Select(p => 1 / p.Area).ToArray();
        var q = byArea.Select(p => p.Q).ToArray();
        var (alpha, beta) = MathNet.Numerics.Fit.Line(x, q);
        if (!(alpha > 0 && beta < 0))
            throw new InvalidOperationException($"The overlap does not rise with the area over the fitted points (fit q = {alpha:G3} + {beta:G3}/area); no threshold can be read off.");
        return new MeasuredThreshold(-beta / alpha, alpha, beta, byArea.Count);
    }
}
