namespace Interpretability;

/// <summary>
/// Chooses the batch size a batched job runs with. The core library runs the requested size
/// (<see cref="FixedBatchRunner"/>); <c>Interpretability.Cuda</c>'s <c>AutoBatchSizer</c> halves it on out-of-memory and
/// remembers what fitted. Studies run their batched kernels (integrated gradients, occlusion, feature visualisation,
/// synapse Jacobians) through the runner of their <c>StudyContext</c>.
/// </summary>
public interface IBatchRunner
{
    /// <summary>Runs <paramref name="work"/> with a batch size no larger than <paramref name="requested"/>.</summary>
    /// <param name="key">Identifies the kernel, model and input shape (sizes that fit are remembered per key).</param>
    /// <param name="requested">The batch size to try first (≥ 1).</param>
    /// <param name="work">Runs the whole job with the given batch size; must be safe to re-run from the start.</param>
    T Run<T>(string key, int requested, Func<int, T> work);
}

/// <summary>Runs every job with exactly the requested batch size (the default: no retries).</summary>
public sealed class FixedBatchRunner : IBatchRunner
{
    /// <summary>The shared instance.</summary>
    public static FixedBatchRunner Instance { get; } = new();

    /// <inheritdoc />
    public T Run<T>(string key, int requested, Func<int, T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (requested < 1) throw new ArgumentOutOfRangeException(nameof(requested), requested, "requested batch size must be at least 1.");
        return work(requested);
    }
}
