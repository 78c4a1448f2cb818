using Interpretability.Ensembles;
using Interpretability.Nn;

namespace Interpretability.Tests.Ensembles;

/// <summary>
/// An independent reference: a tanh network on a synapse list evaluated in plain C# doubles, neuron by neuron in
/// topological order (Kahn's algorithm of its own), with central finite differences over the weights. Shares nothing
/// with the library's tensor code but the synapse list.
/// </summary>
internal static class PlainNetwork
{
    /// <summary>Every node's activation at one point.</summary>
    public static double[] Activations(SynapseTopology t, double[] weights, double[] biases, double[] input)
    {
        int I = t.InputCount, N = t.NeuronCount;
        var a = new double[I + N];
        Array.Copy(input, a, I);
        var z = new double[N];
        for (int j = 0; j < N; j++) z[j] = biases[j];
        foreach (var j in Order(t))
        {
            for (int s = 0; s < t.SynapseCount; s++)
                if (t.Targets[s] == I + j) z[j] += weights[s] * a[t.Sources[s]];
            a[I + j] = Math.Tanh(z[j]);
        }
        return a;
    }

    /// <summary>Outputs at one point.</summary>
    public static double[] Outputs(SynapseTopology t, double[] weights, double[] biases, double[] input)
    {
        var a = Activations(t, weights, biases, input);
        return t.OutputNeurons.Select(o => a[t.InputCount + o]).ToArray();
    }

    /// <summary>∂O_c/∂w_s at one point by central differences: [c, s].</summary>
    public static double[,] Jacobian(SynapseTopology t, double[] weights, double[] biases, double[] input, double h = 1e-6)
    {
        var result = new double[t.OutputCount, t.SynapseCount];
        for (int s = 0; s < t.SynapseCount; s++)
        {
            var plus = (double[])weights.Clone();
            var minus = (double[])weights.Clone();
            plus[s] += h;
            minus[s] -= h;
            var op = Outputs(t, plus, biases, input);
            var om = Outputs(t, minus, biases, input);
            for (int c = 0; c < t.OutputCount; c++) result[c, s] = (op[c] - om[c]) / (2 * h);
        }
        return result;
    }

    /// <summary>A topological order found independently of the library (repeatedly pick a neuron whose sources are done).</summary>
    private static List<int> Order(SynapseTopology t)
    {
        int I = t.InputCount;
        var done = new bool[t.NodeCount];
        for (int i = 0; i < I; i++) done[i] = true;
        var order = new List<int>();
        while (order.Count < t.NeuronCount)
        {
            bool progressed = false;
            for (int j = 0; j < t.NeuronCount; j++)
            {
                if (done[I + j]) continue;
                bool ready = true;
                for (int s = 0; s < t.SynapseCount; s++)
                    if (t.Targets[s] == I + j && !done[t.Sources[s]]) { ready = false; break; }
                if (!ready) continue;
                done[I + j] = true;
                order.Add(j);
                progressed = true;
            }
            if (!progressed) throw new InvalidOperationException("cycle");
        }
        return order;
    }

    /// <summary>A small random DAG with 2 inputs and 3 outputs, for fast exact checks.</summary>
    public static SynapseTopology SmallDag(int seed) => SynapseTopology.RandomDag(hidden: 6, outputs: 3, synapses: 30, seed: seed);
}
