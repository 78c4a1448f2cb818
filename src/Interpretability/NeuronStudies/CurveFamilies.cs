using Interpretability.Imaging;
using Interpretability.Probing;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.NeuronStudies;

/// <summary>A curve-like unit and the tuning numbers that made it one.</summary>
/// <param name="Layer">Layer path.</param>
/// <param name="Channel">Channel index.</param>
/// <param name="PreferredOrientation">Circular mean orientation of its curve tuning, radians in [0, 2π) (see <see cref="CurveSpec"/>).</param>
/// <param name="PreferredRadius">Radius of its largest curve response, pixels.</param>
/// <param name="Selectivity">1 − circular variance of its orientation tuning curve, in [0, 1].</param>
/// <param name="MaxCurveResponse">Largest response over the curve grid.</param>
/// <param name="MaxLineResponse">Largest response over the line orientations.</param>
/// <param name="RadiusContrast">(max − min) / max of its radius tuning curve: 0 = no radius preference.</param>
public sealed record CurveUnit(string Layer, int Channel, double PreferredOrientation, double PreferredRadius, double Selectivity,
    double MaxCurveResponse, double MaxLineResponse, double RadiusContrast);

/// <summary>Thresholds that make a unit curve-like.</summary>
/// <param name="MinSelectivity">Least orientation selectivity (1 − circular variance).</param>
/// <param name="MinCurveOverLine">Least ratio of the largest curve response to the largest line response (&gt; 1: prefers curves).</param>
/// <param name="MinRadiusContrast">Least (max − min) / max of the radius tuning curve.</param>
/// <param name="MinResponse">Least positive curve response (units that never fire on curves are not curve units).</param>
public sealed record CurveCriteria(double MinSelectivity = 0.5, double MinCurveOverLine = 1.5, double MinRadiusContrast = 0.2, double MinResponse = 1e-3);

/// <summary>A layer's curve family: its curve-like units ordered by preferred orientation, and how equivariant they are.</summary>
/// <param name="Layer">Layer path.</param>
/// <param name="Units">Curve units by increasing preferred orientation.</param>
/// <param name="EquivarianceScore">Mean correlation of each unit's orientation tuning curve with the family's mean (peak-aligned) curve shifted to the unit's preference; NaN with fewer than 2 units.</param>
/// <param name="MeanAlignedCurve">The family's mean tuning curve, each unit normalised to peak 1 and shifted so its preference sits at index 0, <c>[orientations]</c>.</param>
public sealed record CurveFamily(string Layer, IReadOnlyList<CurveUnit> Units, double EquivarianceScore, double[] MeanAlignedCurve);

/// <summary>
/// Curve families (Cammarata et al. 2020): the units of a layer with peaked orientation tuning that prefer curves to
/// lines and have a preferred radius, ordered by orientation; their equivariance; rotation (joint) tuning on dataset
/// examples; and how well each unit separates the dataset's curve classes from the rest (AUC).
/// </summary>
public static class CurveFamilies
{
    /// <summary>Describes every channel of a tuning grid as a <see cref="CurveUnit"/> (curve-like or not).</summary>
    /// <param name="tuning">Orientation × radius curve tuning of the layer.</param>
    /// <param name="lines">Line tuning of the same layer, <c>[C, line orientations]</c>.</param>
    public static IReadOnlyList<CurveUnit> Describe(CurveTuning tuning, double[,] lines)
    {
        ArgumentNullException.ThrowIfNull(tuning);
        ArgumentNullException.ThrowIfNull(lines);
        if (lines.GetLength(0) != tuning.Channels)
            throw new ArgumentException($"lines has {lines.GetLength(0)} channels; the tuning has {tuning.Channels}.", nameof(lines));
        var units = new List<CurveUnit>();
        for (int c = 0; c < tuning.Channels; c++)
        {
            var (pref, sel) = tuning.PreferredOrientation(c);
            var radius = tuning.RadiusCurve(c);
            double rmax = radius.Max(), rmin = radius.Min();
            var lineMax = Enumerable.Range(0, lines.GetLength(1)).Max(j => lines[c, j]);
            units.Add(new CurveUnit(tuning.Layer, c, pref, tuning.PreferredRadius(c), sel, tuning.MaxResponse(c), lineMax,
                rmax > 0 ? (rmax - Math.Max(0, rmin)) / rmax : 0));
        }
        return units;
    }

