using Interpretability.Imaging;
using Interpretability.Probing;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.NeuronStudies;

/// <summary>Circular statistics of a tuning curve over orientation (period 2π).</summary>
public static class CircularStats
{
    /// <summary>
    /// Preferred orientation as the circular mean of the responses (vector sum <c>Σ r_k e^{iθ_k}</c> with negative
    /// responses clipped to 0) and the selectivity index <c>1 − circular variance = |Σ r_k e^{iθ_k}| / Σ r_k</c> in [0, 1]
    /// (1 = responds at one orientation only, 0 = flat or no positive response).
    /// </summary>
    /// <param name="orientations">Orientations θ_k in radians.</param>
    /// <param name="responses">Responses r_k, same length.</param>
    /// <returns>Preferred orientation in [0, 2π) and selectivity.</returns>
    public static (double Preferred, double Selectivity) Mean(IReadOnlyList<double> orientations, IReadOnlyList<double> responses)
    {
        ArgumentNullException.ThrowIfNull(orientations);
        ArgumentNullException.ThrowIfNull(responses);
        if (orientations.Count != responses.Count || orientations.Count == 0)
            throw new ArgumentException($"orientations ({orientations.Count}) and responses ({responses.Count}) must be non-empty and equally long.", nameof(responses));
        double sx = 0, sy = 0, total = 0;
        for (int k = 0; k < orientations.Count; k++)
        {
            var r = Math.Max(0, responses[k]);
            sx += r * Math.Cos(orientations[k]);
            sy += r * Math.Sin(orientations[k]);
            total += r;
        }
        if (total <= 0) return (0, 0);
        var angle = Math.Atan2(sy, sx);
        if (angle < 0) angle += 2 * Math.PI;
        return (angle, Math.Sqrt(sx * sx + sy * sy) / total);
    }

    /// <summary>Smallest absolute difference of two angles in radians, in [0, π].</summary>
    /// <param name="a">First angle, radians.</param>
    /// <param name="b">Second angle, radians.</param>
    public static double Distance(double a, double b)
    {
        var d = Math.IEEERemainder(a - b, 2 * Math.PI);
        return Math.Abs(d);
    }
}

/// <summary>
/// Responses of every channel of a layer to a tuning grid of curves: orientation × radius, with the per-unit views the
/// Curve Detectors protocol plots (heatmap, orientation tuning curve, radius tuning curve).
/// </summary>
/// <param name="Layer">The layer the responses come from.</param>
/// <param name="Orientations">Curve orientations in radians (see <see cref="CurveSpec"/>).</param>
/// <param name="Radii">Curve radii in pixels.</param>
/// <param name="Responses">Response of channel c to orientation o and radius r at <c>[c, o, r]</c>.</param>
public sealed record CurveTuning(string Layer, double[] Orientations, double[] Radii, double[,,] Responses)
{
    /// <summary>Number of channels.</summary>
    public int Channels => Responses.GetLength(0);

    /// <summary>The orientation × radius heatmap of one channel, <c>[orientations, radii]</c>.</summary>
    /// <param name="channel">Channel index.</param>
    public double[,] Heatmap(int channel)
    {
        CheckChannel(channel);
        var h = new double[Orientations.Length, Radii.Length];
        for (int o = 0; o < Orientations.Length; o++)
            for (int r = 0; r < Radii.Length; r++) h[o, r] = Responses[channel, o, r];
        return h;
    }

    /// <summary>
    /// Orientation tuning curve of one channel: the responses over orientation at the radius of the channel's largest
    /// response on the grid (its preferred radius), <c>[orientations]</c>.
    /// </summary>
    /// <param name="channel">Channel index.</param>
    public double[] OrientationCurve(int channel)
    {
        var (_, r) = Peak(channel);
        return Enumerable.Range(0, Orientations.Length).Select(o => Responses[channel, o, r]).ToArray();
    }

    /// <summary>
    /// Radius tuning curve of one channel: the responses over radius at the orientation of the channel's largest
    /// response on the grid, <c>[radii]</c>.
    /// </summary>
    /// <param name="channel">Channel index.</param>
    public double[] RadiusCurve(int channel)
    {
        var (o, _) = Peak(channel);
        return Enumerable.Range(0, Radii.Length).Select(r => Responses[channel, o, r]).ToArray();
    }

    /// <summary>Grid indices (orientation, radius) of the channel's largest response.</summary>
    /// <param name="channel">Channel index.</param>
    public (int Orientation, int Radius) Peak(int channel)
    {
        CheckChannel(channel);
        (int, int) best = (0, 0);
        for (int o = 0; o < Orientations.Length; o++)
            for (int r = 0; r < Radii.Length; r++)
                if (Responses[channel, o, r] > Responses[channel, best.Item1, best.Item2]) best = (o, r);
        return best;
    }

