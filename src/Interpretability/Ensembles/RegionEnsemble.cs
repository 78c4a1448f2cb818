using Interpretability.Nn;
namespace Interpretability.Ensembles;

/// <summary>
/// How an ensemble is chosen (our method): candidates are synapses at least <see cref="MinSelectivity"/> times denser
/// inside the region than outside; ranked by region energy, the ensemble is the smallest prefix carrying
/// <see cref="Share"/> of the region energy of all synapses.
/// </summary>
/// <param name="Share">Share q of the region's total energy the ensemble must carry (default 0.8).</param>
/// <param name="MinSelectivity">Selectivity ρ_min a candidate needs (default 2).</param>
public sealed record EnsembleOptions(double Share = 0.8, double MinSelectivity = 2.0)
{
    internal void Validate()
    {
        if (!(Share > 0 && Share <= 1)) throw new ArgumentOutOfRangeException(nameof(Share), Share, "Share must be in (0, 1].");
        if (!(MinSelectivity >= 0) || double.IsNaN(MinSelectivity)) throw new ArgumentOutOfRangeException(nameof(MinSelectivity), MinSelectivity, "MinSelectivity must not be negative.");
    }
}

/// <summary>A set of synapses that together carry a property or region of the picture.</summary>
public sealed class SynapseEnsemble
{
    internal SynapseEnsemble(SynapseTopology topology, IReadOnlyList<int> synapses, double coverage, bool reached, double leakage,
        int candidates, double targetShare)
    {
        Topology = topology;
        Synapses = synapses;
        Coverage = coverage;
        Reached = reached;
        Leakage = leakage;
        CandidateCount = candidates;
        TargetShare = targetShare;
        TargetNeurons = synapses.Select(topology.TargetNeuron).Distinct().Order().ToArray();
        SourceNeurons = synapses.Select(topology.SourceNeuron).Where(n => n >= 0).Distinct().Order().ToArray();
        NeuronsTouched = TargetNeurons.Union(SourceNeurons).Order().ToArray();
    }

    /// <summary>The wiring.</summary>
    public SynapseTopology Topology { get; }

    /// <summary>The synapses, strongest first.</summary>
    public IReadOnlyList<int> Synapses { get; }

    /// <summary>Number of synapses.</summary>
    public int Size => Synapses.Count;

    /// <summary>Fraction of all synapses of the network.</summary>
    public double Fraction => (double)Synapses.Count / Topology.SynapseCount;

    /// <summary>Share of the region's total energy (over all synapses) that the ensemble carries.</summary>
    public double Coverage { get; }

    /// <summary>The share asked for.</summary>
    public double TargetShare { get; }

    /// <summary>True when <see cref="Coverage"/> reached the share asked for; false when the candidates ran out first.</summary>
    public bool Reached { get; }

    /// <summary>Share of the energy outside the region that the ensemble carries (how much it leaks).</summary>
    public double Leakage { get; }

    /// <summary>Synapses that passed the selectivity threshold.</summary>
    public int CandidateCount { get; }

    /// <summary>Neurons the ensemble's synapses end at.</summary>
    public IReadOnlyList<int> TargetNeurons { get; }

    /// <summary>Neurons the ensemble's synapses start at (inputs excluded).</summary>
    public IReadOnlyList<int> SourceNeurons { get; }

    /// <summary>Every neuron at either end of a synapse of the ensemble.</summary>
    public IReadOnlyList<int> NeuronsTouched { get; }
}

/// <summary>
/// Chooses the synapse ensemble of a region from its energies (our method; see <see cref="EnsembleOptions"/>).
/// </summary>
public static class RegionEnsemble
{
    /// <summary>
    /// The smallest set of selective synapses (ρ ≥ ρ_min) that carries the share q of the region's energy: candidates
    /// ranked by <c>E_R</c>, the shortest prefix reaching <c>q · Σ_all E_R</c>; if the candidates cannot reach it, all of
    /// them, with <see cref="SynapseEnsemble.Reached"/> false and the coverage achieved.
    /// </summary>
    /// <param name="topology">The wiring.</param>
    /// <param name="energies">Region energies of every synapse.</param>
    /// <param name="options">Share and selectivity threshold.</param>
    /// <exception cref="ArgumentException">No synapse acts in the region at all.</exception>
    public static SynapseEnsemble Find(SynapseTopology topology, RegionEnergies energies, EnsembleOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(topology);
        ArgumentNullException.ThrowIfNull(energies);
        options ??= new EnsembleOptions();
        options.Validate();
        if (energies.Count != topology.SynapseCount)
            throw new ArgumentException($"energies hold {energies.Count} synapses; the topology has {topology.SynapseCount}.", nameof(energies));
        var total = energies.TotalInside;
        if (!(total > 0)) throw new ArgumentException("No synapse changes the region at all (its total energy is zero); there is no ensemble to find.", nameof(energies));
        var totalOut = energies.TotalOutside;
        var candidates = Enumerable.Range(0, energies.Count)
            .Where(s => energies.Inside[s] > 0 && energies.Selectivity(s) >= options.MinSelectivity)
            .OrderByDescending(s => energies.Inside[s]).ThenBy(s => s).ToList();
        var chosen = new List<int>();
        double sum = 0;
        foreach (var s in candidates)
        {
            if (sum >= options.Share * total) break;
            chosen.Add(s);
            sum += energies.Inside[s];
        }
        var reached = sum >= options.Share * total * (1 - 1e-12);
        var leak = totalOut > 0 ? chosen.Sum(s => energies.Outside[s]) / totalOut : 0;
        return new SynapseEnsemble(topology, chosen, sum / total, reached, leak, candidates.Count, options.Share);
    }
}
