using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Interpretability.FeatureVisualization;

/// <summary>What an objective reads: the named layers' activations for the current images, and the images themselves.</summary>
/// <param name="Activation">The output of a layer (by <c>named_modules()</c> path), e.g. <c>[B, C, H, W]</c>, connected to the image by autograd.</param>
/// <param name="Input">The images the model saw (after the transforms), <c>[B, 3, H, W]</c>.</param>
public sealed record ObjectiveInputs(Func<string, Tensor> Activation, Tensor Input);

/// <summary>
/// A scalar to maximise, built from named layers (Lucid's <c>objectives</c>). Objectives compose: <c>a + b</c>,
/// <c>a − b</c>, <c>2 · a</c>, <c>−a</c> evaluate as the sums, differences and multiples of their values, so
/// <c>Channel("relu3", 5) − 0.5 · TotalVariation()</c> is a regularised objective and <c>Channel(..) + 1e2 · Diversity(..)</c>
/// a diverse one. Regularisers (<see cref="L1"/>, <see cref="TotalVariation"/>, <see cref="Blur"/>) are penalties
/// (non-negative values): subtract them.
/// </summary>
public sealed class Objective
{
    private static readonly Scalar TinyNorm = 1e-10.ToScalar();   // a floor for the Gram norms, alive for the process
    private static readonly Scalar Ninth = (1f / 9f).ToScalar();  // the weight of a 3×3 box blur (a float), alive for the process

    /// <summary>The input images (after transforms), for objectives on pixels.</summary>
    public const string InputLayer = "input";

    private readonly Func<ObjectiveInputs, Tensor> evaluate;

    /// <summary>An objective from a function.</summary>
    /// <param name="evaluate">Returns a scalar tensor (differentiable) from the inputs.</param>
    /// <param name="layers">Layer paths it reads (<see cref="InputLayer"/> for pixels is not a layer and need not be listed).</param>
    /// <param name="description">For people, e.g. <c>channel(relu3, 5)</c>.</param>
    public Objective(Func<ObjectiveInputs, Tensor> evaluate, IEnumerable<string> layers, string description)
    {
        this.evaluate = evaluate ?? throw new ArgumentNullException(nameof(evaluate));
        Layers = (layers ?? throw new ArgumentNullException(nameof(layers))).Where(l => l != InputLayer).Distinct().ToArray();
        Description = description ?? "";
    }

    /// <summary>The layer paths this objective reads.</summary>
    public IReadOnlyList<string> Layers { get; }

    /// <summary>Human-readable formula.</summary>
    public string Description { get; }

    /// <summary>The value (a differentiable scalar tensor).</summary>
    public Tensor Evaluate(ObjectiveInputs inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        return evaluate(inputs);
    }

    /// <inheritdoc />
    public override string ToString() => Description;

    /// <summary>The sum of two objectives.</summary>
    public static Objective operator +(Objective a, Objective b) =>
        new(i => a.Evaluate(i) + b.Evaluate(i), a.Layers.Concat(b.Layers), $"{a} + {b}");

    /// <summary>The difference of two objectives.</summary>
    public static Objective operator -(Objective a, Objective b) =>
        new(i => a.Evaluate(i) - b.Evaluate(i), a.Layers.Concat(b.Layers), $"{a} − ({b})");

    /// <summary>A multiple of an objective.</summary>
    public static Objective operator *(double weight, Objective a)
    {
        // One scalar per objective, kept alive by the closure: a C# number would make a temporary scalar at every step,
        // which a collection during the multiplication can free under it (see Scalars).
        var w = weight.ToScalar();
        return new(i => a.Evaluate(i) * w, a.Layers, $"{weight:G4}·{a}");
    }

    /// <summary>A multiple of an objective.</summary>
    public static Objective operator *(Objective a, double weight) => weight * a;

    /// <summary>The negative (minimising) objective.</summary>
    public static Objective operator -(Objective a) => new(i => -a.Evaluate(i), a.Layers, $"−{a}");

    /// <summary>The minimising version of <paramref name="objective"/> (the same as <c>−objective</c>).</summary>
    public static Objective Minimize(Objective objective) => -objective;

