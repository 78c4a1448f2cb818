using Interpretability.Ensembles;
using Interpretability.Nn;
using Interpretability.Studies;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Tests.Ensembles;

public class BirdAndTrainingTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("interp-bird-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void The_bird_has_every_part_is_deterministic_and_its_colours_are_in_range()
    {
        using var a = ProceduralBird.Draw(64, 64);
        using var b = ProceduralBird.Draw(64, 64);
        Assert.True(a.Image.equal(b.Image).all().item<bool>());
        Assert.True(a.Labels.equal(b.Labels).all().item<bool>());
        Assert.Equal(new long[] { 3, 64, 64 }, a.Image.shape);
        Assert.InRange(a.Image.min().ToDouble(), 0, 1);
        Assert.InRange(a.Image.max().ToDouble(), 0, 1);
        foreach (var part in Enum.GetValues<BirdPart>()) Assert.True(a.PixelCount(part) > 0, $"{part} has no pixel");
        // Every pixel has exactly one label.
        Assert.Equal(64 * 64, Enum.GetValues<BirdPart>().Sum(p => a.PixelCount(p)));
        // The patch under the wing lies on the body, below the wing (larger y = lower).
        using var coords = a.Grid.Coordinates();
        double MeanY(BirdPart p) { using var m = a.Mask(p).reshape(-1); return coords.select(1, 1)[m].mean().ToDouble(); }
        Assert.True(MeanY(BirdPart.UnderWingPatch) > MeanY(BirdPart.Wing));
    }

    [Fact]
    public void The_bird_is_the_same_picture_at_any_size()
    {
        // The 16×16 pixel (r, c) has the same centre as the 48×48 pixel (3r + 1, 3c + 1): the shapes are defined in
        // coordinates, so the labels there agree (up to rounding of a centre that falls exactly on an edge).
        using var small = ProceduralBird.Draw(16, 16);
        using var large = ProceduralBird.Draw(48, 48);
        var ls = small.Labels.data<long>().ToArray();
        var ll = large.Labels.data<long>().ToArray();
        int agree = 0;
        for (int r = 0; r < 16; r++)
            for (int c = 0; c < 16; c++)
                if (ls[r * 16 + c] == ll[(3 * r + 1) * 48 + 3 * c + 1]) agree++;                 // same pixel centre
        Assert.True(agree >= 254, $"{agree}/256 labels agree");
        Assert.Throws<ArgumentOutOfRangeException>(() => ProceduralBird.Draw(4, 64));
    }

    [Fact]
    public void Green_mask_of_the_bird_picks_out_body_head_and_tail()
    {
        using var bird = ProceduralBird.Draw(48, 48);
        var g = bird.Grid;
        using var pixels = g.ToPixels(bird.Image);
        using var m = new SoftColourMask().Apply(pixels);
        double Mean(BirdPart p) { using var k = bird.Mask(p).reshape(-1); return m[k].mean().ToDouble(); }
        foreach (var p in new[] { BirdPart.Body, BirdPart.Head, BirdPart.Tail }) Assert.True(Mean(p) > 0.8, $"{p}: {Mean(p)}");
        foreach (var p in new[] { BirdPart.Sky, BirdPart.Ground, BirdPart.Wing }) Assert.True(Mean(p) < 0.1, $"{p}: {Mean(p)}");
        // The cream patch is not green either (its small area is mostly edge pixels blended with the body: test its centre).
        var centre = m.reshape(48, 48)[26, 22].ToDouble();
        Assert.True(bird.Labels[26, 22].ToInt64() == (long)BirdPart.UnderWingPatch && centre < 0.1, $"patch centre: {centre}");
    }

    [Theory]
    [InlineData(CoordinateOptimizer.Adam)]
    [InlineData(CoordinateOptimizer.Sgd)]
    public void Training_lowers_the_error_and_is_deterministic_for_a_seed(CoordinateOptimizer optimizer)
    {
        using var bird = ProceduralBird.Draw(16, 16);
        var options = new TrainingOptions(Epochs: 40, BatchSize: 64, LearningRate: optimizer == CoordinateOptimizer.Adam ? 1e-2 : 0.1, Optimizer: optimizer, Seed: 3);
        using var a = new CoordinateNetwork(SynapseTopology.Article(), seed: 1);
        var before = CoordinateTrainer.Rmse(a, bird.Grid, bird.Image);
        var result = CoordinateTrainer.Train(a, bird.Image, options);
        Assert.Equal(40, result.EpochRmse.Count);
        Assert.Equal(40 * 4, result.Steps);
        Assert.True(result.FinalRmse < 0.8 * before, $"{optimizer}: {before} → {result.FinalRmse}");
        Assert.Equal(CoordinateTrainer.Rmse(a, bird.Grid, bird.Image), result.FinalRmse, 12);
        using var b = new CoordinateNetwork(SynapseTopology.Article(), seed: 1);
        CoordinateTrainer.Train(b, bird.Image, options);
        Assert.Equal(a.GetWeights(), b.GetWeights());
    }

    [Fact]
    public void Training_restores_the_thread_setting_and_stops_on_cancellation()
    {
        using var bird = ProceduralBird.Draw(16, 16);
        using var net = new CoordinateNetwork(SynapseTopology.Article());
        var threads = torch.get_num_threads();
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => CoordinateTrainer.Train(net, bird.Image, new TrainingOptions(Epochs: 5), cancellation: cancel.Token));
        Assert.Equal(threads, torch.get_num_threads());
    }

    [Fact]
    public void A_target_of_the_wrong_shape_or_range_is_refused()
    {
        using var net = new CoordinateNetwork(SynapseTopology.Article());
        using var gray = zeros(1, 8, 8);
        Assert.Contains("[3, H, W]", Assert.Throws<ArgumentException>(() => CoordinateTrainer.Train(net, gray)).Message);
        using var bright = ones(3, 8, 8) * 2;
        Assert.Contains("[0, 1]", Assert.Throws<ArgumentException>(() => CoordinateTrainer.Train(net, bright)).Message);
    }

    [Fact]
    public void A_picture_that_cannot_be_read_is_a_clear_error_naming_the_file()
    {
        var path = Path.Combine(dir, "broken.png");
        File.WriteAllBytes(path, new byte[] { 0x89, 0x50, 0x4E, 0x47, 1, 2, 3, 4, 5 });
        var e = Assert.Throws<ArgumentException>(() => EnsemblesStudy.LoadTarget(path, 32));
        Assert.Contains("broken.png", e.Message);
        Assert.Throws<FileNotFoundException>(() => EnsemblesStudy.LoadTarget(Path.Combine(dir, "missing.png"), 32));
    }

    [Fact]
    public void A_readable_picture_is_resized_to_the_asked_longer_side()
    {
        var path = Path.Combine(dir, "wide.png");
        using (var img = rand(3, 20, 40)) Interpretability.Imaging.Png.Save(img, path);
        using var t = EnsemblesStudy.LoadTarget(path, 16);
        Assert.Equal(new long[] { 3, 8, 16 }, t.shape);
    }
}
