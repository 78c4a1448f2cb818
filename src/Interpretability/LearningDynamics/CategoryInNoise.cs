using MathNet.Numerics.LinearAlgebra;
using static TorchSharp.torch;

namespace Interpretability.LearningDynamics;

/// <summary>A category hidden in noise: the dataset and where the category sits.</summary>
/// <param name="Dataset">One-hot items, targets <c>Y = B + Z</c> of shape <c>[N_f, N_o]</c>.</param>
/// <param name="BlockItems">Indices of the K_o items of the category (scattered at random: the block shows only once
/// the rows and columns are sorted).</param>
/// <param name="BlockFeatures">Indices of the K_f features the category shares.</param>
/// <param name="Sigma">Standard deviation σ of the noise.</param>
/// <param name="Density">Density ρ of the block (Bernoulli(ρ) ones).</param>
public sealed record PlantedCategory(DynamicsDataset Dataset, int[] BlockItems, int[] BlockFeatures, double Sigma, double Density)
{
    /// <summary>The category's item indicator, normalised: <c>[N_o]</c>, <c>1/√K_o</c> on the block items.</summary>
    public Vector<double> ItemIndicator()
    {
        var v = Vector<double>.Build.Dense(Dataset.Items);
        foreach (var i in BlockItems) v[i] = 1 / Math.Sqrt(BlockItems.Length);
        return v;
    }

    /// <summary>The category's feature indicator, normalised: <c>[N_f]</c>.</summary>
    public Vector<double> FeatureIndicator()
    {
        var v = Vector<double>.Build.Dense(Dataset.OutputSize);
        foreach (var f in BlockFeatures) v[f] = 1 / Math.Sqrt(BlockFeatures.Length);
        return v;
    }
}

/// <summary>
/// A category hidden in noise (Saxe, McClelland &amp; Ganguli 2019, "A mathematical theory of semantic development in
/// deep neural networks", PNAS, doi:10.1073/pnas.1820226116, category coherence: the critical size of a learnable
/// category grows as √(N·M)). Data <c>Y = B + Z</c>, <c>[N_f, N_o]</c>: B has Bernoulli(ρ) ones on a <c>K_f × K_o</c>
/// block, Z is iid <c>N(0, σ²)</c>. The block's singular value is <c>θ = ρ√(K_o K_f)</c>; by the rectangular BBP
/// transition (Benaych-Georges &amp; Nadakuditi 2012, "The singular values and vectors of low rank perturbations of
/// large rectangular random matrices", J. Multivariate Anal., arXiv:1103.2221) an outlier mode — a category the deep
/// linear network learns as its own mode — exists iff <c>θ &gt; σ (N_o N_f)^{1/4}</c>, i.e.
/// <c>ρ² K_o K_f &gt; σ² √(N_o N_f)</c> (our statement for this data, from that theorem).
/// </summary>
public static class CategoryInNoise
{
    /// <summary>Samples a planted category.</summary>
    /// <param name="objects">N_o items (one-hot inputs).</param>
    /// <param name="features">N_f features.</param>
    /// <param name="blockObjects">K_o items in the category, in [0, N_o].</param>
    /// <param name="blockFeatures">K_f features of the category, in [0, N_f].</param>
    /// <param name="sigma">Noise standard deviation σ ≥ 0.</param>
    /// <param name="density">Block density ρ in (0, 1].</param>
    /// <param name="seed">Seed of the noise, the block and its position.</param>
    public static PlantedCategory Generate(int objects, int features, int blockObjects, int blockFeatures, double sigma = 1, double density = 1, int seed = 0)
    {
        if (objects < 2) throw new ArgumentOutOfRangeException(nameof(objects), objects, "N_o must be at least 2.");
        if (features < 1) throw new ArgumentOutOfRangeException(nameof(features), features, "N_f must be at least 1.");
        if (blockObjects < 0 || blockObjects > objects) throw new ArgumentOutOfRangeException(nameof(blockObjects), blockObjects, $"K_o must be in [0, N_o = {objects}].");
        if (blockFeatures < 0 || blockFeatures > features) throw new ArgumentOutOfRangeException(nameof(blockFeatures), blockFeatures, $"K_f must be in [0, N_f = {features}].");
        if (!(sigma >= 0) || double.IsInfinity(sigma)) throw new ArgumentOutOfRangeException(nameof(sigma), sigma, "σ must be a finite number ≥ 0.");
        if (!(density > 0 && density <= 1)) throw new ArgumentOutOfRangeException(nameof(density), density, "the density ρ must be in (0, 1].");
        using var scope = NewDisposeScope();
        using var g = new Generator((ulong)seed);
        var items = randperm(objects, generator: g).data<long>().Take(blockObjects).Select(i => (int)i).OrderBy(i => i).ToArray();
        var feats = randperm(features, generator: g).data<long>().Take(blockFeatures).Select(i => (int)i).OrderBy(i => i).ToArray();
        var noise = randn(new long[] { features, objects }, dtype: ScalarType.Float64, generator: g).data<double>().ToArray();
        var coin = rand(new long[] { features, objects }, dtype: ScalarType.Float64, generator: g).data<double>().ToArray();
        var y = Matrix<double>.Build.Dense(features, objects, (f, o) => sigma * noise[f * objects + o]);
        foreach (var f in feats)
            foreach (var o in items)
                if (coin[f * objects + o] < density) y[f, o] += 1;
        var dataset = new DynamicsDataset("noise", Matrix<double>.Build.DenseIdentity(objects), y,
            Enumerable.Range(0, objects).Select(i => $"o{i}").ToArray(), Enumerable.Range(0, features).Select(f => $"f{f}").ToArray(),
            hierarchy: blockObjects > 0 && blockObjects < objects
                ? new ItemHierarchy(new[] { "all items", "category" }, new[] { new int[objects], Enumerable.Range(0, objects).Select(o => items.Contains(o) ? 1 : 0).ToArray() })
                : null,
            description: $"a {blockFeatures}×{blockObjects} category (density {density}) hidden in {features}×{objects} Gaussian noise, σ = {sigma}");
        return new PlantedCategory(dataset, items, feats, sigma, density);
    }

