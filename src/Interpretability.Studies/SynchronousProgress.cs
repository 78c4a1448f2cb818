namespace Interpretability.Studies;

/// <summary>
/// An <see cref="IProgress{T}"/> that reports on the calling thread, at once (<see cref="Progress{T}"/> would post to
/// the thread pool, so reports would arrive late and out of order with the study's own work).
/// </summary>
/// <typeparam name="T">The progress value.</typeparam>
/// <param name="action">Called with every report, on the reporting thread.</param>
internal sealed class SynchronousProgress<T>(Action<T> action) : IProgress<T>
{
    /// <summary>Calls the action with <paramref name="value"/>.</summary>
    /// <param name="value">The progress value.</param>
    public void Report(T value) => action(value);
}