    /// <summary>
    /// One unit: channel <paramref name="channel"/> of <paramref name="layer"/> at one spatial position (default the
    /// centre, <c>(H/2, W/2)</c>, as Lucid), averaged over the batch or taken at image <paramref name="batch"/>.
    /// </summary>
    /// <param name="layer">Layer path; its output is <c>[B, C, H, W]</c> (or <c>[B, C]</c>).</param>
    /// <param name="channel">Channel index.</param>
    /// <param name="x">Column; null = centre.</param>
    /// <param name="y">Row; null = centre.</param>
    /// <param name="batch">Image of the batch; null = all (mean).</param>
    public static Objective Neuron(string layer, int channel, int? x = null, int? y = null, int? batch = null) =>
        new(i =>
        {
            var a = Select(Activation(i, layer, channel), batch);
            if (a.dim() == 2) return a.mean();
            long h = a.shape[2], w = a.shape[3];
            long yy = y ?? h / 2, xx = x ?? w / 2;
            if (yy < 0 || yy >= h || xx < 0 || xx >= w)
                throw new ArgumentOutOfRangeException(nameof(x), $"Position ({xx}, {yy}) is outside {layer}'s {w}×{h} map.");
            return a.select(1, channel).select(1, yy).select(1, xx).mean();
        }, new[] { layer }, $"neuron({layer}, {channel}{(x is null && y is null ? "" : $", x={x}, y={y}")}{BatchText(batch)})");

    /// <summary>A channel: channel <paramref name="channel"/> of <paramref name="layer"/> averaged over all positions
    /// (and over the batch, or at image <paramref name="batch"/>).</summary>
    /// <param name="layer">Layer path; its output is <c>[B, C, H, W]</c> (or <c>[B, C]</c>).</param>
    /// <param name="channel">Channel index.</param>
    /// <param name="batch">Image of the batch; null = all (mean).</param>
    public static Objective Channel(string layer, int channel, int? batch = null) =>
        new(i => Select(Activation(i, layer, channel), batch).select(1, channel).mean(), new[] { layer }, $"channel({layer}, {channel}{BatchText(batch)})");

    /// <summary>
    /// One channel per image: image <c>i</c> of the batch maximises channel <c>channels[i]</c> of <paramref name="layer"/>
    /// averaged over positions; the value is the sum over images, <c>Σ_i mean_(y,x) a[i, channels[i], y, x]</c> (Lucid's
    /// <c>channel(layer, c, batch=i)</c> summed over a batch, as one operation). The same value as
    /// <c>Channel(layer, channels[0], batch: 0) + Channel(layer, channels[1], batch: 1) + …</c>, but its backward pass writes
    /// one gradient of the activation instead of one per image, so a batch of B channels costs O(B), not O(B²).
    /// </summary>
    /// <param name="layer">Layer path; its output is <c>[B, C, H, W]</c> (or <c>[B, C]</c>).</param>
    /// <param name="channels">One channel index per image; its length is the batch size B.</param>
    public static Objective ChannelPerImage(string layer, IReadOnlyList<int> channels)
    {
        ArgumentNullException.ThrowIfNull(channels);
        if (channels.Count == 0) throw new ArgumentException("channels must name one channel per image; got none.", nameof(channels));
        var picked = channels.Select(c => (long)c).ToArray();
        return new(i =>
        {
            var a = i.Activation(layer);
            if (a.dim() < 2) throw new ArgumentException($"{layer} gives [{string.Join(", ", a.shape)}]; a [B, C, ...] output is needed.", nameof(layer));
            if (a.shape[0] != picked.Length)
                throw new ArgumentException($"channels names {picked.Length} images but the batch has {a.shape[0]}.", nameof(channels));
            foreach (var c in picked)
                if (c < 0 || c >= a.shape[1])
                    throw new ArgumentOutOfRangeException(nameof(channels), c, $"{layer} has {a.shape[1]} channels (0 … {a.shape[1] - 1}).");
            using var scope = NewDisposeScope();
            var index = tensor(picked, device: a.device).reshape(a.dim() == 2 ? new long[] { -1, 1 } : new long[] { -1, 1, 1, 1 });
            var shape = a.shape.ToArray();
            shape[1] = 1;
            var chosen = a.gather(1, index.expand(shape));                   // [B, 1, H, W]
            return chosen.reshape(a.shape[0], -1).mean(new long[] { 1 }).sum().MoveToOuterDisposeScope();
        }, new[] { layer }, $"channel_per_image({layer}, [{string.Join(", ", channels.Take(8))}{(channels.Count > 8 ? ", …" : "")}])");
    }

