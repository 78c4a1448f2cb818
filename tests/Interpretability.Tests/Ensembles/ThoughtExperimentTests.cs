using Interpretability.Ensembles;

namespace Interpretability.Tests.Ensembles;

public class ThoughtExperimentTests
{
    private static double Sigma(double z) => 1 / (1 + Math.Exp(-z));

    [Fact]
    public void All_four_thought_experiments_pass_on_all_their_inputs()
    {
        var results = ThoughtExperiments.VerifyAll();
        Assert.Equal(4, results.Count);
        foreach (var r in results) Assert.True(r.Passed, $"{r.Name}: {r.Correct}/{r.Checked}");
        Assert.Equal(256, results[1].Checked);                                          // the comparator: every pair (brief: EXPECT 256/256)
    }

    [Fact]
    public void The_line_classifier_answers_the_briefs_six_points()
    {
        using var net = ThoughtExperiments.LineClassifier(0.5);
        var outs = ThoughtExperiments.Evaluate(net, new double[,] { { 0, 1 }, { 0, -1 }, { 1, 0.4 }, { 1, 0.6 }, { -1, -0.4 }, { -1, -0.6 } });
        Assert.Equal(new[] { true, false, false, true, true, false }, outs.Select(o => o > 0).ToArray());
        Assert.Equal(Math.Tanh(-0.5 * 1 + 0.4), outs[2], 12);
    }

    [Fact]
    public void The_comparator_is_one_neuron_with_weights_eight_four_two_one()
    {
        using var net = ThoughtExperiments.Comparator(1);
        // A = 5 (0101), B = 3 (0011): z = 5 − 3 − 0.5.
        var o = ThoughtExperiments.Evaluate(net, new double[,] { { 0, 1, 0, 1, 0, 0, 1, 1 } });
        Assert.Equal(Math.Tanh(1.5), o[0], 12);
        Assert.Equal(new[] { 8.0, 4, 2, 1, -8, -4, -2, -1 }, net.GetWeights());
        // With k = 2: out > 0 ⇔ A − 2B > 0.5 on all pairs.
        Assert.True(ThoughtExperiments.VerifyComparator(2).Passed);
    }

    [Fact]
    public void The_two_interval_detector_in_tanh_units_is_exactly_the_briefs_logistic_network()
    {
        using var net = ThoughtExperiments.TwoIntervalDetector();
        var xs = Enumerable.Range(0, 81).Select(i => -1 + i * 0.025).ToArray();
        var outs = ThoughtExperiments.Evaluate(net, xs);
        for (int i = 0; i < xs.Length; i++)
        {
            double x = xs[i];
            double brief = Math.Tanh(5 * (Sigma(40 * (x + 0.6)) - 2 * Sigma(6 * x) + Sigma(40 * (x - 0.1)) - 0.25));
            Assert.Equal(brief, outs[i], 12);
        }
        // The brief's hand-checked signs.
        var signs = ThoughtExperiments.Evaluate(net, new[] { -1.0, -0.3, 0.0, 0.2, 0.5 }).Select(v => v > 0).ToArray();
        Assert.Equal(new[] { false, true, false, true, false }, signs);
        // Its four sign changes lie within the brief's 0.03 of B1…B4 (B2 and B4 are exact; B1 and B3 ignore h2's small
        // value there: the exact zeros are at −0.6 + ln(0.303/0.697)/40 ≈ −0.6208 and ≈ 0.1042).
        var crossings = ThoughtExperiments.Crossings(net);
        Assert.Equal(4, crossings.Count);
        for (int k = 0; k < 4; k++) Assert.InRange(crossings[k] - ThoughtExperiments.TwoIntervalBoundaries[k], -0.03, 0.03);
        Assert.Equal(Math.Log(0.6) / 6, crossings[1], 3);
        Assert.Equal(Math.Log(7) / 6, crossings[3], 3);
    }

    [Fact]
    public void Moving_one_bias_of_the_range_detector_moves_one_boundary_and_both_move_the_interval()
    {
        using var net = ThoughtExperiments.RangeDetector(-0.3, 0.4, 20, 5);
        var b = net.GetBiases();
        Assert.Equal(new[] { -0.3, 0.4 }, ThoughtExperiments.Crossings(net).Select(v => Math.Round(v, 3)));
        net.SetBiases(new[] { b[0], b[1] - 20 * 0.2, b[2] });                           // h2 only: U moves to 0.6
        Assert.Equal(new[] { -0.3, 0.6 }, ThoughtExperiments.Crossings(net).Select(v => Math.Round(v, 3)));
        net.SetBiases(new[] { b[0] - 20 * 0.2, b[1] - 20 * 0.2, b[2] });                // both: the interval shifts by 0.2
        Assert.Equal(new[] { -0.1, 0.6 }, ThoughtExperiments.Crossings(net).Select(v => Math.Round(v, 3)));
    }
}
