using Interpretability.Imaging;
using Interpretability.Probing;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.NeuronStudies;

/// <summary>A curve-like unit and the tuning numbers that made it one.</summary>
/// <param name="Layer">Layer path.</param>
/// <param name="Channel">Channel index.</param>
/// <param name="PreferredOrientation">The argmax of its orientation tuning curve (at the preferred radius), radians in [0, 2π)
/// (see <see cref="CurveSpec"/>).</param>
/// <param name="PreferredRadius">Radius of its largest curve response, pixels.</param>
/// <param name="Selectivity">1 − circular variance of its orientation tuning curve, in [0, 1].</param>
/// <param name="MaxCurveResponse">Largest response over the curve grid.</param>
/// <param name="MaxLineResponse">Largest response over the line orientations.</param>
/// <param name="RadiusContrast">(max − min) / max of its radius tuning curve: 0 = no radius preference.</param>
/// <param name="MaxAngleResponse">Largest response over the angle stimuli (0 when none were given).</param>
/// <param name="PeakWidth">Width of the tuning curve's peak, radians: the contiguous run of orientations around the argmax
/// responding at least half the peak (one grid step for a single spike).</param>
/// <param name="DatasetMax">The unit's largest activation over a dataset (NaN when none was given).</param>
public sealed record CurveUnit(string Layer, int Channel, double PreferredOrientation, double PreferredRadius, double Selectivity,
    double MaxCurveResponse, double MaxLineResponse, double RadiusContrast, double MaxAngleResponse = 0, double PeakWidth = double.NaN,
    double DatasetMax = double.NaN);

