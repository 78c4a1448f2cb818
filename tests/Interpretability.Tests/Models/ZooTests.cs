using FsCheck.Xunit;
using Interpretability.Cli;
using Interpretability.Models;
using Interpretability.Probing;
using Interpretability.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Tests.Models;

public sealed class ShapesDatasetTests
{
    [Fact]
    public void SameSeedDrawsTheSameImagesAndClassesAreBalanced()
    {
        using var a = ShapesDataset.Generate(44, 5);
        using var b = ShapesDataset.Generate(44, 5);
        using var c = ShapesDataset.Generate(44, 6);
        Assert.Equal(new long[] { 44, 3, 64, 64 }, a.Images.shape);
        Assert.True(a.Images.eq(b.Images).all().item<bool>());
        Assert.False(a.Images.eq(c.Images).all().item<bool>());
        Assert.True(a.Images.min().item<float>() >= 0 && a.Images.max().item<float>() <= 1);
        var counts = a.Labels.data<long>().GroupBy(l => l).Select(g => g.Count()).ToList();
        Assert.Equal(11, counts.Count);
        Assert.All(counts, n => Assert.Equal(4, n));
        Assert.All(a.Geometry, g => Assert.Equal(ShapesDataset.ClassNames[g.Class], g.ClassName));
        for (int i = 0; i < 44; i++) Assert.Equal(a.Geometry[i].Class, (int)a.Labels[i].item<long>());
        // Prefixes agree: the first 20 images of a 44-image split are the 20-image split.
        using var prefix = ShapesDataset.Generate(20, 5);
        Assert.True(prefix.Images.eq(a.Images.narrow(0, 0, 20)).all().item<bool>());
    }

    [Property(MaxTest = 40)]
    public void CirclesAndArcsLieAtTheirRadiusWithinAPixel(int seed, bool arc)
    {
        // For any seed: every covered pixel of an outlined circle (or an arc) is at the recorded radius from the
        // recorded centre within half the stroke plus a pixel; the coverage-weighted mean distance is the radius within a pixel.
        var coverage = new float[64 * 64];
        ShapeGeometry g;
        var r = new Random(seed);
        do g = ShapesDataset.DrawOne(arc ? 2 : 0, 64, r, coverage); while (g.Filled);
        double weighted = 0, total = 0;
        for (int y = 0; y < 64; y++)
        for (int x = 0; x < 64; x++)
        {
            var c = coverage[y * 64 + x];
            if (c <= 0) continue;
            var d = Math.Sqrt(Math.Pow(x + 0.5 - g.CenterX, 2) + Math.Pow(y + 0.5 - g.CenterY, 2));
            Assert.InRange(d, g.Scale - g.StrokeWidth / 2 - 1.01, g.Scale + g.StrokeWidth / 2 + 1.01);
            weighted += c * d;
            total += c;
        }
        Assert.InRange(weighted / total, g.Scale - 1, g.Scale + 1);
    }

    [Fact]
    public void ALineRunsThroughItsCentreAtItsRotation()
    {
        var coverage = new float[64 * 64];
        var g = ShapesDataset.DrawOne(5, 64, new Random(11), coverage);
        // Screen y grows downwards; the rotation is counter-clockwise on screen.
        double dx = Math.Cos(g.Rotation), dy = -Math.Sin(g.Rotation);
        for (int y = 0; y < 64; y++)
        for (int x = 0; x < 64; x++)
        {
            if (coverage[y * 64 + x] <= 0) continue;
            double px = x + 0.5 - g.CenterX, py = y + 0.5 - g.CenterY;
            var across = Math.Abs(px * dy - py * dx);
            var along = Math.Abs(px * dx + py * dy);
            Assert.True(across <= g.StrokeWidth / 2 + 1.01, $"pixel ({x},{y}) is {across:F2} px off the line");
            Assert.True(along <= g.Scale + g.StrokeWidth / 2 + 1.01, $"pixel ({x},{y}) is {along:F2} px along, beyond the end");
        }
    }

    [Fact]
    public void CanonicalOutlinesHaveTheirDefiningGeometry()
    {
        var circle = ShapesDataset.CanonicalOutline("circle")[0].Points;
        Assert.All(circle, p => Assert.Equal(1, Math.Sqrt(p.X * p.X + p.Y * p.Y), 9));
        var square = ShapesDataset.CanonicalOutline("square")[0].Points;
        Assert.Equal(4, square.Count);
        var star = ShapesDataset.CanonicalOutline("star")[0].Points;
        Assert.Equal(10, star.Count);
        var s = ShapesDataset.CanonicalOutline("s_curve")[0].Points;
        Assert.Equal((0, -1), (Math.Round(s[0].X, 9), Math.Round(s[0].Y, 9)));
        Assert.Equal((0, 1), (Math.Round(s[^1].X, 9), Math.Round(s[^1].Y, 9)));
        for (int i = 1; i < s.Count; i++)   // a continuous polyline: no jump between consecutive points
            Assert.True(Math.Sqrt(Math.Pow(s[i].X - s[i - 1].X, 2) + Math.Pow(s[i].Y - s[i - 1].Y, 2)) < 0.1);
    }

