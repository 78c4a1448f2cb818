using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using Interpretability.Ensembles;
using Interpretability.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Cuda;

/// <summary>Which ILGPU accelerator runs the fused kernel.</summary>
public enum KernelAccelerator
{
    /// <summary>The first CUDA GPU when the NVIDIA driver is present (no TorchSharp CUDA natives needed), else the CPU.</summary>
    Auto,

    /// <summary>ILGPU's CPU accelerator (emulates GPU thread groups with CPU threads): runs everywhere, used by the tests.</summary>
    Cpu,

    /// <summary>The first CUDA GPU; fails when there is none.</summary>
    Cuda,
}

/// <summary>
/// The synapse-ensembles study as one fused kernel (ILGPU): one thread per pixel runs the coordinate network forward,
/// then for each output channel the backward sweep of <c>δ_{c,j} = ∂O_c/∂z_j</c>, and while it sweeps it accumulates
/// every synapse's region energies <c>E_k(s = i→j) = Σ_p m_k(p) Σ_c (δ_{c,j}(p) a_i(p))²</c> (science brief §1.4) —
/// hundreds of tiny per-pixel tensor operations become one launch. Energies are summed per thread group in shared
/// memory, then added to the global result with one atomic per synapse and group.
/// </summary>
/// <remarks>
/// An independent implementation of <see cref="RegionEnergy.Compute(CoordinateNetwork, Tensor, Tensor, int)"/>: the two
/// must agree (tests check it). Activations and deltas are float32 (GPU-friendly), energies are accumulated in float64.
/// It runs on any NVIDIA GPU with only the driver present (ILGPU compiles to PTX and talks to the driver), without
/// TorchSharp's CUDA natives; on the CPU it runs on ILGPU's CPU accelerator.
/// Limits: at most <see cref="MaxNodes"/> nodes (inputs + neurons) per network, because each thread keeps its
/// activations and gradients in local memory.
/// </remarks>
public sealed class FusedSynapseKernel : IDisposable
{
    /// <summary>Largest network (inputs + neurons) the kernel handles.</summary>
    public const int MaxNodes = 256;

    /// <summary>Shared-memory budget for the per-group energy accumulators; beyond it the kernel adds to global memory directly.</summary>
    private const int SharedBytes = 40 * 1024;

    private readonly Context context;
    private readonly Accelerator accelerator;
    private readonly Action<KernelConfig, NetworkView, ArrayView<float>, ArrayView<float>, ArrayView<double>, Dims> kernel;

    /// <summary>Creates the ILGPU context and accelerator and compiles the kernel.</summary>
    /// <param name="which">Which accelerator to use.</param>
    /// <exception cref="InvalidOperationException"><see cref="KernelAccelerator.Cuda"/> was asked for and ILGPU finds no CUDA device.</exception>
    public FusedSynapseKernel(KernelAccelerator which = KernelAccelerator.Auto)
    {
        context = Context.Create(b => b.CPU().Cuda().EnableAlgorithms().Optimize(OptimizationLevel.O2));
        try
        {
            var cuda = context.Devices.FirstOrDefault(d => d.AcceleratorType == AcceleratorType.Cuda);
            if (which == KernelAccelerator.Cuda && cuda is null)
                throw new InvalidOperationException("No CUDA device is visible to ILGPU: there is no NVIDIA GPU, or its driver (libcuda.so) is not installed.");
            accelerator = which != KernelAccelerator.Cpu && cuda is not null
                ? cuda.CreateAccelerator(context)
                : context.CreateCPUAccelerator(0);
            kernel = accelerator.LoadStreamKernel<NetworkView, ArrayView<float>, ArrayView<float>, ArrayView<double>, Dims>(Kernel);
        }
        catch
        {
            accelerator?.Dispose();
            context.Dispose();
            throw;
        }
    }

    /// <summary>Name of the accelerator (e.g. "NVIDIA H100 80GB HBM3" or "CPUAccelerator").</summary>
    public string AcceleratorName => accelerator.Name;

    /// <summary>True when the kernel runs on a GPU.</summary>
    public bool IsGpu => accelerator.AcceleratorType == AcceleratorType.Cuda;

