using static TorchSharp.torch;

namespace Interpretability.Cuda;

/// <summary>
/// Splits independent work (attributions of many inputs, feature visualisations of many channels) across several
/// devices: one worker thread per device, items dealt round-robin, results returned in input order. With one device it
/// runs inline. Each worker gets its own device; the work function must put its model and tensors there (e.g. a model
/// replica per device).
/// </summary>
public static class WorkSplitter
{
    /// <summary>Maps <paramref name="work"/> over <paramref name="items"/> on <paramref name="devices"/>.</summary>
    /// <param name="items">Independent work items.</param>
    /// <param name="devices">Devices to use (e.g. every <c>cuda:N</c>); at least one.</param>
    /// <param name="work">Computes one item on one device.</param>
    /// <param name="cancellation">Stops handing out new items.</param>
    public static IReadOnlyList<TOut> Map<TIn, TOut>(IReadOnlyList<TIn> items, IReadOnlyList<Device> devices,
        Func<TIn, Device, TOut> work, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(devices);
        ArgumentNullException.ThrowIfNull(work);
        if (devices.Count == 0) throw new ArgumentException("At least one device is required.", nameof(devices));
        var results = new TOut[items.Count];
        if (devices.Count == 1)
        {
            for (int i = 0; i < items.Count; i++)
            {
                cancellation.ThrowIfCancellationRequested();
                results[i] = work(items[i], devices[0]);
            }
            return results;
        }
        var errors = new List<Exception>();
        var threads = devices.Select((device, d) => new Thread(() =>
        {
            try
            {
                for (int i = d; i < items.Count; i += devices.Count)
                {
                    cancellation.ThrowIfCancellationRequested();
                    results[i] = work(items[i], device);
                }
            }
            catch (Exception e)
            {
                lock (errors) errors.Add(e);
            }
        }) { IsBackground = true, Name = $"interp-worker-{device}" }).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        if (errors.Count == 1 && errors[0] is OperationCanceledException oce) throw oce;
        if (errors.Count > 0) throw new AggregateException("Work on one or more devices failed.", errors);
        return results;
    }

    /// <summary>Every CUDA device TorchSharp sees, or the CPU alone when there is none.</summary>
    public static IReadOnlyList<Device> AvailableDevices() =>
        DevicePolicy.CudaAvailable
            ? Enumerable.Range(0, TorchSharp.torch.cuda.device_count()).Select(i => new Device(TorchSharp.DeviceType.CUDA, i)).ToList()
            : new[] { CPU };
}