    /// <summary>Whether a unit meets <paramref name="criteria"/>.</summary>
    /// <param name="unit">The unit.</param>
    /// <param name="criteria">Thresholds.</param>
    public static bool IsCurveLike(CurveUnit unit, CurveCriteria criteria)
    {
        ArgumentNullException.ThrowIfNull(unit);
        ArgumentNullException.ThrowIfNull(criteria);
        return unit.MaxCurveResponse >= criteria.MinResponse
            && unit.Selectivity >= criteria.MinSelectivity
            && unit.MaxCurveResponse > criteria.MinCurveOverLine * Math.Max(0, unit.MaxLineResponse)
            && unit.RadiusContrast >= criteria.MinRadiusContrast;
    }

    /// <summary>The layer's curve family: curve-like units ordered by preferred orientation, with the equivariance score.</summary>
    /// <param name="tuning">Curve tuning of the layer.</param>
    /// <param name="lines">Line tuning, <c>[C, line orientations]</c>.</param>
    /// <param name="criteria">Thresholds (default <see cref="CurveCriteria"/>).</param>
    public static CurveFamily Find(CurveTuning tuning, double[,] lines, CurveCriteria? criteria = null)
    {
        criteria ??= new CurveCriteria();
        var units = Describe(tuning, lines).Where(u => IsCurveLike(u, criteria)).OrderBy(u => u.PreferredOrientation).ToList();
        var (score, mean) = Equivariance(tuning, units.Select(u => u.Channel).ToList());
        return new CurveFamily(tuning.Layer, units, score, mean);
    }

    /// <summary>
    /// Equivariance of a set of units: each unit's orientation tuning curve (normalised to peak 1) is shifted so that its
    /// preferred orientation (nearest grid orientation) sits at index 0, the shifted curves are averaged into the family
    /// curve, and the score is the mean Pearson correlation between each unit's curve and the family curve shifted back to
    /// the unit's preference. 1 = every unit is a rotated copy of the others.
    /// </summary>
    /// <param name="tuning">Curve tuning.</param>
    /// <param name="channels">The units.</param>
    /// <returns>Score (NaN with fewer than 2 units) and the family curve <c>[orientations]</c>.</returns>
    public static (double Score, double[] MeanAligned) Equivariance(CurveTuning tuning, IReadOnlyList<int> channels)
    {
        ArgumentNullException.ThrowIfNull(tuning);
        ArgumentNullException.ThrowIfNull(channels);
        int n = tuning.Orientations.Length;
        var mean = new double[n];
        if (channels.Count == 0) return (double.NaN, mean);
        var curves = new List<(double[] Curve, int Shift)>();
        foreach (var c in channels)
        {
            var f = tuning.OrientationCurve(c);
            var peak = f.Max();
            var norm = f.Select(v => peak > 0 ? v / peak : 0).ToArray();
            var shift = NearestIndex(tuning.Orientations, tuning.PreferredOrientation(c).Preferred);
            curves.Add((norm, shift));
            for (int k = 0; k < n; k++) mean[k] += norm[(k + shift) % n] / channels.Count;
        }
        if (channels.Count < 2) return (double.NaN, mean);
        var score = curves.Average(c => Pearson(c.Curve, Enumerable.Range(0, n).Select(k => mean[((k - c.Shift) % n + n) % n]).ToArray()));
        return (score, mean);
    }

