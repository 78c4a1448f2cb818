using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>The attributions of one batch of a dataset.</summary>
/// <param name="Start">Index of the batch's first row in the dataset.</param>
/// <param name="Targets">The explained class of every row, <c>[n]</c> int64.</param>
/// <param name="Result">The method's result for the batch (attributions <c>[n, ...]</c>).</param>
public sealed record AttributionBatch(long Start, Tensor Targets, AttributionResult Result) : IDisposable
{
    /// <summary>Disposes the targets and the result.</summary>
    public void Dispose()
    {
        Targets.Dispose();
        Result.Dispose();
    }
}

/// <summary>Mean attribution per class over a dataset.</summary>
/// <param name="Means">Mean attribution of the rows of each class, <c>[classes, ...]</c> (zeros for a class without rows).</param>
/// <param name="Counts">Rows per class.</param>
public sealed record ClassAttribution(Tensor Means, long[] Counts) : IDisposable
{
    /// <summary>Disposes <see cref="Means"/>.</summary>
    public void Dispose() => Means.Dispose();
}

/// <summary>
/// Attribution of whole datasets in batches with bounded memory: <see cref="Stream"/> yields one batch's result at a time
/// (the caller disposes each), <see cref="PerClassMean"/> folds them into a mean per class. Only one batch of
/// attributions is alive at a time.
/// </summary>
public static class DatasetAttribution
{
    /// <summary>
    /// Attributes every row of <paramref name="inputs"/> <c>[N, ...]</c> for class <c>targets[i]</c> (<c>[N]</c> int64,
    /// e.g. the labels), <paramref name="batchSize"/> rows at a time. Lazy: a batch is computed when enumerated.
    /// </summary>
    /// <param name="method">The method, options fixed.</param>
    /// <param name="inputs">Dataset, <c>[N, ...]</c>, on the model's device (or moved batch by batch to <paramref name="device"/>).</param>
    /// <param name="targets">Explained class per row, <c>[N]</c>.</param>
    /// <param name="batchSize">Rows per batch (≥ 1).</param>
    /// <param name="device">Device each batch is moved to before attributing; null = the inputs' device.</param>
    /// <param name="cancellation">Checked between batches.</param>
    public static IEnumerable<AttributionBatch> Stream(IAttributionMethod method, Tensor inputs, Tensor targets, int batchSize = 32,
        Device? device = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(targets);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batchSize must be at least 1.");
        if (targets.dim() != 1 || targets.shape[0] != inputs.shape[0])
            throw new ArgumentException($"targets must be [N] = [{inputs.shape[0]}]; got {GradientCore.Shape(targets)}.", nameof(targets));
        return Iterate(method, inputs, targets, batchSize, device, cancellation);
    }

    private static IEnumerable<AttributionBatch> Iterate(IAttributionMethod method, Tensor inputs, Tensor targets, int batchSize, Device? device, CancellationToken cancellation)
    {
        long n = inputs.shape[0];
        for (long start = 0; start < n; start += batchSize)
        {
            cancellation.ThrowIfCancellationRequested();
            AttributionBatch batch;
            using (var scope = NewDisposeScope())
            {
                var count = Math.Min(batchSize, n - start);
                var x = inputs.narrow(0, start, count);
                var t = targets.narrow(0, start, count).to(int64);
                if (device is not null) { x = x.to(device); t = t.to(device); }
                var result = method.Attribute(x, t);
                result.Attributions.MoveToOuterDisposeScope();
                batch = new AttributionBatch(start, t.clone().MoveToOuterDisposeScope(), result);
            }
            yield return batch;
        }
    }

    /// <summary>
    /// Mean attribution of each class over the dataset, explaining every row's own label: <c>[classes, ...]</c> plus the
    /// row count per class.
    /// </summary>
    /// <param name="method">The method, options fixed.</param>
    /// <param name="inputs">Dataset <c>[N, ...]</c>.</param>
    /// <param name="labels">Class of every row <c>[N]</c> int64 in [0, classes).</param>
    /// <param name="classes">Number of classes.</param>
    /// <param name="batchSize">Rows per batch.</param>
    /// <param name="progress">Receives the fraction of rows done.</param>
    /// <param name="cancellation">Checked between batches.</param>
    public static ClassAttribution PerClassMean(IAttributionMethod method, Tensor inputs, Tensor labels, int classes, int batchSize = 32,
        IProgress<double>? progress = null, CancellationToken cancellation = default)
    {
        if (classes < 1) throw new ArgumentOutOfRangeException(nameof(classes), classes, "classes must be at least 1.");
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.numel() > 0 && (labels.min().ToInt64() < 0 || labels.max().ToInt64() >= classes))
            throw new ArgumentOutOfRangeException(nameof(labels), $"labels must lie in [0, {classes - 1}].");
        Tensor? sum = null;
        var counts = new long[classes];
        long n = inputs.shape[0], done = 0;
        foreach (var batch in Stream(method, inputs, labels, batchSize, null, cancellation))
        {
            using (batch)
            using (var scope = NewDisposeScope())
            {
                var a = batch.Result.Attributions;
                if (sum is null)
                    sum = zeros(new[] { (long)classes }.Concat(a.shape.Skip(1)).ToArray(), dtype: a.dtype, device: a.device).MoveToOuterDisposeScope();
                sum.index_add_(0, batch.Targets.to(a.device), a, Scalars.IntOne);
                foreach (var c in batch.Targets.cpu().data<long>()) counts[c]++;
                done += batch.Targets.shape[0];
            }
            progress?.Report((double)done / n);
        }
        if (sum is null) throw new ArgumentException("inputs has no rows.", nameof(inputs));
        using (var scope = NewDisposeScope())
        {
            var divisor = tensor(counts.Select(c => (float)Math.Max(c, 1)).ToArray(), device: sum.device).to(sum.dtype)
                .reshape(new[] { (long)classes }.Concat(sum.shape.Skip(1).Select(_ => 1L)).ToArray());
            sum.div_(divisor);
        }
        return new ClassAttribution(sum, counts);
    }
}
