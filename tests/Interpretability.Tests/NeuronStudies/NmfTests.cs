using Interpretability.NeuronStudies;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Tests.NeuronStudies;

public class NmfTests
{
    [Fact]
    public void Nmf_reconstructs_a_planted_rank_3_matrix()
    {
        var gen = new Generator(3);
        using var w = rand(new long[] { 60, 3 }, dtype: ScalarType.Float64, generator: gen);
        using var h = rand(new long[] { 3, 20 }, dtype: ScalarType.Float64, generator: gen);
        using var a = w.matmul(h);
        var (wf, hf, err) = Nmf.Factorize(a, 3, iterations: 3000, seed: 1);
        using (wf)
        using (hf)
        {
            Assert.True(err < 1e-2, $"relative error {err}");
            Assert.True((wf >= 0).all().item<bool>() && (hf >= 0).all().item<bool>());
            Assert.Equal(new long[] { 60, 3 }, wf.shape);
            Assert.Equal(new long[] { 3, 20 }, hf.shape);
        }
        Assert.Throws<ArgumentException>(() => Nmf.Factorize(a - 10, 3));
        Assert.Equal("rank", Assert.Throws<ArgumentOutOfRangeException>(() => Nmf.Factorize(a, 0)).ParamName);
    }

    [Fact]
    public void The_tuning_studys_circuit_chart_orders_bars_by_orientation_and_checks_its_inputs()
    {
        var png = Interpretability.Studies.NeuronStudiesStudy.CircuitChart(new[] { 0.5, -2.0, 1.0, 0.1 }, new double?[] { 1, null, 3, 0.5 }, "circuit");
        Assert.True(png.Length > 1000);
        Assert.Equal("preferred", Assert.Throws<ArgumentException>(() => Interpretability.Studies.NeuronStudiesStudy.CircuitChart(new[] { 1.0 }, new double?[] { 1, 2 }, "x")).ParamName);
    }
}
