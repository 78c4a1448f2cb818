using Interpretability.Imaging;
using Interpretability.NeuronStudies;
using static TorchSharp.torch;

namespace Interpretability.Tests.NeuronStudies;

public class CurveFamiliesTests
{
    private static readonly double[] Radii = { 4, 8, 14, 24 };

    [Fact]
    public void Hand_built_arc_detectors_form_an_equivariant_family_ordered_by_orientation()
    {
        // Four rotated copies of one template (orientations 300°, 30°, 120°, 210°) plus one line detector.
        var orient = new[] { 300.0, 30, 120, 210 }.Select(d => d * Math.PI / 180).ToArray();
        var specs = orient.Select(t => new CurveSpec(t, 8, 2, 2.5)).Append(new CurveSpec(0, 1000, 2, 20.0 / 1000)).ToList();
        using var model = HandBuiltUnits.ArcDetectors(specs);
        var tuning = SyntheticTuning.Curves(model, "relu", Stimuli.Orientations(36), Radii);
        var lines = SyntheticTuning.Lines(model, "relu", Stimuli.Orientations(18, halfTurn: true));
        var family = CurveFamilies.Find(tuning, lines);
        Assert.Equal(new[] { 1, 2, 3, 0 }, family.Units.Select(u => u.Channel).ToArray());
        Assert.All(family.Units, u => Assert.Equal(8.0, u.PreferredRadius));
        Assert.True(family.EquivarianceScore > 0.9, $"equivariance {family.EquivarianceScore}");
        Assert.Equal(36, family.MeanAlignedCurve.Length);
        Assert.Equal(1.0, family.MeanAlignedCurve[0], 6);
        // The line detector prefers lines (or has no radius preference) and is left out.
        Assert.DoesNotContain(family.Units, u => u.Channel == 4);
    }

    [Fact]
    public void Rotating_a_curve_about_its_midpoint_adds_the_angle_to_its_orientation()
    {
        using var img = Stimuli.Curves(new[] { new CurveSpec(0.5, 10, 3, 2) });
        using var rotated = CurveFamilies.Rotate(img, new[] { 0.0, Math.PI / 3 }, 32, 32);
        Assert.Equal(new long[] { 2, 3, 64, 64 }, rotated.shape);
        Assert.True(rotated[0].allclose(img[0], 1e-4, 1e-4));
        using var expected = Stimuli.Curves(new[] { new CurveSpec(0.5 + Math.PI / 3, 10, 3, 2) });
        var err = (rotated[1] - expected[0]).abs().mean().item<float>();
        var differentFromOriginal = (img[0] - expected[0]).abs().mean().item<float>();
        Assert.True(err < differentFromOriginal / 4, $"error {err} vs {differentFromOriginal}");
    }

    [Fact]
    public void Rotation_and_joint_tuning_peak_at_each_units_orientation()
    {
        var orient = new[] { 0.0, Math.PI / 2, Math.PI, 3 * Math.PI / 2 };
        using var model = HandBuiltUnits.ArcDetectors(orient.Select(t => new CurveSpec(t, 8, 2, 2.5)).ToList());
        using var images = Stimuli.Curves(orient.Select(t => new CurveSpec(t, 8, 2, 2.5)).ToList());
        var channels = new[] { 0, 1, 2, 3 };
        var examples = TopExamples.Find(model, "relu", images, channels, k: 1);
        var angles = Stimuli.Orientations(24);
        var rot = CurveFamilies.RotationTuning(model, "relu", images, examples, channels, ReceptiveField.Of(model, "relu"), angles);
        Assert.Equal(new[] { 4, 24, 4 }, new[] { rot.GetLength(0), rot.GetLength(1), rot.GetLength(2) });
        var joint = CurveFamilies.JointTuning(rot, orient);
        for (int v = 0; v < 4; v++)
        {
            int best = 0;
            for (int a = 1; a < 24; a++) if (joint[v, a] > joint[v, best]) best = a;
            Assert.Equal(v * 6, best);
        }
    }

