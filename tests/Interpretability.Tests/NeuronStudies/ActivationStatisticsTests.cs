using Interpretability.Imaging;
using Interpretability.NeuronStudies;
using static TorchSharp.torch;

namespace Interpretability.Tests.NeuronStudies;

public class ActivationStatisticsTests
{
    [Theory]
    [InlineData(0.5, 0.0)]
    [InlineData(3.0, 1.5)]
    public void Tail_fit_recovers_the_rate_of_exponential_data(double rate, double threshold)
    {
        var rng = new Random(7);
        // 20k draws: x = threshold + Exp(rate) for 60%, uniform below the threshold for the rest.
        var values = Enumerable.Range(0, 20000).Select(i => i % 5 < 3 ? threshold - Math.Log(1 - rng.NextDouble()) / rate : threshold - rng.NextDouble()).ToList();
        var fit = ActivationStatistics.FitTail(values, threshold);
        Assert.InRange(fit.Rate, rate * 0.95, rate * 1.05);
        Assert.InRange(fit.TailFraction, 0.58, 0.62);
        Assert.True(fit.KsStatistic < 0.02, $"KS {fit.KsStatistic}");
        // A Gaussian tail is not exponential: a clearly larger KS distance.
        var gauss = Enumerable.Range(0, 20000).Select(_ => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble())).ToList();
        Assert.True(ActivationStatistics.FitTail(gauss, 0).KsStatistic > 0.05);
        Assert.Throws<ArgumentException>(() => ActivationStatistics.FitTail(new[] { 1.0 }, 0));
    }

    [Fact]
    public void Upper_tail_fit_ignores_a_spike_just_above_zero()
    {
        var rng = new Random(11);
        const double rate = 0.2;
        // Half the values: a spike in (0, 0.1] (flat background); a quarter: 1 + Exp(rate); a quarter negative.
        var values = Enumerable.Range(0, 40000).Select(i => (i % 4) switch
        {
            0 or 1 => 0.1 * (1 - rng.NextDouble()),
            2 => 1 - Math.Log(1 - rng.NextDouble()) / rate,
            _ => -5 * rng.NextDouble(),
        }).ToList();
        var fromZero = ActivationStatistics.FitTail(values, 0);
        var upper = ActivationStatistics.FitUpperTail(values);
        Assert.True(fromZero.Rate > rate * 1.5, $"from zero {fromZero.Rate}");   // the spike drags the mean down
        Assert.True(fromZero.KsStatistic > 0.2, $"KS from zero {fromZero.KsStatistic}");
        Assert.InRange(upper.Rate, rate * 0.95, rate * 1.05);
        Assert.True(upper.Threshold > 1, $"threshold {upper.Threshold}");
        Assert.True(upper.KsStatistic < 0.03, $"KS {upper.KsStatistic}");
        Assert.Equal("quantile", Assert.Throws<ArgumentOutOfRangeException>(() => ActivationStatistics.FitUpperTail(values, 1)).ParamName);
        Assert.Throws<ArgumentException>(() => ActivationStatistics.FitUpperTail(new[] { -1.0, 2.0 }));
    }

    [Fact]
    public void Histogram_density_integrates_to_one_and_x_p_x_sums_to_the_mean()
    {
        var values = Enumerable.Range(0, 1000).Select(i => i / 100.0).ToList();
        var h = ActivationStatistics.HistogramOf(values, 50);
        Assert.Equal(1000, h.Counts.Sum());
        var width = h.Edges[1] - h.Edges[0];
        Assert.Equal(1.0, h.Density.Sum() * width, 9);
        Assert.Equal(values.Average(), h.ExpectedContribution.Sum() * width, 1);
        var png = ActivationStatistics.Chart(h, "t", "x", new[] { ActivationStatistics.FitTail(values, 2) });
        Assert.True(png.Length > 1000);
    }

    [Fact]
    public void Values_select_all_centre_or_max_positions()
    {
        using var model = HandBuiltUnits.ArcDetectors(new[] { new CurveSpec(0, 8), new CurveSpec(Math.PI, 8) });
        using var imgs = Stimuli.Curves(new[] { new CurveSpec(0, 8, 2, 2.5), new CurveSpec(Math.PI, 8, 2, 2.5), new CurveSpec(1, 5) });
        using var all = ActivationStatistics.Values(model, "conv", imgs, SpatialSelection.All);
        Assert.Equal(new long[] { 3 * 64 * 64, 2 }, all.shape);
        using var centre = ActivationStatistics.Values(model, "relu", imgs, SpatialSelection.Centre);
        using var max = ActivationStatistics.Values(model, "relu", imgs, SpatialSelection.Max);
        Assert.Equal(new long[] { 3, 2 }, centre.shape);
        Assert.True((max >= centre).all().item<bool>());
        // Each template fires most on its own curve at the centre.
        Assert.True(centre[0, 0].item<float>() > centre[1, 0].item<float>());
        Assert.True(centre[1, 1].item<float>() > centre[0, 1].item<float>());
        Assert.True(all.min().item<float>() < 0);   // pre-ReLU values go negative
        Assert.Equal("layer", Assert.Throws<ArgumentException>(() => ActivationStatistics.Values(model, "relu9", imgs)).ParamName);
    }
}