    /// <summary>
    /// Up to <paramref name="count"/> units spread over orientation: the circle is cut into <paramref name="count"/> equal
    /// sectors and the most selective unit of each non-empty sector is kept (for pictures with one line per unit).
    /// </summary>
    /// <param name="family">The family.</param>
    /// <param name="count">Most units to return (≥ 1).</param>
    /// <returns>The chosen units by increasing preferred orientation.</returns>
    public static IReadOnlyList<CurveUnit> Representatives(CurveFamily family, int count)
    {
        ArgumentNullException.ThrowIfNull(family);
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "count must be at least 1.");
        if (family.Units.Count <= count) return family.Units;
        return family.Units.GroupBy(u => Math.Min(count - 1, (int)(u.PreferredOrientation / (2 * Math.PI) * count)))
            .Select(g => g.OrderByDescending(u => u.Selectivity).First()).OrderBy(u => u.PreferredOrientation).ToList();
    }

    /// <summary>
    /// Area under the ROC curve of <paramref name="scores"/> for separating positives from negatives (Mann–Whitney, ties
    /// count half): 1 = every positive scores above every negative, 0.5 = chance.
    /// </summary>
    /// <param name="scores">One score per item.</param>
    /// <param name="positive">Label per item.</param>
    public static double Auc(IReadOnlyList<double> scores, IReadOnlyList<bool> positive)
    {
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(positive);
        if (scores.Count != positive.Count) throw new ArgumentException($"scores ({scores.Count}) and positive ({positive.Count}) differ in length.", nameof(positive));
        var order = Enumerable.Range(0, scores.Count).OrderBy(i => scores[i]).ToArray();
        // Mid-ranks for ties.
        var rank = new double[scores.Count];
        for (int i = 0; i < order.Length;)
        {
            int j = i;
            while (j + 1 < order.Length && scores[order[j + 1]] == scores[order[i]]) j++;
            for (int t = i; t <= j; t++) rank[order[t]] = (i + j) / 2.0 + 1;
            i = j + 1;
        }
        long np = positive.Count(p => p), nn = positive.Count - np;
        if (np == 0 || nn == 0) throw new ArgumentException("Both classes must be present.", nameof(positive));
        var sum = Enumerable.Range(0, scores.Count).Where(i => positive[i]).Sum(i => rank[i]);
        return (sum - np * (np + 1) / 2.0) / (np * (double)nn);
    }

    /// <summary>
    /// Rotates images about a point by each angle (counter-clockwise on screen; bilinear, zeros outside) with
    /// <c>affine_grid</c>/<c>grid_sample</c>.
    /// </summary>
    /// <param name="images"><c>[N, C, H, W]</c> float32 (the sampling grid is float32).</param>
    /// <param name="angles">Angles in radians.</param>
    /// <param name="centreX">Rotation centre column (pixel coordinates).</param>
    /// <param name="centreY">Rotation centre row.</param>
    /// <returns><c>[angles.Count · N, C, H, W]</c>, angle outer, on the device of <paramref name="images"/>.</returns>
    public static Tensor Rotate(Tensor images, IReadOnlyList<double> angles, double centreX, double centreY)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(angles);
        if (images.dim() != 4) throw new ArgumentException($"images must be [N, C, H, W]; got [{string.Join(", ", images.shape)}].", nameof(images));
        using var scope = NewDisposeScope();
        long n = images.shape[0], h = images.shape[2], w = images.shape[3];
        // Normalised coordinates (align_corners = false): u = (2x + 1) / W − 1.
        double px = (2 * centreX + 1) / w - 1, py = (2 * centreY + 1) / h - 1;
        var thetas = new List<float>();
        foreach (var a in angles)
        {
            // Output pixel at offset d from the centre samples the input at R(−a) d (y down: CCW on screen).
            double c = Math.Cos(a), s = Math.Sin(a);
            double m00 = c, m01 = -s * h / w, m10 = s * w / h, m11 = c;
            for (long i = 0; i < n; i++)
                thetas.AddRange(new[] { (float)m00, (float)m01, (float)(px - m00 * px - m01 * py), (float)m10, (float)m11, (float)(py - m10 * px - m11 * py) });
        }
        var theta = tensor(thetas.ToArray(), new long[] { angles.Count * n, 2, 3 }).to(images.device);
        var batch = images.unsqueeze(0).expand(angles.Count, -1, -1, -1, -1).reshape(angles.Count * n, images.shape[1], h, w);
        var grid = nn.functional.affine_grid(theta, new long[] { angles.Count * n, images.shape[1], h, w }, align_corners: false);
        return nn.functional.grid_sample(batch, grid, align_corners: false).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Rotation tuning: each listed unit's top examples are rotated through <paramref name="angles"/> about the centre of
    /// the receptive field at the example's argmax position, and every listed unit's response at that position recorded.
    /// </summary>
    /// <param name="model">Image model.</param>
    /// <param name="layer">Layer path.</param>
    /// <param name="images">The dataset <c>[N, 3, H, W]</c> the examples index.</param>
    /// <param name="examples">Per listed unit, its top examples.</param>
    /// <param name="channels">The units (same order as <paramref name="examples"/>).</param>
    /// <param name="field">The layer's receptive field.</param>
    /// <param name="angles">Rotation angles in radians.</param>
    /// <returns><c>[source unit, angle, responding unit]</c>: mean response over the source unit's examples.</returns>
    public static double[,,] RotationTuning(nn.Module<Tensor, Tensor> model, string layer, Tensor images, IReadOnlyList<IReadOnlyList<DatasetExample>> examples,
        IReadOnlyList<int> channels, ReceptiveField field, IReadOnlyList<double> angles)
    {
        ArgumentNullException.ThrowIfNull(examples);
        ArgumentNullException.ThrowIfNull(channels);
        ArgumentNullException.ThrowIfNull(angles);
        ArgumentNullException.ThrowIfNull(field);
        if (examples.Count != channels.Count) throw new ArgumentException($"examples ({examples.Count}) and channels ({channels.Count}) differ in length.", nameof(examples));
        var result = new double[channels.Count, angles.Count, channels.Count];
        var chIdx = tensor(channels.Select(c => (long)c).ToArray());
        for (int u = 0; u < channels.Count; u++)
        {
            foreach (var e in examples[u])
            {
                using var scope = NewDisposeScope();
                var rotated = Rotate(images.narrow(0, e.Index, 1), angles, field.Centre(e.Col), field.Centre(e.Row));
                using var cap = ActivationRecorder.Capture(model, rotated, new[] { layer });
                var resp = cap[layer][.., .., e.Row, e.Col].index_select(1, chIdx).to(ScalarType.Float64).cpu().contiguous().data<double>().ToArray();
                for (int a = 0; a < angles.Count; a++)
                    for (int v = 0; v < channels.Count; v++) result[u, a, v] += resp[a * channels.Count + v] / examples[u].Count;
            }
        }
        chIdx.Dispose();
        return result;
    }

    /// <summary>
    /// Joint tuning over absolute orientation: unit v's response to unit u's examples rotated by α is placed at orientation
    /// <c>θ_u + α</c> (θ_u = u's preferred orientation) and averaged over u — the family's tuning curves on one axis.
    /// </summary>
    /// <param name="rotation">From <see cref="RotationTuning"/>, <c>[u, angle, v]</c>, angles evenly spaced over 2π starting at 0.</param>
    /// <param name="preferred">Preferred orientation of each unit, radians.</param>
    /// <returns><c>[v, angle]</c>: unit v's mean response at absolute orientation <c>2π · k / angles</c>.</returns>
    public static double[,] JointTuning(double[,,] rotation, IReadOnlyList<double> preferred)
    {
        ArgumentNullException.ThrowIfNull(rotation);
        ArgumentNullException.ThrowIfNull(preferred);
        int u = rotation.GetLength(0), n = rotation.GetLength(1), v = rotation.GetLength(2);
        if (preferred.Count != u) throw new ArgumentException($"preferred needs {u} entries; got {preferred.Count}.", nameof(preferred));
        var joint = new double[v, n];
        for (int s = 0; s < u; s++)
        {
            var shift = (int)Math.Round(preferred[s] / (2 * Math.PI) * n) % n;
            for (int a = 0; a < n; a++)
                for (int t = 0; t < v; t++) joint[t, (a + shift) % n] += rotation[s, a, t] / u;
        }
        return joint;
    }

    private static int NearestIndex(double[] orientations, double angle)
    {
        int best = 0;
        for (int i = 1; i < orientations.Length; i++)
            if (CircularStats.Distance(orientations[i], angle) < CircularStats.Distance(orientations[best], angle)) best = i;
        return best;
    }

    private static double Pearson(double[] a, double[] b)
    {
        double ma = a.Average(), mb = b.Average(), sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sab += (a[i] - ma) * (b[i] - mb);
            saa += (a[i] - ma) * (a[i] - ma);
            sbb += (b[i] - mb) * (b[i] - mb);
        }
        return saa > 0 && sbb > 0 ? sab / Math.Sqrt(saa * sbb) : 0;
    }
}
