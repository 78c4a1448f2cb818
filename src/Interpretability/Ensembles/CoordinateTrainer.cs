using System.Diagnostics;
using Interpretability.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Interpretability.Ensembles;

/// <summary>The optimiser of <see cref="CoordinateTrainer"/>.</summary>
public enum CoordinateOptimizer
{
    /// <summary>
    /// Adam (Kingma &amp; Ba 2015, "Adam: A method for stochastic optimization", arXiv:1412.6980), β = (0.9, 0.999).
    /// </summary>
    Adam,
    /// <summary>Plain stochastic gradient descent (optionally with momentum).</summary>
    Sgd,
}

/// <summary>
/// Training of a coordinate network to a picture. Our defaults: Adam, learning rate 3e−3, mini-batches of 1024 pixels,
/// L2 weight decay 1e−5 as a stand-in for the unnamed "energy-limiting" algorithm of the Habr article on synapse
/// ensembles (2015, https://habr.com/ru/articles/249031/); plus a cosine decay of the learning rate to
/// <see cref="FinalLearningRateFraction"/> of its start over the run (our choice: the last epochs settle edges instead
/// of jittering them).
/// </summary>
/// <param name="Epochs">Passes over all pixels (each pixel once per epoch, in a seeded random order).</param>
/// <param name="BatchSize">Pixels per step.</param>
/// <param name="LearningRate">Initial learning rate.</param>
/// <param name="Optimizer">Adam or SGD.</param>
/// <param name="Momentum">SGD momentum (ignored by Adam).</param>
/// <param name="WeightDecay">L2 penalty on weights and biases.</param>
/// <param name="FinalLearningRateFraction">Learning rate at the end as a fraction of the start (1 = constant).</param>
/// <param name="Seed">Seed of the batch order.</param>
public sealed record TrainingOptions(int Epochs = 1500, int BatchSize = 1024, double LearningRate = 3e-3,
    CoordinateOptimizer Optimizer = CoordinateOptimizer.Adam, double Momentum = 0.9, double WeightDecay = 1e-5,
    double FinalLearningRateFraction = 0.1, int Seed = 0)
{
    internal void Validate()
    {
        if (Epochs < 1) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, "Epochs must be at least 1.");
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be at least 1.");
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "LearningRate must be positive.");
        if (!(Momentum >= 0 && Momentum < 1)) throw new ArgumentOutOfRangeException(nameof(Momentum), Momentum, "Momentum must be in [0, 1).");
        if (!(WeightDecay >= 0) || !double.IsFinite(WeightDecay)) throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "WeightDecay must not be negative.");
        if (!(FinalLearningRateFraction > 0 && FinalLearningRateFraction <= 1))
            throw new ArgumentOutOfRangeException(nameof(FinalLearningRateFraction), FinalLearningRateFraction, "FinalLearningRateFraction must be in (0, 1].");
    }
}

/// <summary>Progress of a training run.</summary>
/// <param name="Epoch">Epochs completed.</param>
/// <param name="Epochs">Epochs in total.</param>
/// <param name="Rmse">Root-mean-square error of the last epoch, colours in [0, 1].</param>
public sealed record TrainingProgress(int Epoch, int Epochs, double Rmse);

/// <summary>What a training run did.</summary>
/// <param name="EpochRmse">Root-mean-square error of each epoch over its mini-batches (weights moving during the epoch), colours in [0, 1].</param>
/// <param name="FinalRmse">Root-mean-square error of the final network over the whole picture, colours in [0, 1].</param>
/// <param name="Steps">Optimiser steps taken.</param>
/// <param name="Seconds">Wall-clock time.</param>
public sealed record TrainingResult(IReadOnlyList<double> EpochRmse, double FinalRmse, long Steps, double Seconds);

/// <summary>
/// Mini-batch back-propagation of a <see cref="CoordinateNetwork"/> to a target picture (the training the Habr article
/// on synapse ensembles, https://habr.com/ru/articles/249031/, names: "back-propagation, mini-batch variant"): the loss
/// is the mean squared error over pixels and channels with colours in (−1, 1); RMSE is reported with colours in [0, 1]
/// (half the (−1, 1) figure).
/// </summary>
public static class CoordinateTrainer
{
    /// <summary>Trains <paramref name="network"/> in place.</summary>
    /// <param name="network">The network; its outputs must match the target's channels.</param>
    /// <param name="target"><c>[C, H, W]</c> in [0, 1] (C = the network's outputs), any dtype and device (copied to the
    /// network's).</param>
    /// <param name="options">Epochs, batch size, optimiser and schedule.</param>
    /// <param name="progress">Receives the RMSE after each epoch.</param>
    /// <param name="cancellation">Stops between steps (the network keeps the weights reached).</param>
    /// <remarks>A step is about 200 tiny operations (1024 pixels × at most 40 columns per level), which a thread pool
    /// only slows down: on a 2-core machine under load a step took 148 ms with 2 intra-op threads and 11 ms with 1. Run
    /// it inside <c>session.UseThreads(1)</c> of the application's <see cref="TorchSession"/>.</remarks>
    public static TrainingResult Train(CoordinateNetwork network, Tensor target, TrainingOptions? options = null,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(target);
        options ??= new TrainingOptions();
        options.Validate();
        if (target.dim() != 3 || target.shape[0] != network.Topology.OutputCount)
            throw new ArgumentException($"target must be [{network.Topology.OutputCount}, H, W] (one channel per network output); got [{string.Join(", ", target.shape)}].", nameof(target));
        if (network.Topology.InputCount != 2)
            throw new ArgumentException($"A picture has two coordinates (x, y); the network has {network.Topology.InputCount} inputs.", nameof(network));
        return TrainLoop(network, target, options, progress, cancellation, Stopwatch.StartNew());
    }