    [Fact]
    public void Auc_is_one_for_separated_scores_and_half_for_ties()
    {
        Assert.Equal(1.0, CurveFamilies.Auc(new[] { 3.0, 4, 1, 0 }, new[] { true, true, false, false }));
        Assert.Equal(0.0, CurveFamilies.Auc(new[] { 0.0, 1, 3, 4 }, new[] { true, true, false, false }));
        Assert.Equal(0.5, CurveFamilies.Auc(new[] { 1.0, 1, 1, 1 }, new[] { true, false, true, false }));
        Assert.Equal(0.75, CurveFamilies.Auc(new[] { 2.0, 0, 1.5, 1 }, new[] { true, false, false, true }), 9);
        Assert.Throws<ArgumentException>(() => CurveFamilies.Auc(new[] { 1.0 }, new[] { true }));
    }
}

public class FamilyHelpersTests
{
    private static CurveUnit Unit(int ch, double deg, double response, double datasetMax = double.NaN) =>
        new("l", ch, deg * Math.PI / 180, 5, 0.9, response, 0, 1, DatasetMax: datasetMax);

    [Fact]
    public void Representatives_keep_the_strongest_unit_per_sector()
    {
        // sector 0–90°: units 0 and 1; unit 0 answers curves more strongly in absolute terms, unit 1 relative to its dataset maximum
        var fam = new CurveFamily("l", new[] { Unit(0, 10, 5), Unit(1, 20, 4), Unit(2, 100, 1), Unit(3, 200, 1), Unit(4, 350, 1) }, 0, Array.Empty<double>());
        Assert.Equal(new[] { 0, 2, 3, 4 }, CurveFamilies.Representatives(fam, 4).Select(u => u.Channel).ToArray());
        var relative = new CurveFamily("l", new[] { Unit(0, 10, 5, 50), Unit(1, 20, 4, 8), Unit(2, 100, 1, 2), Unit(3, 200, 1, 2), Unit(4, 350, 1, 2) }, 0, Array.Empty<double>());
        var reps = CurveFamilies.Representatives(relative, 4);
        Assert.Equal(new[] { 1, 2, 3, 4 }, reps.Select(u => u.Channel).ToArray());
        Assert.Equal(5, CurveFamilies.Representatives(fam, 8).Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => CurveFamilies.Representatives(fam, 0));
    }

    [Fact]
    public void Each_criterion_rejects_the_unit_it_describes()
    {
        var criteria = new CurveCriteria();
        CurveUnit Good() => new("l", 0, 0, 5, Selectivity: 0.8, MaxCurveResponse: 10, MaxLineResponse: 2, RadiusContrast: 0.5, MaxAngleResponse: 3, PeakWidth: 40 * Math.PI / 180, DatasetMax: 20);
        Assert.Null(CurveFamilies.FailedCriterion(Good(), criteria));
        Assert.Equal("weak_for_its_dataset_maximum", CurveFamilies.FailedCriterion(Good() with { DatasetMax = 60 }, criteria));   // 10 < 0.25 × 60
        Assert.Equal("single_spike", CurveFamilies.FailedCriterion(Good() with { PeakWidth = 5 * Math.PI / 180 }, criteria));
        Assert.Equal("prefers_lines", CurveFamilies.FailedCriterion(Good() with { MaxLineResponse = 7 }, criteria));
        Assert.Equal("prefers_angles", CurveFamilies.FailedCriterion(Good() with { MaxAngleResponse = 9 }, criteria));
        Assert.Equal("not_orientation_selective", CurveFamilies.FailedCriterion(Good() with { Selectivity = 0.3 }, criteria));
        Assert.Equal("no_radius_preference", CurveFamilies.FailedCriterion(Good() with { RadiusContrast = 0.1 }, criteria));
        Assert.Equal("no_curve_response", CurveFamilies.FailedCriterion(Good() with { MaxCurveResponse = 0 }, criteria));
        // without a dataset maximum or angle responses those two criteria are not applied
        Assert.Null(CurveFamilies.FailedCriterion(Good() with { DatasetMax = double.NaN, MaxAngleResponse = 0 }, criteria));
    }

    [Fact]
    public void Orientation_coverage_is_360_minus_the_largest_gap()
    {
        double R(double d) => d * Math.PI / 180;
        Assert.Equal(270, Interpretability.Studies.NeuronStudiesStudy.OrientationCoverage(new[] { R(0), R(90), R(180), R(270) }), 6);
        Assert.Equal(20, Interpretability.Studies.NeuronStudiesStudy.OrientationCoverage(new[] { R(350), R(10) }), 6);
        Assert.Equal(0, Interpretability.Studies.NeuronStudiesStudy.OrientationCoverage(new[] { R(5) }));
    }
}