    /// <summary>The block's singular value <c>θ = ρ √(K_o K_f)</c>.</summary>
    public static double BlockSingularValue(int blockObjects, int blockFeatures, double density = 1) => density * Math.Sqrt((double)blockObjects * blockFeatures);

    /// <summary>The predicted threshold on the category's area: learned as its own mode iff
    /// <c>K_o K_f &gt; σ² √(N_o N_f) / ρ²</c>.</summary>
    public static double ThresholdArea(int objects, int features, double sigma, double density = 1) =>
        sigma * sigma * Math.Sqrt((double)objects * features) / (density * density);

    /// <summary>The edge of the noise bulk of singular values: <c>σ (√N_o + √N_f)</c>.</summary>
    public static double BulkEdge(int objects, int features, double sigma) => sigma * (Math.Sqrt(objects) + Math.Sqrt(features));

    /// <summary>
    /// The predicted top singular value of <c>Y</c>: above threshold
    /// <c>ŝ = √((θ² + σ² N_o)(θ² + σ² N_f)) / θ</c>, below it the bulk edge.
    /// </summary>
    public static double PredictedTopSingularValue(int objects, int features, double theta, double sigma)
    {
        if (sigma == 0) return theta;
        var critical = sigma * Math.Pow((double)objects * features, 0.25);
        if (theta <= critical) return BulkEdge(objects, features, sigma);
        var t2 = theta * theta;
        return Math.Sqrt((t2 + sigma * sigma * objects) * (t2 + sigma * sigma * features)) / theta;
    }

    /// <summary>
    /// The predicted squared overlap of the top singular vector's item part with the category's item indicator
    /// (Benaych-Georges &amp; Nadakuditi 2012, rectangular case): with <c>m = max(N_o, N_f)</c>, <c>n = min</c>,
    /// <c>c = n/m</c> and <c>t = θ²/(σ² m)</c>, the overlap on the n-side is <c>1 − c(1 + t)/(t(t + c))</c>, on the m-side
    /// <c>1 − (c + t)/(t(t + 1))</c>, and 0 below threshold (<c>t ≤ √c</c>). Square data: <c>1 − A*/(ρ²K_oK_f)</c>.
    /// </summary>
    public static double PredictedItemOverlap(int objects, int features, double theta, double sigma)
    {
        if (sigma == 0) return theta > 0 ? 1 : 0;
        double m = Math.Max(objects, features), n = Math.Min(objects, features), c = n / m;
        var t = theta * theta / (sigma * sigma * m);
        if (t <= Math.Sqrt(c)) return 0;
        bool itemsOnSmallSide = objects <= features;
        return itemsOnSmallSide ? 1 - c * (1 + t) / (t * (t + c)) : 1 - (c + t) / (t * (t + 1));
    }
}