    /// <summary>
    /// Energies of every synapse under several pixel weightings (masks), like
    /// <see cref="RegionEnergy.Compute(CoordinateNetwork, Tensor, Tensor, int)"/>.
    /// </summary>
    /// <param name="network">The network (any dtype and device: its values are read as plain arrays).</param>
    /// <param name="coords"><c>[P, I]</c> points (e.g. <see cref="PixelGrid.Coordinates"/>).</param>
    /// <param name="weights"><c>[K, P]</c> (or <c>[P]</c>) non-negative pixel weights.</param>
    /// <returns><c>[K, S]</c> float64 on the CPU.</returns>
    public Tensor RegionEnergies(CoordinateNetwork network, Tensor coords, Tensor weights)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(coords);
        ArgumentNullException.ThrowIfNull(weights);
        var t = network.Topology;
        if (coords.dim() != 2 || coords.shape[1] != t.InputCount)
            throw new ArgumentException($"coords must be [P, {t.InputCount}]; got [{string.Join(", ", coords.shape)}].", nameof(coords));
        var w2 = weights.dim() == 1 ? weights.unsqueeze(0) : weights;
        long P = coords.shape[0];
        if (w2.dim() != 2 || w2.shape[1] != P)
            throw new ArgumentException($"weights must be [K, {P}] (one weight per point); got [{string.Join(", ", weights.shape)}].", nameof(weights));
        var coordData = coords.detach().to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
        var weightData = w2.detach().to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
        var result = RegionEnergies(t, network.GetWeights(), network.GetBiases(), coordData, weightData, (int)P, (int)w2.shape[0]);
        return tensor(result, dtype: ScalarType.Float64).reshape(w2.shape[0], t.SynapseCount);
    }

    /// <summary>The same on plain arrays.</summary>
    /// <param name="topology">The wiring.</param>
    /// <param name="synapseWeights">One weight per synapse (length S).</param>
    /// <param name="biases">One bias per neuron (length N).</param>
    /// <param name="coords">Row-major <c>[P, I]</c>.</param>
    /// <param name="pixelWeights">Row-major <c>[K, P]</c>.</param>
    /// <param name="points">P.</param>
    /// <param name="weightings">K.</param>
    /// <returns>Row-major <c>[K, S]</c>.</returns>
    public double[] RegionEnergies(SynapseTopology topology, IReadOnlyList<double> synapseWeights, IReadOnlyList<double> biases,
        float[] coords, float[] pixelWeights, int points, int weightings)
    {
        ArgumentNullException.ThrowIfNull(topology);
        if (topology.NodeCount > MaxNodes)
            throw new ArgumentException($"The fused kernel handles networks of at most {MaxNodes} nodes; this one has {topology.NodeCount}. Use RegionEnergy.Compute (TorchSharp).", nameof(topology));
        if (synapseWeights.Count != topology.SynapseCount) throw new ArgumentException($"synapseWeights must have {topology.SynapseCount} entries; got {synapseWeights.Count}.", nameof(synapseWeights));
        if (biases.Count != topology.NeuronCount) throw new ArgumentException($"biases must have {topology.NeuronCount} entries; got {biases.Count}.", nameof(biases));
        if (points < 1) throw new ArgumentOutOfRangeException(nameof(points), points, "points must be at least 1.");
        if (weightings < 1) throw new ArgumentOutOfRangeException(nameof(weightings), weightings, "weightings must be at least 1.");
        if (coords.Length != (long)points * topology.InputCount) throw new ArgumentException($"coords must hold {points}×{topology.InputCount} values; got {coords.Length}.", nameof(coords));
        if (pixelWeights.Length != (long)points * weightings) throw new ArgumentException($"pixelWeights must hold {weightings}×{points} values; got {pixelWeights.Length}.", nameof(pixelWeights));

        int S = topology.SynapseCount, N = topology.NeuronCount, I = topology.InputCount;
        // Incoming synapses of each neuron in CSR form; neurons in topological order.
        var inStart = new int[N + 1];
        var inSyn = new int[S];
        for (int n = 0, k = 0; n < N; n++)
        {
            inStart[n] = k;
            foreach (var s in topology.IncomingSynapses(n)) inSyn[k++] = s;
            inStart[n + 1] = k;
        }
        var order = topology.TopologicalOrder.ToArray();
        var outputs = topology.OutputNeurons.Select(o => I + o).ToArray();

        using var wBuf = accelerator.Allocate1D(synapseWeights.Select(v => (float)v).ToArray());
        using var bBuf = accelerator.Allocate1D(biases.Select(v => (float)v).ToArray());
        using var orderBuf = accelerator.Allocate1D(order);
        using var inStartBuf = accelerator.Allocate1D(inStart);
        using var inSynBuf = accelerator.Allocate1D(inSyn);
        using var srcBuf = accelerator.Allocate1D(topology.Sources.ToArray());
        using var outBuf = accelerator.Allocate1D(outputs);
        using var coordBuf = accelerator.Allocate1D(coords);
        using var pwBuf = accelerator.Allocate1D(pixelWeights);
        using var result = accelerator.Allocate1D<double>((long)weightings * S);
        result.MemSetToZero();

        var view = new NetworkView(wBuf.View, bBuf.View, orderBuf.View, inStartBuf.View, inSynBuf.View, srcBuf.View, outBuf.View);
        var useShared = (long)weightings * S * sizeof(double) <= SharedBytes;
        var dims = new Dims(points, I, N, S, outputs.Length, weightings, useShared ? 1 : 0);
        int groupSize = Math.Min(accelerator.AcceleratorType == AcceleratorType.CPU ? 16 : 128, accelerator.MaxNumThreadsPerGroup);
        int groups = (points + groupSize - 1) / groupSize;
        var config = new KernelConfig(new Index1D(groups), new Index1D(groupSize),
            SharedMemoryConfig.RequestDynamic<double>(useShared ? weightings * S : 1));
        kernel(config, view, coordBuf.View, pwBuf.View, result.View, dims);
        accelerator.Synchronize();
        return result.GetAsArray1D();
    }

    /// <summary>Frees the accelerator and the ILGPU context.</summary>
    public void Dispose()
    {
        accelerator.Dispose();
        context.Dispose();
    }

    /// <summary>The network's arrays as device views.</summary>
    internal readonly struct NetworkView(ArrayView<float> weights, ArrayView<float> biases, ArrayView<int> order,
        ArrayView<int> inStart, ArrayView<int> inSyn, ArrayView<int> sources, ArrayView<int> outputNodes)
    {
        public readonly ArrayView<float> Weights = weights;
        public readonly ArrayView<float> Biases = biases;
        public readonly ArrayView<int> Order = order;
        public readonly ArrayView<int> InStart = inStart;
        public readonly ArrayView<int> InSyn = inSyn;
        public readonly ArrayView<int> Sources = sources;
        public readonly ArrayView<int> OutputNodes = outputNodes;
    }

    /// <summary>Sizes: points, inputs, neurons, synapses, outputs, weightings, and whether group accumulators are in shared memory.</summary>
    internal readonly struct Dims(int points, int inputs, int neurons, int synapses, int outputs, int weightings, int useShared)
    {
        public readonly int Points = points;
        public readonly int Inputs = inputs;
        public readonly int Neurons = neurons;
        public readonly int Synapses = synapses;
        public readonly int Outputs = outputs;
        public readonly int Weightings = weightings;
        public readonly int UseShared = useShared;
    }

    /// <summary>One thread per pixel: forward, per-channel backward, energies (see the class remarks).</summary>
    private static void Kernel(NetworkView net, ArrayView<float> coords, ArrayView<float> pixelWeights, ArrayView<double> energies, Dims d)
    {
        var shared = SharedMemory.GetDynamic<double>();
        int K = d.Weightings, S = d.Synapses;
        if (d.UseShared != 0)
        {
            for (int i = Group.IdxX; i < K * S; i += Group.DimX) shared[i] = 0;
            Group.Barrier();
        }

        int p = Grid.GlobalIndex.X;
        if (p < d.Points)
        {
            var a = LocalMemory.Allocate<float>(MaxNodes);   // activations of every node (inputs first)
            var g = LocalMemory.Allocate<float>(MaxNodes);   // ∂O_c/∂a, then δ = ∂O_c/∂z during the backward sweep
            int I = d.Inputs;
            for (int i = 0; i < I; i++) a[i] = coords[p * I + i];

            // Forward: a_j = tanh(b_j + Σ_{s: i→j} w_s a_i), neurons in topological order.
            for (int k = 0; k < d.Neurons; k++)
            {
                int n = net.Order[k];
                float z = net.Biases[n];
                for (int q = net.InStart[n]; q < net.InStart[n + 1]; q++)
                {
                    int s = net.InSyn[q];
                    z += net.Weights[s] * a[net.Sources[s]];
                }
                a[I + n] = XMath.Tanh(z);
            }

            // Backward per output channel: reverse topological order, so every consumer of a neuron is done before it.
            for (int c = 0; c < d.Outputs; c++)
            {
                for (int i = 0; i < I + d.Neurons; i++) g[i] = 0f;
                g[net.OutputNodes[c]] = 1f;
                for (int k = d.Neurons - 1; k >= 0; k--)
                {
                    int n = net.Order[k];
                    int node = I + n;
                    float an = a[node];
                    float delta = g[node] * (1f - an * an);        // δ_{c,n} = ∂O_c/∂z_n
                    for (int q = net.InStart[n]; q < net.InStart[n + 1]; q++)
                    {
                        int s = net.InSyn[q];
                        int src = net.Sources[s];
                        g[src] += net.Weights[s] * delta;
                        float j = delta * a[src];                   // ∂O_c/∂w_s at this pixel
                        double j2 = (double)j * j;
                        for (int w = 0; w < K; w++)
                        {
                            double e = pixelWeights[w * d.Points + p] * j2;
                            if (e == 0) continue;
                            if (d.UseShared != 0) Atomic.Add(ref shared[w * S + s], e);
                            else Atomic.Add(ref energies[w * S + s], e);
                        }
                    }
                }
            }
        }

        if (d.UseShared != 0)
        {
            Group.Barrier();
            for (int i = Group.IdxX; i < K * S; i += Group.DimX)
                if (shared[i] != 0) Atomic.Add(ref energies[i], shared[i]);
        }
    }
}
