using System.Collections.Concurrent;

namespace Interpretability.Cuda;

/// <summary>
/// Finds the largest batch that fits: runs the work with the requested batch size and, when the device runs out of
/// memory, halves the batch and retries, down to 1. The size that worked is remembered per key (model and input shape),
/// so later calls start there. Device memory errors from libtorch surface in TorchSharp as exceptions whose message
/// contains "out of memory"; anything else propagates unchanged.
/// </summary>
public sealed class AutoBatchSizer : IBatchRunner
{
    private readonly ConcurrentDictionary<string, int> known = new();

    /// <summary>Called after an out-of-memory failure, before the retry (e.g. to empty caches); may be null.</summary>
    public Action? OnOutOfMemory { get; init; }

    /// <summary>The batch size remembered for <paramref name="key"/>, if any.</summary>
    public int? Remembered(string key) => known.TryGetValue(key, out var b) ? b : null;

    /// <summary>
    /// Runs <paramref name="work"/> with the largest batch (≤ <paramref name="requested"/>, or the remembered size for
    /// <paramref name="key"/>) that does not run out of memory.
    /// </summary>
    /// <param name="key">Identifies the model and input shape, e.g. <c>$"{modelName}:{string.Join('x', shape)}"</c>.</param>
    /// <param name="requested">The batch size to try first (≥ 1).</param>
    /// <param name="work">Runs the whole job with the given batch size.</param>
    /// <exception cref="InsufficientMemoryException">Even a batch of 1 runs out of memory.</exception>
    public T Run<T>(string key, int requested, Func<int, T> work)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(work);
        if (requested < 1) throw new ArgumentOutOfRangeException(nameof(requested), requested, "requested batch size must be at least 1.");
        var batch = Math.Min(requested, known.GetValueOrDefault(key, requested));
        while (true)
        {
            try
            {
                var result = work(batch);
                known[key] = batch;
                return result;
            }
            catch (Exception e) when (IsOutOfMemory(e))
            {
                if (batch == 1)
                    throw new InsufficientMemoryException($"Out of device memory even at batch size 1 for '{key}': {e.Message}", e);
                batch = Math.Max(1, batch / 2);
                known[key] = batch;
                OnOutOfMemory?.Invoke();
            }
        }
    }

    /// <summary>True for libtorch's out-of-memory errors (CUDA or CPU allocator), also when wrapped.</summary>
    public static bool IsOutOfMemory(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
            if (x is OutOfMemoryException || x.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }
}