    private static TrainingResult TrainLoop(CoordinateNetwork network, Tensor target, TrainingOptions options,
        IProgress<TrainingProgress>? progress, CancellationToken cancellation, Stopwatch watch)
    {
        var grid = new PixelGrid((int)target.shape[2], (int)target.shape[1]);
        using var outer = NewDisposeScope();
        var t = target.to(network.DType, network.Device);
        if (!isfinite(t).all().item<bool>() || t.min().ToDouble() < 0 || t.max().ToDouble() > 1)
            throw new ArgumentException("target must hold finite colours in [0, 1].", nameof(target));
        var coords = grid.Coordinates(network.DType, network.Device);
        var pixels = grid.ToPixels(t);                                        // [P, C] in [-1, 1]
        long P = grid.PixelCount;
        int batch = (int)Math.Min(options.BatchSize, P);
        long stepsPerEpoch = (P + batch - 1) / batch;
        long totalSteps = stepsPerEpoch * options.Epochs;

        var parameters = new[] { network.Weights, network.Biases };
        using var optimizer = options.Optimizer == CoordinateOptimizer.Adam
            ? (optim.Optimizer)optim.Adam(parameters, lr: options.LearningRate, weight_decay: options.WeightDecay)
            : optim.SGD(parameters, options.LearningRate, momentum: options.Momentum, weight_decay: options.WeightDecay);
        using var generator = new Generator((ulong)options.Seed);
        var rmse = new List<double>(options.Epochs);
        long step = 0;
        for (int epoch = 0; epoch < options.Epochs; epoch++)
        {
            using var epochScope = NewDisposeScope();
            var order = randperm(P, generator: generator).to(network.Device);
            double sumSquares = 0;
            for (long start = 0; start < P; start += batch)
            {
                cancellation.ThrowIfCancellationRequested();
                using var stepScope = NewDisposeScope();
                var n = Math.Min(batch, P - start);
                var idx = order.narrow(0, start, n);
                var lr = options.LearningRate * Schedule(step, totalSteps, options.FinalLearningRateFraction);
                foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
                optimizer.zero_grad();
                var error = network.forward(coords.index_select(0, idx)) - pixels.index_select(0, idx);
                var loss = (error * error).mean();
                loss.backward();
                optimizer.step();
                sumSquares += loss.ToDouble() * n;                            // loss is the mean over n·C entries
                step++;
            }
            var epochRmse = Math.Sqrt(sumSquares / P) / 2;                          // (−1, 1) → [0, 1] units
            if (!double.IsFinite(epochRmse))
                throw new InvalidOperationException($"Training diverged at epoch {epoch + 1} (RMSE is {epochRmse}); lower the learning rate.");
            rmse.Add(epochRmse);
            progress?.Report(new TrainingProgress(epoch + 1, options.Epochs, epochRmse));
        }
        var final = Rmse(network, grid, target);
        return new TrainingResult(rmse, final, step, watch.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// Root-mean-square error of the network's picture against <paramref name="target"/>, colours in [0, 1].
    /// </summary>
    /// <param name="network">The network.</param>
    /// <param name="grid">The pixel grid (the target's size).</param>
    /// <param name="target"><c>[C, H, W]</c> in [0, 1], any dtype and device.</param>
    /// <param name="mask">Optional <c>[H, W]</c> region (boolean or non-negative weights); the error is averaged over
    /// it.</param>
    public static double Rmse(CoordinateNetwork network, PixelGrid grid, Tensor target, Tensor? mask = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(grid);
        ArgumentNullException.ThrowIfNull(target);
        using var scope = NewDisposeScope();
        var image = network.Render(grid).to(ScalarType.Float64);
        var t = target.to(ScalarType.Float64, image.device);
        if (!t.shape.SequenceEqual(image.shape))
            throw new ArgumentException($"target must be [{string.Join(", ", image.shape)}]; got [{string.Join(", ", target.shape)}].", nameof(target));
        var sq = (image - t).pow(Scalars.IntTwo).mean(new long[] { 0 });          // [H, W]
        if (mask is null) return Math.Sqrt(sq.mean().ToDouble());
        var m = mask.to(ScalarType.Float64, image.device).reshape(sq.shape);
        var total = m.sum().ToDouble();
        if (total <= 0) throw new ArgumentException("The mask is empty.", nameof(mask));
        return Math.Sqrt((sq * m).sum().ToDouble() / total);
    }

    /// <summary>Cosine decay from 1 to <paramref name="final"/> over <paramref name="total"/> steps.</summary>
    private static double Schedule(long step, long total, double final) =>
        final + (1 - final) * 0.5 * (1 + Math.Cos(Math.PI * Math.Min(1.0, (double)step / Math.Max(1, total))));
}