    /// <summary>A direction in activation space: <c>⟨a(x, y), v⟩</c> summed over channels, averaged over positions (and batch).</summary>
    /// <param name="layer">Layer path; output <c>[B, C, H, W]</c> or <c>[B, C]</c>.</param>
    /// <param name="vector"><c>[C]</c> float32 (the objective keeps its own copy).</param>
    /// <param name="batch">Image of the batch; null = all (mean).</param>
    public static Objective Direction(string layer, float[] vector, int? batch = null)
    {
        ArgumentNullException.ThrowIfNull(vector);
        if (vector.Length == 0) throw new ArgumentException("vector must have at least one entry.", nameof(vector));
        var v = (float[])vector.Clone();
        return new(i =>
        {
            var a = Select(i.Activation(layer), batch);
            if (a.shape[1] != v.Length)
                throw new ArgumentException($"vector has {v.Length} entries but {layer} has {a.shape[1]} channels.", nameof(vector));
            using var scope = NewDisposeScope();
            var shape = a.dim() == 4 ? new long[] { 1, v.Length, 1, 1 } : new long[] { 1, v.Length };
            var vt = tensor(v, dtype: a.dtype, device: a.device).reshape(shape);
            return (a * vt).sum(dim: 1).mean().MoveToOuterDisposeScope();
        }, new[] { layer }, $"direction({layer}, [{v.Length}])");
    }

    /// <summary>
    /// Lucid's diversity: <c>−(1/B) Σ_{i≠j} ⟨Ĝ_i, Ĝ_j⟩</c> with <c>Ĝ_i</c> the Frobenius-normalised channel Gram matrix
    /// of image i at <paramref name="layer"/>. Maximising it pushes the images of a batch apart in style; add it to an
    /// objective on the same batch with a weight matched to the activations' scale (Lucid used 1e2–1e3 on InceptionV1;
    /// the featviz study uses 0.5 × the channel's mean test-set activation). Zero for a batch of one.
    /// </summary>
    /// <param name="layer">Layer path, output <c>[B, C, H, W]</c>.</param>
    public static Objective Diversity(string layer) =>
        new(i =>
        {
            var a = i.Activation(layer);
            if (a.dim() != 4) throw new ArgumentException($"Diversity needs a [B, C, H, W] layer; {layer} gives [{string.Join(", ", a.shape)}].", nameof(layer));
            long b = a.shape[0], c = a.shape[1];
            using var scope = NewDisposeScope();
            var flat = a.reshape(b, c, -1);
            var grams = matmul(flat, flat.transpose(1, 2)).reshape(b, -1);
            grams = grams / grams.norm(1, keepdim: true).clamp_min(TinyNorm);
            var sim = matmul(grams, grams.t());
            return (-(sim.sum() - sim.diagonal().sum()) / b).MoveToOuterDisposeScope();
        }, new[] { layer }, $"diversity({layer})");

    // The penalties are means over their elements, not sums (Lucid's L1, L2 and total variation are sums, as
    // tf.image.total_variation): a channel objective is a mean activation, so a summed penalty on a 64×64 RGB image is
    // about 10⁴ times larger than the same weight suggests, and a weight that suits one image size fails at another.
    // As means, "objective − 0.05 · penalty" means the same on every image size and batch.

