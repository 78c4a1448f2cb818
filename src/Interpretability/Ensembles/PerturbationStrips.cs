using Interpretability.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Ensembles;

/// <summary>A row of pictures with one synapse's weight moved by a range of offsets.</summary>
public sealed class PerturbationStrip : IDisposable
{
    internal PerturbationStrip(int synapse, IReadOnlyList<double> offsets, Tensor frames, Tensor differences)
    {
        Synapse = synapse;
        Offsets = offsets;
        Frames = frames;
        Differences = differences;
    }

    /// <summary>The synapse moved.</summary>
    public int Synapse { get; }

    /// <summary>The offsets added to its weight, one per frame.</summary>
    public IReadOnlyList<double> Offsets { get; }

    /// <summary>
    /// <c>[K, O, H, W]</c> in [0, 1] (K offsets, O = 3 for r, g, b): the picture at each offset, in the network's
    /// dtype, on the CPU.
    /// </summary>
    public Tensor Frames { get; }

    /// <summary>
    /// <c>[K, H, W]</c>: <c>|O_k − O_0|</c> (mean over channels, [0, 1] units) against the unperturbed picture, in the
    /// network's dtype, on the CPU.
    /// </summary>
    public Tensor Differences { get; }

    /// <inheritdoc />
    public void Dispose()
    {
        Frames.Dispose();
        Differences.Dispose();
    }
}

/// <summary>
/// Large-perturbation strips, the experiment of the Habr article on synapse ensembles (2015,
/// https://habr.com/ru/articles/249031/): vary one synapse weight, re-render the whole picture, show the sequence. Our
/// defaults: <c>w_s + kΔ</c>, k = −K…K, K = 4, Δ = 0.25, with a difference image under each frame.
/// </summary>
public static class PerturbationStrips
{
    /// <summary>The default offsets: <c>kΔ</c> for k = −<paramref name="k"/>…<paramref name="k"/>.</summary>
    public static double[] Offsets(int k = 4, double delta = 0.25)
    {
        if (k < 0) throw new ArgumentOutOfRangeException(nameof(k), k, "k must not be negative.");
        return Enumerable.Range(-k, 2 * k + 1).Select(i => i * delta).ToArray();
    }

    /// <summary>Renders the strip of one synapse.</summary>
    /// <param name="network">The network (weights are restored afterwards).</param>
    /// <param name="grid">The pixel grid.</param>
    /// <param name="synapse">The synapse to move.</param>
    /// <param name="offsets">Offsets added to its weight (default <see cref="Offsets"/>()).</param>
    public static PerturbationStrip Render(CoordinateNetwork network, PixelGrid grid, int synapse, IReadOnlyList<double>? offsets = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(grid);
        if (synapse < 0 || synapse >= network.Topology.SynapseCount)
            throw new ArgumentOutOfRangeException(nameof(synapse), synapse, $"Synapses are numbered 0…{network.Topology.SynapseCount - 1}.");
        offsets ??= Offsets();
        if (offsets.Count == 0) throw new ArgumentException("At least one offset is required.", nameof(offsets));
        using var scope = NewDisposeScope();
        var reference = network.Render(grid);
        var frames = new List<Tensor>();
        foreach (var offset in offsets)
        {
            if (!double.IsFinite(offset)) throw new ArgumentException($"Offset {offset} is not finite.", nameof(offsets));
            using var _ = network.Perturb(synapse, offset);
            frames.Add(network.Render(grid));
        }
        var stackFrames = stack(frames).cpu();
        var diff = (stackFrames - reference.cpu().unsqueeze(0)).abs().mean(new long[] { 1 });
        return new PerturbationStrip(synapse, offsets.ToArray(), stackFrames.MoveToOuterDisposeScope(), diff.MoveToOuterDisposeScope());
    }
}

/// <summary>
/// Neuron activation maps (as in the Habr article on synapse ensembles: a grey-scale image of one neuron's output over
/// the (x, y) plane) and neuron ablation: the change of the picture when a neuron's activation is clamped to a
/// constant.
/// </summary>
public static class NeuronMaps
{
    /// <summary>Every neuron's activation over the picture.</summary>
    /// <returns><c>[N, H, W]</c> float32 in (−1, 1), neuron order, on the CPU.</returns>
    public static Tensor Activations(CoordinateNetwork network, PixelGrid grid)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(grid);
        using var scope = NewDisposeScope();
        using var trace = network.Trace(grid.Coordinates(network.DType, network.Device));
        var a = trace.Activations.narrow(1, network.Topology.InputCount, network.Topology.NeuronCount);   // [P, N]
        return a.t().reshape(network.Topology.NeuronCount, grid.Height, grid.Width).to(ScalarType.Float32).cpu().contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Ablation effect of every neuron: the RMS colour change of the picture ([0, 1] units) when the neuron's activation is
    /// clamped to <paramref name="value"/> (0, tanh's silent value, by default) at every pixel.
    /// </summary>
    /// <returns>Length N.</returns>
    public static double[] AblationEffects(CoordinateNetwork network, PixelGrid grid, double value = 0)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(grid);
        if (!double.IsFinite(value) || value < -1 || value > 1) throw new ArgumentOutOfRangeException(nameof(value), value, "A tanh activation lies in [−1, 1].");
        using var scope = NewDisposeScope();
        var coords = grid.Coordinates(network.DType, network.Device);
        Tensor reference;
        using (var t = network.Trace(coords)) reference = t.Outputs.clone();
        var result = new double[network.Topology.NeuronCount];
        for (int j = 0; j < result.Length; j++)
        {
            using var inner = NewDisposeScope();
            using var t = network.Trace(coords, new Dictionary<int, double> { [j] = value });
            result[j] = ((t.Outputs.clamp(Scalars.IntMinusOne, Scalars.IntOne) - reference.clamp(Scalars.IntMinusOne, Scalars.IntOne)) / 2).pow(Scalars.IntTwo).mean().sqrt().ToDouble();
        }
        return result;
    }
}
