using TorchSharp;

namespace Interpretability.LearningDynamics;

/// <summary>
/// Runs a loop of small tensor operations on one intra-op thread and restores the previous count afterwards. The
/// simulations here repeat products of matrices with at most a few hundred rows thousands of times; at that size extra
/// threads only add synchronisation, and while another process keeps a core busy they wait for it. Measured on the
/// 2-core development machine under load: the 8-item run took 14 µs per step on one thread and 0.8–4 ms on two; 200
/// batched steps of 24 category networks 0.28 s on one thread and 8 s on two.
/// </summary>
internal sealed class IntraOpThreads : IDisposable
{
    private readonly int previous;

    private IntraOpThreads()
    {
        previous = torch.get_num_threads();
        if (previous != 1) torch.set_num_threads(1);
    }

    /// <summary>Switches to one intra-op thread until disposed.</summary>
    public static IntraOpThreads One() => new();

    /// <summary>Restores the previous thread count.</summary>
    public void Dispose()
    {
        if (torch.get_num_threads() != previous) torch.set_num_threads(previous);
    }
}
