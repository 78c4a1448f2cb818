using Interpretability.Ensembles;
using Interpretability.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Tests.Ensembles;

public class NetworkTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("interp-ens-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static double[,] Points(int n, int seed)
    {
        var r = new Random(seed);
        var p = new double[n, 2];
        for (int i = 0; i < n; i++) { p[i, 0] = r.NextDouble() * 2 - 1; p[i, 1] = r.NextDouble() * 2 - 1; }
        return p;
    }

    [Theory]
    [InlineData("article")]
    [InlineData("dense")]
    [InlineData("random")]
    [InlineData("small")]
    public void Forward_and_trace_equal_a_plain_neuron_by_neuron_evaluation(string preset)
    {
        var t = preset switch
        {
            "article" => SynapseTopology.Article(),
            "dense" => SynapseTopology.Dense(),
            "random" => SynapseTopology.RandomDag(seed: 5),
            _ => PlainNetwork.SmallDag(2),
        };
        using var net = new CoordinateNetwork(t, seed: 11, dtype: ScalarType.Float64);
        var w = net.GetWeights();
        var b = net.GetBiases();
        var points = Points(20, 1);
        using var x = tensor(points, dtype: float64);
        using var forward = net.forward(x);
        using var trace = net.Trace(x);
        var f = forward.data<double>().ToArray();
        var acts = trace.Activations.data<double>().ToArray();
        for (int p = 0; p < 20; p++)
        {
            var expected = PlainNetwork.Activations(t, w, b, new[] { points[p, 0], points[p, 1] });
            for (int node = 0; node < t.NodeCount; node++) Assert.Equal(expected[node], acts[p * t.NodeCount + node], 12);
            for (int c = 0; c < t.OutputCount; c++) Assert.Equal(expected[t.InputCount + t.OutputNeurons[c]], f[p * t.OutputCount + c], 12);
        }
    }

    [Fact]
    public void Forward_accepts_leading_batch_dimensions_and_is_differentiable_in_weights_biases_and_coordinates()
    {
        using var net = new CoordinateNetwork(SynapseTopology.Article(), seed: 1);
        using var x = rand(new long[] { 2, 5, 2 }).requires_grad_(true);
        using var y = net.forward(x);
        Assert.Equal(new long[] { 2, 5, 3 }, y.shape);
        var grads = autograd.grad(new[] { y.sum() }, new Tensor[] { net.Weights, net.Biases, x });
        Assert.Equal(new long[] { 460 }, grads[0].shape);
        Assert.Equal(new long[] { 37 }, grads[1].shape);
        Assert.Equal(new long[] { 2, 5, 2 }, grads[2].shape);
        Assert.True(grads[0].abs().sum().ToDouble() > 0);
        // The parameters are registered (an optimiser finds them by name).
        Assert.Equal(new[] { "weights", "biases" }, net.named_parameters().Select(p => p.name).ToArray());
    }

    [Fact]
    public void Save_and_load_keep_numbering_and_values_exactly()
    {
        using var net = new CoordinateNetwork(SynapseTopology.RandomDag(seed: 9), seed: 3, dtype: ScalarType.Float64);
        var path = Path.Combine(dir, "net.json");
        net.Save(path);
        using var back = CoordinateNetwork.Load(path, ScalarType.Float64);
        Assert.Equal(net.Topology.Sources, back.Topology.Sources);
        Assert.Equal(net.Topology.Targets, back.Topology.Targets);
        Assert.Equal(net.Topology.OutputNeurons, back.Topology.OutputNeurons);
        Assert.Equal(net.GetWeights(), back.GetWeights());
        Assert.Equal(net.GetBiases(), back.GetBiases());
        using var x = PixelGrid.Square(8).Coordinates(ScalarType.Float64);
        Assert.True(net.forward(x).equal(back.forward(x)).all().item<bool>());
    }

    [Fact]
    public void Loading_a_file_that_is_not_a_network_fails_clearly()
    {
        var path = Path.Combine(dir, "bad.json");
        File.WriteAllText(path, "{\"format\": \"something else\"}");
        Assert.Contains("not a saved coordinate network", Assert.Throws<InvalidDataException>(() => CoordinateNetwork.Load(path)).Message);
        File.WriteAllText(path, "not json");
        Assert.Throws<InvalidDataException>(() => CoordinateNetwork.Load(path));
        Assert.Throws<FileNotFoundException>(() => CoordinateNetwork.Load(Path.Combine(dir, "missing.json")));
        Assert.Contains("bad.json", Assert.Throws<InvalidDataException>(() => CoordinateNetwork.Load(path)).Message);
    }

    [Fact]
    public void A_network_loads_from_a_stream_as_from_its_file_and_errors_name_the_source()
    {
        using var net = new CoordinateNetwork(SynapseTopology.RandomDag(seed: 9), seed: 3, dtype: ScalarType.Float64);
        var path = Path.Combine(dir, "net.json");
        net.Save(path);
        using (var stream = new MemoryStream(File.ReadAllBytes(path)))
        using (var back = CoordinateNetwork.Load(stream, "in memory", ScalarType.Float64))
        {
            Assert.Equal(net.Topology.Sources, back.Topology.Sources);
            Assert.Equal(net.GetWeights(), back.GetWeights());
            Assert.Equal(net.GetBiases(), back.GetBiases());
        }
        using var bad = new MemoryStream(System.Text.Encoding.UTF8.GetBytes("{\"format\": \"something else\"}"));
        var e = Assert.Throws<InvalidDataException>(() => CoordinateNetwork.Load(bad, "resource x.json"));
        Assert.Contains("resource x.json", e.Message);
        Assert.Contains("not a saved coordinate network", e.Message);
        using var notJson = new MemoryStream(System.Text.Encoding.UTF8.GetBytes("not json"));
        Assert.Contains("resource y.json", Assert.Throws<InvalidDataException>(() => CoordinateNetwork.Load(notJson, "resource y.json")).Message);
    }

    [Fact]
    public void Wrong_coordinates_and_values_are_refused_with_the_expected_shape()
    {
        using var net = new CoordinateNetwork(SynapseTopology.Article());
        using var three = zeros(4, 3);
        var e = Assert.Throws<ArgumentException>(() => net.forward(three));
        Assert.Contains("[..., 2]", e.Message);
        Assert.Contains("[4, 3]", e.Message);
        Assert.Contains("460", Assert.Throws<ArgumentException>(() => net.SetWeights(new double[5])).Message);
        Assert.Throws<ArgumentException>(() => new CoordinateNetwork(SynapseTopology.Article(), new double[460], new double[36]));
        var nan = new double[460];
        nan[3] = double.NaN;
        Assert.Contains("finite", Assert.Throws<ArgumentException>(() => net.SetWeights(nan)).Message);
    }

    [Fact]
    public void Perturb_restores_the_exact_weights()
    {
        using var net = new CoordinateNetwork(SynapseTopology.Article(), seed: 4);
        var before = net.GetWeights();
        using (net.Perturb(17, 0.3))
        {
            var during = net.GetWeights();
            Assert.Equal(before[17] + 0.3, during[17], 6);
            Assert.Equal(before[16], during[16]);
        }
        Assert.Equal(before, net.GetWeights());
    }

    [Fact]
    public void Initial_weights_follow_the_seed_and_the_fan_in_scale()
    {
        using var a = new CoordinateNetwork(SynapseTopology.Article(), seed: 7, dtype: ScalarType.Float64);
        using var b = new CoordinateNetwork(SynapseTopology.Article(), seed: 7, dtype: ScalarType.Float64);
        using var c = new CoordinateNetwork(SynapseTopology.Article(), seed: 8, dtype: ScalarType.Float64);
        Assert.Equal(a.GetWeights(), b.GetWeights());
        Assert.NotEqual(a.GetWeights(), c.GetWeights());
        // w·√fan_in ~ N(0, 1): mean square close to 1 over 460 draws.
        var t = a.Topology;
        var w = a.GetWeights();
        var ms = Enumerable.Range(0, t.SynapseCount).Average(s => w[s] * w[s] * t.FanIn(t.TargetNeuron(s)));
        Assert.InRange(ms, 0.8, 1.2);
    }

    [Fact]
    public void Pixel_grid_coordinates_are_pixel_centres_in_minus_one_to_one()
    {
        var g = new PixelGrid(4, 2);
        using var c = g.Coordinates(ScalarType.Float64);
        var v = c.data<double>().ToArray();
        // Row 0: y = −1 + 1/2 = −0.5; columns x = −0.75, −0.25, 0.25, 0.75.
        Assert.Equal(new[] { -0.75, -0.5, -0.25, -0.5, 0.25, -0.5, 0.75, -0.5 }, v.Take(8).ToArray());
        Assert.Equal(0.5, v[9], 12);
        Assert.Throws<ArgumentOutOfRangeException>(() => new PixelGrid(0, 3));
    }
}