    /// <summary>Preferred orientation (circular mean of <see cref="OrientationCurve"/>) and selectivity (1 − circular variance).</summary>
    /// <param name="channel">Channel index.</param>
    public (double Preferred, double Selectivity) PreferredOrientation(int channel) => CircularStats.Mean(Orientations, OrientationCurve(channel));

    /// <summary>Radius with the largest <see cref="RadiusCurve"/> value.</summary>
    /// <param name="channel">Channel index.</param>
    public double PreferredRadius(int channel) => Radii[Peak(channel).Radius];

    /// <summary>Largest response of the channel over the whole grid.</summary>
    /// <param name="channel">Channel index.</param>
    public double MaxResponse(int channel)
    {
        var (o, r) = Peak(channel);
        return Responses[channel, o, r];
    }

    private void CheckChannel(int channel)
    {
        if (channel < 0 || channel >= Channels)
            throw new ArgumentOutOfRangeException(nameof(channel), channel, $"channel must be in [0, {Channels}) for layer '{Layer}'.");
    }
}

/// <summary>
/// Synthetic tuning of units (layer, channel): the response of the unit whose receptive field is centred on the
/// stimulus centre — the central spatial position <c>(s/2, s/2)</c> of an <c>s × s</c> layer output, with stimuli drawn
/// around the canvas centre pixel <c>(Size/2, Size/2)</c> — to curves, lines, angles and circles.
/// </summary>
public static class SyntheticTuning
{
    /// <summary>Responses of every channel of <paramref name="layer"/> at the central position to a batch of images.</summary>
    /// <param name="model">Image model taking <c>[N, 3, H, W]</c>.</param>
    /// <param name="layer">Layer path with a 4-D output <c>[N, C, s, s]</c>.</param>
    /// <param name="images"><c>[N, 3, H, W]</c>.</param>
    /// <param name="batchSize">Images per forward pass.</param>
    /// <returns><c>[N, C]</c> float32 on the CPU.</returns>
    public static Tensor CentreResponses(nn.Module<Tensor, Tensor> model, string layer, Tensor images, int batchSize = 256)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentException.ThrowIfNullOrEmpty(layer);
        if (images.dim() != 4) throw new ArgumentException($"images must be [N, 3, H, W]; got [{string.Join(", ", images.shape)}].", nameof(images));
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batchSize must be at least 1.");
        if (!LayerPath.All(model).Contains(layer)) throw LayerPath.UnknownPath(model, layer, nameof(layer));
        using var scope = NewDisposeScope();
        var parts = new List<Tensor>();
        for (long start = 0; start < images.shape[0]; start += batchSize)
        {
            var chunk = images.narrow(0, start, Math.Min(batchSize, images.shape[0] - start));
            using var cap = ActivationRecorder.Capture(model, chunk, new[] { layer });
            var a = cap[layer];
            if (a.dim() != 4) throw new ArgumentException($"Layer '{layer}' output must be [N, C, s, s]; got [{string.Join(", ", a.shape)}].", nameof(layer));
            parts.Add(a[.., .., a.shape[2] / 2, a.shape[3] / 2].to(ScalarType.Float32).cpu().clone());
        }
        return cat(parts, 0).MoveToOuterDisposeScope();
    }

    /// <summary>Orientation × radius tuning of every channel of <paramref name="layer"/> to curves (arcs of fixed pixel length).</summary>
    /// <param name="model">Image model.</param>
    /// <param name="layer">Layer path.</param>
    /// <param name="orientations">Orientations in radians (e.g. <see cref="Stimuli.Orientations"/>).</param>
    /// <param name="radii">Radii in pixels.</param>
    /// <param name="strokeWidth">Stroke width in pixels.</param>
    /// <param name="arcPixels">Arc length in pixels (arc angle = arcPixels / radius, capped at π: a half circle).</param>
    /// <param name="canvas">Canvas (default 64×64 white on black, centred).</param>
    public static CurveTuning Curves(nn.Module<Tensor, Tensor> model, string layer, IReadOnlyList<double> orientations, IReadOnlyList<double> radii,
        double strokeWidth = 2, double arcPixels = 20, StimulusCanvas? canvas = null)
    {
        ArgumentNullException.ThrowIfNull(orientations);
        ArgumentNullException.ThrowIfNull(radii);
        if (orientations.Count == 0) throw new ArgumentException("At least one orientation is needed.", nameof(orientations));
        if (radii.Count == 0) throw new ArgumentException("At least one radius is needed.", nameof(radii));
        using var scope = NewDisposeScope();
        var specs = Stimuli.CurveGrid(orientations, radii, strokeWidth, null, arcPixels);
        var resp = Responses(model, layer, n => Stimuli.Curves(specs.Skip(n.Start).Take(n.Count).ToList(), canvas), specs.Count);   // [N, C]
        int o = orientations.Count, r = radii.Count, c = (int)resp.shape[1];
        var flat = resp.view(o, r, c).permute(2, 0, 1).contiguous().data<float>().ToArray();
        var cube = new double[c, o, r];
        for (int i = 0; i < c; i++)
            for (int j = 0; j < o; j++)
                for (int k = 0; k < r; k++) cube[i, j, k] = flat[(i * o + j) * r + k];
        return new CurveTuning(layer, orientations.ToArray(), radii.ToArray(), cube);
    }

    /// <summary>Line-orientation tuning: responses <c>[C, orientations]</c> to straight segments centred on the canvas centre.</summary>
    /// <param name="model">Image model.</param>
    /// <param name="layer">Layer path.</param>
    /// <param name="orientations">Line orientations in radians (period π).</param>
    /// <param name="length">Segment length in pixels.</param>
    /// <param name="strokeWidth">Stroke width in pixels.</param>
    /// <param name="canvas">Canvas.</param>
    public static double[,] Lines(nn.Module<Tensor, Tensor> model, string layer, IReadOnlyList<double> orientations, double length = 20,
        double strokeWidth = 2, StimulusCanvas? canvas = null)
    {
        ArgumentNullException.ThrowIfNull(orientations);
        var specs = orientations.Select(t => new LineSpec(t, length, strokeWidth)).ToList();
        return ToMatrix(model, layer, n => Stimuli.Lines(specs.Skip(n.Start).Take(n.Count).ToList(), canvas), specs.Count);
    }

    /// <summary>Angle tuning: responses <c>[C, orientations · openings]</c> (orientation outer, opening inner) to two-arm angles.</summary>
    /// <param name="model">Image model.</param>
    /// <param name="layer">Layer path.</param>
    /// <param name="orientations">Bisector orientations in radians.</param>
    /// <param name="openings">Openings in radians, in (0, π].</param>
    /// <param name="armLength">Arm length in pixels.</param>
    /// <param name="strokeWidth">Stroke width in pixels.</param>
    /// <param name="canvas">Canvas.</param>
    public static double[,] Angles(nn.Module<Tensor, Tensor> model, string layer, IReadOnlyList<double> orientations, IReadOnlyList<double> openings,
        double armLength = 10, double strokeWidth = 2, StimulusCanvas? canvas = null)
    {
        ArgumentNullException.ThrowIfNull(orientations);
        ArgumentNullException.ThrowIfNull(openings);
        var specs = orientations.SelectMany(t => openings.Select(a => new AngleSpec(t, a, armLength, strokeWidth))).ToList();
        return ToMatrix(model, layer, n => Stimuli.Angles(specs.Skip(n.Start).Take(n.Count).ToList(), canvas), specs.Count);
    }

    /// <summary>Whole-circle radius tuning: responses <c>[C, radii]</c> to rings centred on the canvas centre.</summary>
    /// <param name="model">Image model.</param>
    /// <param name="layer">Layer path.</param>
    /// <param name="radii">Radii in pixels.</param>
    /// <param name="strokeWidth">Stroke width in pixels.</param>
    /// <param name="canvas">Canvas.</param>
    public static double[,] Circles(nn.Module<Tensor, Tensor> model, string layer, IReadOnlyList<double> radii, double strokeWidth = 2, StimulusCanvas? canvas = null)
    {
        ArgumentNullException.ThrowIfNull(radii);
        var specs = radii.Select(r => new CircleSpec(r, strokeWidth)).ToList();
        return ToMatrix(model, layer, n => Stimuli.Circles(specs.Skip(n.Start).Take(n.Count).ToList(), canvas), specs.Count);
    }

    private static double[,] ToMatrix(nn.Module<Tensor, Tensor> model, string layer, Func<(int Start, int Count), Tensor> draw, int count)
    {
        if (count == 0) throw new ArgumentException("At least one stimulus is needed.");
        using var scope = NewDisposeScope();
        var resp = Responses(model, layer, draw, count);   // [N, C]
        int n = (int)resp.shape[0], c = (int)resp.shape[1];
        var flat = resp.t().contiguous().data<float>().ToArray();
        var m = new double[c, n];
        for (int i = 0; i < c; i++)
            for (int j = 0; j < n; j++) m[i, j] = flat[i * n + j];
        return m;
    }

    /// <summary>Draws and measures stimuli in chunks of 256 (bounded memory). Returns <c>[N, C]</c>.</summary>
    private static Tensor Responses(nn.Module<Tensor, Tensor> model, string layer, Func<(int Start, int Count), Tensor> draw, int count)
    {
        const int chunk = 256;
        var parts = new List<Tensor>();
        for (int s = 0; s < count; s += chunk)
        {
            using var imgs = draw((s, Math.Min(chunk, count - s)));
            parts.Add(CentreResponses(model, layer, imgs, chunk));
        }
        return cat(parts, 0);
    }
}
