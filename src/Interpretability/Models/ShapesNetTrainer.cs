using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Models;

/// <summary>How <see cref="ShapesNetTrainer"/> trains: the recipe of the shipped weights by default.</summary>
/// <param name="TrainCount">Training images drawn with <see cref="ShapesDataset.TrainSeed"/>.</param>
/// <param name="TestCount">Test images drawn with <see cref="ShapesDataset.TestSeed"/>.</param>
/// <param name="Epochs">Passes over the training images.</param>
/// <param name="BatchSize">Images per step.</param>
/// <param name="LearningRate">Adam's peak learning rate (cosine decay to 5% over the run).</param>
/// <param name="Seed">Seed of the initialisation and of the batch order.</param>
public sealed record ShapesNetTrainingOptions(int TrainCount = 10000, int TestCount = 1000, int Epochs = 15, int BatchSize = 64,
    double LearningRate = 2e-3, long Seed = 0);

/// <summary>Progress of training: epoch, mean loss and (after the epoch) test accuracy.</summary>
/// <param name="Epoch">Epoch just finished (1-based).</param>
/// <param name="Loss">Mean training cross-entropy of the epoch.</param>
/// <param name="TestAccuracy">Test accuracy after the epoch, in [0, 1].</param>
public sealed record ShapesNetEpoch(int Epoch, double Loss, double TestAccuracy);

/// <summary>A trained ShapesNet with its training record.</summary>
/// <param name="Model">The trained model, in eval mode (the caller disposes it).</param>
/// <param name="TestAccuracy">Final test accuracy in [0, 1].</param>
/// <param name="Epochs">Per-epoch loss and accuracy.</param>
/// <param name="Elapsed">Wall-clock training time (drawing the data included).</param>
public sealed record ShapesNetTrainingResult(ShapesNet Model, double TestAccuracy, IReadOnlyList<ShapesNetEpoch> Epochs, TimeSpan Elapsed);

/// <summary>
/// Trains <see cref="ShapesNet"/> on <see cref="ShapesDataset"/> deterministically: seeded initialisation, seeded batch
/// order, no dropout; with a fixed thread count the run repeats bit for bit on the same machine. The shipped weights
/// (<see cref="ModelZoo.ShapesNet"/>) come from the default options.
/// </summary>
public static class ShapesNetTrainer
{
    /// <summary>Trains a ShapesNet from scratch.</summary>
    /// <param name="options">Recipe; default: the shipped weights' recipe.</param>
    /// <param name="progress">Receives every epoch's loss and test accuracy.</param>
    /// <param name="cancellation">Stops between steps.</param>
    public static ShapesNetTrainingResult Train(ShapesNetTrainingOptions? options = null, IProgress<ShapesNetEpoch>? progress = null,
        CancellationToken cancellation = default)
    {
        CpuConvolutionCheck.Ensure();
        options ??= new ShapesNetTrainingOptions();
        if (options.TrainCount < options.BatchSize) throw new ArgumentOutOfRangeException(nameof(options), options.TrainCount, "TrainCount must be at least BatchSize.");
        if (options.Epochs < 1) throw new ArgumentOutOfRangeException(nameof(options), options.Epochs, "Epochs must be at least 1.");
        if (options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, "BatchSize must be at least 1.");
        var clock = Stopwatch.StartNew();
        using var train = ShapesDataset.Generate(options.TrainCount, ShapesDataset.TrainSeed);
        using var test = ShapesDataset.Generate(options.TestCount, ShapesDataset.TestSeed);
        var model = new ShapesNet(options.Seed, ShapesDataset.ClassNames.Count);
        try
        {
            using var optimizer = optim.Adam(model.parameters(), options.LearningRate);
            var order = Enumerable.Range(0, options.TrainCount).ToArray();
            var rng = new Random((int)options.Seed);
            var stepsPerEpoch = options.TrainCount / options.BatchSize;
            var totalSteps = stepsPerEpoch * options.Epochs;
            var history = new List<ShapesNetEpoch>();
            var step = 0;
            for (int epoch = 1; epoch <= options.Epochs; epoch++)
            {
                model.train();
                rng.Shuffle(order);
                double lossSum = 0;
                for (int b = 0; b < stepsPerEpoch; b++)
                {
                    cancellation.ThrowIfCancellationRequested();
                    using var scope = NewDisposeScope();
                    // Cosine decay of the learning rate to 5% of its peak.
                    var lr = options.LearningRate * (0.05 + 0.95 * 0.5 * (1 + Math.Cos(Math.PI * step / totalSteps)));
                    foreach (var g in optimizer.ParamGroups) g.LearningRate = lr;
                    var index = tensor(order.AsSpan(b * options.BatchSize, options.BatchSize).ToArray().Select(i => (long)i).ToArray());
                    var x = train.Images.index_select(0, index);
                    var y = train.Labels.index_select(0, index);
                    optimizer.zero_grad();
                    var loss = nn.functional.cross_entropy(model.call(x), y);
                    loss.backward();
                    optimizer.step();
                    lossSum += loss.item<float>();
                    step++;
                }
                var accuracy = Accuracy(model, test.Images, test.Labels);
                var record = new ShapesNetEpoch(epoch, lossSum / stepsPerEpoch, accuracy);
                history.Add(record);
                progress?.Report(record);
            }
            model.eval();
            return new ShapesNetTrainingResult(model, history[^1].TestAccuracy, history, clock.Elapsed);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Top-1 accuracy of <paramref name="model"/> on images <c>[N, 3, H, W]</c> with labels <c>[N]</c>, in batches of
    /// 250.
    /// </summary>
    /// <param name="model">A classifier returning logits <c>[batch, classes]</c>.</param>
    /// <param name="images"><c>[N, 3, H, W]</c>, on the model's device.</param>
    /// <param name="labels"><c>[N]</c> int64 class indices, on the model's device.</param>
    public static double Accuracy(nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (images.shape[0] != labels.shape[0])
            throw new ArgumentException($"labels must have one entry per image ({images.shape[0]}); got {labels.shape[0]}.", nameof(labels));
        var wasTraining = model.training;
        model.eval();
        long correct = 0;
        using (no_grad())
        {
            for (long start = 0; start < images.shape[0]; start += 250)
            {
                using var scope = NewDisposeScope();
                var end = Math.Min(images.shape[0], start + 250);
                var logits = model.call(images[TensorIndex.Slice(start, end)]);
                correct += logits.argmax(1).eq(labels[TensorIndex.Slice(start, end)]).sum().item<long>();
            }
        }
        if (wasTraining) model.train();
        return (double)correct / images.shape[0];
    }
}