    [Fact]
    public void BadArgumentsNameTheParameter()
    {
        Assert.Equal("count", Assert.Throws<ArgumentOutOfRangeException>(() => ShapesDataset.Generate(0, 1)).ParamName);
        Assert.Equal("size", Assert.Throws<ArgumentOutOfRangeException>(() => ShapesDataset.Generate(4, 1, size: 8)).ParamName);
        Assert.Equal("className", Assert.Throws<ArgumentException>(() => ShapesDataset.CanonicalOutline("hexagon")).ParamName);
    }
}

public sealed class ZooTests
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    [Fact]
    public void ShapesNetHasTheDocumentedLayersAndShapes()
    {
        using var net = new ShapesNet();
        var names = net.named_children().Select(c => c.name).ToArray();
        Assert.Equal(new[] { "conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "conv3", "relu3", "pool3", "conv4", "relu4", "gap", "fc" }, names);
        using var x = rand(2, 3, 64, 64);
        using var capture = ActivationRecorder.Capture(net, x, new[] { "relu2", "relu3", "relu4" });
        Assert.Equal(new long[] { 2, 32, 32, 32 }, capture["relu2"].shape);
        Assert.Equal(new long[] { 2, 64, 16, 16 }, capture["relu3"].shape);
        Assert.Equal(new long[] { 2, 64, 8, 8 }, capture["relu4"].shape);
        Assert.Equal(new long[] { 2, 11 }, capture.ModelOutput!.shape);
        var e = Assert.Throws<ArgumentException>(() => net.call(rand(2, 1, 64, 64)));
        Assert.Contains("[2, 1, 64, 64]", e.Message);
    }

    [Fact]
    public void ShippedShapesNetReachesNinetyPercentOnTheTestSplit()
    {
        using var net = ModelZoo.ShapesNet();
        Assert.False(net.training);
        using var test = ShapesDataset.Test(1000);
        var accuracy = ShapesNetTrainer.Accuracy(net, test.Images, test.Labels);
        Assert.True(accuracy >= 0.9, $"shipped ShapesNet test accuracy {accuracy:P1}");
        Assert.Equal(ModelZoo.ShapesNetAccuracy, accuracy, 3);   // the recorded figure is the one measured
    }

    [Fact]
    public void OpenResolvesZooNamesAndFilesWithClearErrors()
    {
        using (var m = ModelZoo.Open("zoo:shapesnet")) Assert.IsType<ShapesNet>(m);
        using (var bird = ModelZoo.Open("zoo:coordnet-bird"))
        using (var y = bird.call(zeros(5, 2)))
            Assert.Equal(new long[] { 5, 3 }, y.shape);
        var unknown = Assert.Throws<ArgumentException>(() => ModelZoo.Open("zoo:resnet"));
        Assert.Contains("zoo:shapesnet", unknown.Message);
        var missing = Assert.Throws<FileNotFoundException>(() => ModelZoo.Open("/nonexistent/model.pt"));
        Assert.Contains("/nonexistent/model.pt", missing.Message);
    }

    [Fact]
    public void WeightFilesRoundTripAndBadFilesAreNamed()
    {
        var dir = Directory.CreateTempSubdirectory("zoo-").FullName;
        using var source = new ShapesNet(seed: 3);
        var path = Path.Combine(dir, "net.dat");
        source.save(path);
        using (var loaded = ModelZoo.Open(path))
        using (var x = rand(1, 3, 64, 64))
        using (var a = source.call(x))
        using (var b = loaded.call(x))
            Assert.True(a.allclose(b));

        var corrupt = Path.Combine(dir, "corrupt.dat");
        File.WriteAllBytes(corrupt, File.ReadAllBytes(path).Take(1000).ToArray());
        var e1 = Assert.Throws<InvalidDataException>(() => ModelZoo.Open(corrupt));
        Assert.Contains("corrupt.dat", e1.Message);

        // MLP weights do not say which activation the MLP had: refused with the reason, not guessed.
        var mlpPath = Path.Combine(dir, "mlp.dat");
        using (var mlp = ReferenceModels.Mlp(4, new[] { 3, 5 }, 2, seed: 9, activation: "tanh")) mlp.save(mlpPath);
        var eMlp = Assert.Throws<InvalidDataException>(() => ModelZoo.Load(mlpPath));
        Assert.Contains("ReLU or Tanh", eMlp.Message);

        // An architecture the library does not know: the error names the file and lists the file's parameters.
        var other = Path.Combine(dir, "other.dat");
        using (var unknown = torch.nn.Sequential(("features", torch.nn.Conv2d(3, 4, 3)), ("head", torch.nn.Linear(4, 2)))) unknown.save(other);
        var e2 = Assert.Throws<InvalidDataException>(() => ModelZoo.Open(other));
        Assert.Contains("other.dat", e2.Message);
        Assert.Contains("features.weight [4, 3, 3, 3]", e2.Message);

        // Same names, another shape: the parameter is named, and the target keeps its weights.
        using var wide = new ShapesNet(seed: 4, classes: 5);
        var widePath = Path.Combine(dir, "wide.dat");
        wide.save(widePath);
        using var target = new ShapesNet(seed: 5);
        var before = target.parameters().Select(p => p.clone()).ToList();
        var e3 = Assert.Throws<InvalidDataException>(() => TorchSharpWeights.Load(target, widePath));
        Assert.Contains("fc.weight", e3.Message);
        Assert.All(target.parameters().Zip(before), pair => Assert.True(pair.First.eq(pair.Second).all().item<bool>()));
    }

    [Fact]
    public void TorchScriptModelsRunInputLevelMethodsAndRefuseLayerHooksClearly()
    {
        using var model = ModelZoo.Open(Fixture("linrelu.script.dat"));
        Assert.True(TorchScriptModel.IsTorchScript(model));
        using var x = randn(4, 10).requires_grad_(true);
        using var y = model.call(x);
        Assert.Equal(new long[] { 4, 6 }, y.shape);
        // Saliency (an input gradient) works through TorchScript.
        var grad = autograd.grad(new[] { y.sum() }, new[] { x })[0];
        Assert.Equal(x.shape, grad.shape);
        // Its TorchScript layers cannot be hooked, and the error says why.
        var paths = model.named_modules().Select(m => m.name).Where(n => n.StartsWith("script.")).ToList();
        Assert.NotEmpty(paths);
        var e = Assert.Throws<ArgumentException>(() => LayerPath.FindHookable(model, paths[0]));
        Assert.Contains("TorchScript", e.Message);

        Assert.Throws<FileNotFoundException>(() => TorchScriptModel.Load("/nonexistent/x.pt"));
        var notScript = Path.Combine(Directory.CreateTempSubdirectory("ts-").FullName, "noise.pt");
        File.WriteAllBytes(notScript, new byte[] { 1, 2, 3, 4, 5 });
        var e2 = Assert.Throws<InvalidDataException>(() => TorchScriptModel.Load(notScript));
        Assert.Contains("noise.pt", e2.Message);
    }

    [Fact]
    public void ModelsCommandWritesTheZooTableAndPictures()
    {
        var dir = Directory.CreateTempSubdirectory("models-").FullName;
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = InterpCli.Run(new[] { "models", "--out", dir, "--quick", "--quiet" }, stdout, stderr);
        Assert.True(code == 0, stderr.ToString());
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "metrics.json")))!;
        Assert.True(json["shapesnet_test_accuracy"]!.GetValue<double>() >= 0.9);
        Assert.True(json["shapesnet_load_ms"]!.GetValue<double>() > 0);
        Assert.Equal(2, json["models"]!.AsArray().Count);
        Assert.True(File.Exists(Path.Combine(dir, "dataset_samples.png")));
        Assert.True(File.Exists(Path.Combine(dir, "confusion.png")));
    }
}

/// <summary>
/// Retrains ShapesNet from scratch with the shipped recipe (minutes): the recipe, not just the bits, reaches the goal. It
/// runs <c>interp models --train</c> in a process of its own, which owns its oneDNN switch (the CLI keeps oneDNN for
/// ShapesNet where its layers verify), so the rest of the suite runs beside it while the test awaits the process.
/// </summary>
public sealed class ShapesNetRetrainingTests
{
    [Fact]
    public async Task RetrainingFromScratchReachesNinetyPercent()
    {
        var dir = Directory.CreateTempSubdirectory("retrain-").FullName;
        var (code, output) = await CliProcess.RunAsync(TimeSpan.FromMinutes(20), "models", "--train", "--out", dir, "--quiet", "--threads", "2");
        Assert.True(code == 0, $"interp models --train exited {code}:\n{output}");
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "metrics.json")))!;
        var accuracy = json["train_test_accuracy"]!.GetValue<double>();
        Assert.True(accuracy >= 0.9, $"retrained ShapesNet: {accuracy:P1} after {json["train_seconds"]} s");
        Assert.True(File.Exists(Path.Combine(dir, "shapesnet.weights")));
    }
}