    /// <summary>L1 penalty <c>mean |x − constant|</c> over every element of the input images (<paramref name="layer"/> =
    /// <see cref="InputLayer"/>) or of a layer's activation (Lucid's <c>L1</c>, divided by the element count).</summary>
    /// <param name="constant">The value the penalty pulls towards.</param>
    /// <param name="layer">A layer path, or <see cref="InputLayer"/>.</param>
    public static Objective L1(double constant = 0, string layer = InputLayer) =>
        new(i => (Read(i, layer) - constant).abs().mean(), new[] { layer }, $"L1({layer})");

    /// <summary>L2 penalty <c>mean (x − constant)²</c> over every element of the input images or a layer's activation
    /// (Lucid's <c>L2</c>, squared and divided by the element count).</summary>
    /// <param name="constant">The value the penalty pulls towards.</param>
    /// <param name="layer">A layer path, or <see cref="InputLayer"/>.</param>
    public static Objective L2(double constant = 0, string layer = InputLayer) =>
        new(i => (Read(i, layer) - constant).pow(Scalars.IntTwo).mean(), new[] { layer }, $"L2({layer})");

    /// <summary>
    /// Total-variation penalty per element: <c>(Σ |x[y+1, x] − x[y, x]| + Σ |x[y, x+1] − x[y, x]|) / (B·C·H·W)</c>
    /// (<c>tf.image.total_variation</c> divided by the element count): 0 for a flat image, about 0.67 for uniform noise.
    /// </summary>
    /// <param name="layer">A layer path with <c>[B, C, H, W]</c> output, or <see cref="InputLayer"/>.</param>
    public static Objective TotalVariation(string layer = InputLayer) =>
        new(i =>
        {
            var x = Read(i, layer);
            long h = x.shape[2], w = x.shape[3];
            using var scope = NewDisposeScope();
            var dy = (x.narrow(2, 1, h - 1) - x.narrow(2, 0, h - 1)).abs().sum();
            var dx = (x.narrow(3, 1, w - 1) - x.narrow(3, 0, w - 1)).abs().sum();
            return ((dy + dx) / x.numel()).MoveToOuterDisposeScope();
        }, new[] { layer }, $"TV({layer})");

    /// <summary>
    /// Blur penalty <c>½ mean (x − stop_gradient(blur₃ₓ₃(x)))²</c> over every element: its gradient moves every pixel
    /// towards its local average (Lucid's <c>blur_input_each_step</c>).
    /// </summary>
    /// <param name="layer">A layer path with <c>[B, C, H, W]</c> output, or <see cref="InputLayer"/>.</param>
    public static Objective Blur(string layer = InputLayer) =>
        new(i =>
        {
            var x = Read(i, layer);
            using var scope = NewDisposeScope();
            Tensor blurred;
            using (no_grad())
            {
                long c = x.shape[1];
                var kernel = full(new long[] { c, 1, 3, 3 }, Ninth, dtype: x.dtype, device: x.device);
                blurred = F.conv2d(F.pad(x, new long[] { 1, 1, 1, 1 }, PaddingModes.Replicate), kernel, groups: c);
            }
            return (0.5f * (x - blurred).pow(Scalars.IntTwo).mean()).MoveToOuterDisposeScope();
        }, new[] { layer }, $"blur({layer})");

    private static Tensor Read(ObjectiveInputs i, string layer) => layer == InputLayer ? i.Input : i.Activation(layer);

    private static Tensor Activation(ObjectiveInputs i, string layer, int channel)
    {
        var a = i.Activation(layer);
        if (a.dim() < 2) throw new ArgumentException($"{layer} gives [{string.Join(", ", a.shape)}]; a [B, C, ...] output is needed.", nameof(layer));
        if (channel < 0 || channel >= a.shape[1])
            throw new ArgumentOutOfRangeException(nameof(channel), channel, $"{layer} has {a.shape[1]} channels (0 … {a.shape[1] - 1}).");
        return a;
    }

    private static Tensor Select(Tensor a, int? batch)
    {
        if (batch is null) return a;
        if (batch < 0 || batch >= a.shape[0]) throw new ArgumentOutOfRangeException(nameof(batch), batch, $"The batch has {a.shape[0]} images.");
        return a.narrow(0, batch.Value, 1);
    }

    private static string BatchText(int? batch) => batch is null ? "" : $", batch={batch}";
}