/// <summary>
/// Thresholds that make a unit curve-like, after Cammarata et al. 2020 ("Curve Detectors", Distill,
/// doi:10.23915/distill.00024.003): a strong response to curves (relative to what the unit does on real images), curves
/// preferred over lines and angles, a tuning curve with a real peak (not one spike), and a radius preference.
/// </summary>
/// <param name="MinSelectivity">Least orientation selectivity (1 − circular variance).</param>
/// <param name="MinCurveOverLine">Least ratio of the largest curve response to the largest line response (&gt; 1: prefers curves).</param>
/// <param name="MinRadiusContrast">Least (max − min) / max of the radius tuning curve.</param>
/// <param name="MinResponse">Least positive curve response (units that never fire on curves are not curve units).</param>
/// <param name="MinCurveOverAngle">Least ratio of the largest curve response to the largest angle response (when angle
/// responses are given).</param>
/// <param name="MinFractionOfDatasetMax">Least ratio of the largest curve response to the unit's largest activation over a
/// dataset (when given): a unit that answers a curve with a tenth of what real images draw from it is not a curve detector.</param>
/// <param name="MinPeakWidthDegrees">Least width of the tuning curve's peak: selectivity alone rewards a single spike.</param>
public sealed record CurveCriteria(double MinSelectivity = 0.5, double MinCurveOverLine = 1.5, double MinRadiusContrast = 0.2, double MinResponse = 1e-3,
    double MinCurveOverAngle = 1.2, double MinFractionOfDatasetMax = 0.25, double MinPeakWidthDegrees = 10);

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
    /// <param name="angles">Angle tuning, <c>[C, stimuli]</c> (<see cref="SyntheticTuning.Angles"/>); null = not compared.</param>
    /// <param name="datasetMax">Each channel's largest activation over a dataset, <c>[C]</c>; null = not compared.</param>
    public static IReadOnlyList<CurveUnit> Describe(CurveTuning tuning, double[,] lines, double[,]? angles = null, IReadOnlyList<double>? datasetMax = null)
    {
        ArgumentNullException.ThrowIfNull(tuning);
        ArgumentNullException.ThrowIfNull(lines);
        if (lines.GetLength(0) != tuning.Channels)
            throw new ArgumentException($"lines has {lines.GetLength(0)} channels; the tuning has {tuning.Channels}.", nameof(lines));
        if (angles is not null && angles.GetLength(0) != tuning.Channels)
            throw new ArgumentException($"angles has {angles.GetLength(0)} channels; the tuning has {tuning.Channels}.", nameof(angles));
        if (datasetMax is not null && datasetMax.Count != tuning.Channels)
            throw new ArgumentException($"datasetMax has {datasetMax.Count} channels; the tuning has {tuning.Channels}.", nameof(datasetMax));
        var units = new List<CurveUnit>();
        for (int c = 0; c < tuning.Channels; c++)
        {
            var (_, sel) = tuning.PreferredOrientation(c);
            var peak = tuning.Peak(c).Orientation;
            var radius = tuning.RadiusCurve(c);
            double rmax = radius.Max(), rmin = radius.Min();
            var lineMax = Enumerable.Range(0, lines.GetLength(1)).Max(j => lines[c, j]);
            var angleMax = angles is null ? 0 : Enumerable.Range(0, angles.GetLength(1)).Max(j => angles[c, j]);
            units.Add(new CurveUnit(tuning.Layer, c, tuning.Orientations[peak], tuning.PreferredRadius(c), sel, tuning.MaxResponse(c), lineMax,
                rmax > 0 ? (rmax - Math.Max(0, rmin)) / rmax : 0, angleMax, PeakWidth(tuning.OrientationCurve(c), peak, tuning.Orientations),
                datasetMax?[c] ?? double.NaN));
        }
        return units;
    }

    /// <summary>Whether a unit meets <paramref name="criteria"/> (the angle and dataset criteria only where the unit has them).</summary>
    /// <param name="unit">The unit.</param>
    /// <param name="criteria">Thresholds.</param>
    public static bool IsCurveLike(CurveUnit unit, CurveCriteria criteria) => FailedCriterion(unit, criteria) is null;

    /// <summary>
    /// The first criterion <paramref name="unit"/> fails, as a snake_case code (null when it is curve-like):
    /// <c>no_curve_response</c>, <c>weak_for_its_dataset_maximum</c>, <c>not_orientation_selective</c>, <c>single_spike</c>,
    /// <c>prefers_lines</c>, <c>prefers_angles</c>, <c>no_radius_preference</c>.
    /// </summary>
    /// <param name="unit">The unit.</param>
    /// <param name="criteria">Thresholds.</param>
    public static string? FailedCriterion(CurveUnit unit, CurveCriteria criteria)
    {
        ArgumentNullException.ThrowIfNull(unit);
        ArgumentNullException.ThrowIfNull(criteria);
        if (unit.MaxCurveResponse < criteria.MinResponse) return "no_curve_response";
        if (double.IsFinite(unit.DatasetMax) && unit.MaxCurveResponse < criteria.MinFractionOfDatasetMax * unit.DatasetMax) return "weak_for_its_dataset_maximum";
        if (unit.Selectivity < criteria.MinSelectivity) return "not_orientation_selective";
        if (double.IsFinite(unit.PeakWidth) && unit.PeakWidth * 180 / Math.PI < criteria.MinPeakWidthDegrees - 1e-9) return "single_spike";
        if (unit.MaxCurveResponse <= criteria.MinCurveOverLine * Math.Max(0, unit.MaxLineResponse)) return "prefers_lines";
        if (unit.MaxCurveResponse <= criteria.MinCurveOverAngle * Math.Max(0, unit.MaxAngleResponse)) return "prefers_angles";
        if (unit.RadiusContrast < criteria.MinRadiusContrast) return "no_radius_preference";
        return null;
    }

    /// <summary>The layer's curve family: curve-like units ordered by preferred orientation, with the equivariance score.</summary>
    /// <param name="tuning">Curve tuning of the layer.</param>
    /// <param name="lines">Line tuning, <c>[C, line orientations]</c>.</param>
    /// <param name="criteria">Thresholds (default <see cref="CurveCriteria"/>).</param>
    /// <param name="angles">Angle tuning <c>[C, stimuli]</c>; null = not compared.</param>
    /// <param name="datasetMax">Each channel's largest activation over a dataset; null = not compared.</param>
    public static CurveFamily Find(CurveTuning tuning, double[,] lines, CurveCriteria? criteria = null, double[,]? angles = null, IReadOnlyList<double>? datasetMax = null)
    {
        criteria ??= new CurveCriteria();
        var units = Describe(tuning, lines, angles, datasetMax).Where(u => IsCurveLike(u, criteria)).OrderBy(u => u.PreferredOrientation).ToList();
        var (score, mean) = Equivariance(tuning, units.Select(u => u.Channel).ToList());
        return new CurveFamily(tuning.Layer, units, score, mean);
    }

    /// <summary>Width (radians) of the run of orientations around <paramref name="peak"/> that respond at least half the peak.</summary>
    private static double PeakWidth(double[] curve, int peak, double[] orientations)
    {
        int n = curve.Length;
        if (n < 2 || curve[peak] <= 0) return 0;
        double half = curve[peak] / 2;
        int left = 0, right = 0;
        while (left + right + 1 < n && curve[((peak - left - 1) % n + n) % n] >= half) left++;
        while (left + right + 1 < n && curve[(peak + right + 1) % n] >= half) right++;
        double step = 2 * Math.PI / n;
        return (left + right + 1) * step;
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
            var shift = tuning.Peak(c).Orientation;
            curves.Add((norm, shift));
            for (int k = 0; k < n; k++) mean[k] += norm[(k + shift) % n] / channels.Count;
        }
        if (channels.Count < 2) return (double.NaN, mean);
        var score = curves.Average(c => Pearson(c.Curve, Enumerable.Range(0, n).Select(k => mean[((k - c.Shift) % n + n) % n]).ToArray()));
        return (score, mean);
    }

    /// <summary>
    /// Up to <paramref name="count"/> units spread over orientation: the circle is cut into <paramref name="count"/> equal
    /// sectors and the strongest unit of each non-empty sector is kept (largest curve response relative to its dataset
    /// maximum where known, else the largest curve response), for pictures with one line per unit.
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
            .Select(g => g.OrderByDescending(Strength).First()).OrderBy(u => u.PreferredOrientation).ToList();
    }

    private static double Strength(CurveUnit u) => double.IsFinite(u.DatasetMax) && u.DatasetMax > 0 ? u.MaxCurveResponse / u.DatasetMax : u.MaxCurveResponse;

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
