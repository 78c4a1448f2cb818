using System.Reflection;
using System.Text.RegularExpressions;
using TorchSharp;

namespace Interpretability.Tests.Architecture;

/// <summary>
/// The allowed arrows between the rooms of the library (see the README's architecture section), checked on the compiled
/// assemblies: the bottom (the library root, Probing, Nn, Imaging) uses nothing of ours above it; every capability uses
/// only the bottom; no capability uses another; the core library references neither the studies, the CLI nor the CUDA
/// backend; the CUDA backend references the core only.
/// </summary>
public sealed class ArchitectureTests
{
    private const string Root = "Interpretability";
    private static readonly string[] Bottom = { Root, "Probing", "Nn", "Imaging" };

    /// <summary>For each room of the core library, the rooms it may use (besides itself).</summary>
    public static readonly IReadOnlyDictionary<string, string[]> Allowed = new Dictionary<string, string[]>
    {
        [Root] = Array.Empty<string>(),
        ["Probing"] = new[] { Root },
        ["Nn"] = new[] { Root },
        ["Imaging"] = new[] { Root },
        ["Attribution"] = Bottom,
        ["FeatureVisualization"] = Bottom,
        ["NeuronStudies"] = Bottom,
        ["Dissection"] = Bottom,
        ["Sequences"] = Bottom,
        ["Ensembles"] = Bottom,
        ["LearningDynamics"] = Bottom,
        ["Models"] = Bottom,
    };

    private static readonly Assembly Core = typeof(TorchSession).Assembly;

    /// <summary>The room of a namespace: <c>Interpretability.Attribution.Rules</c> → <c>Attribution</c>; the root → <c>Interpretability</c>.</summary>
    public static string RoomOf(string ns)
    {
        if (ns == Root) return Root;
        if (!ns.StartsWith(Root + ".", StringComparison.Ordinal)) return ns;
        var rest = ns[(Root.Length + 1)..];
        var dot = rest.IndexOf('.');
        return dot < 0 ? rest : rest[..dot];
    }

    /// <summary>The uses that break the allowed arrows, one line per room pair with up to three examples.</summary>
    public static IReadOnlyList<string> Violations(IEnumerable<NamespaceUse> uses) => uses
        .Select(u => (From: RoomOf(u.From), To: RoomOf(u.To), Use: u))
        .Where(u => u.From != u.To && !(Allowed.TryGetValue(u.From, out var ok) && ok.Contains(u.To)))
        .GroupBy(u => (u.From, u.To))
        .OrderBy(g => g.Key.From).ThenBy(g => g.Key.To)
        .Select(g => $"{g.Key.From} → {g.Key.To}" + (Allowed.ContainsKey(g.Key.From) ? "" : " (an unknown room: add it to the allowed arrows)") + ": " +
                     string.Join("; ", g.Select(u => $"{u.Use.Where} uses {u.Use.Used}").Distinct().Take(3)) + (g.Count() > 3 ? $" (+{g.Count() - 3} more)" : ""))
        .ToList();

    [Fact]
    public void Every_arrow_between_the_rooms_of_the_core_library_is_allowed()
    {
        var unresolved = new List<string>();
        var uses = AssemblyReferences.CrossNamespaceUses(Core, unresolved);
        Assert.True(unresolved.Count == 0, "tokens the check could not resolve (uses may be missed):\n" + string.Join("\n", unresolved.Take(10)));
        Assert.True(uses.Count > 50, $"the reader found only {uses.Count} cross-namespace uses; it is not reading the IL");
        var violations = Violations(uses);
        Assert.True(violations.Count == 0, "arrows outside the allowed list:\n" + string.Join("\n", violations));
    }

    [Fact]
    public void Every_using_directive_of_the_core_sources_is_an_allowed_arrow()
    {
        // The IL check above sees what the code uses; this one also sees a using directive that nothing uses yet, which
        // tells a reader an arrow exists.
        var src = Path.Combine(RepositoryRoot(), "src", "Interpretability");
        var directive = new Regex(@"^\s*using\s+(static\s+)?(?<ns>Interpretability(\.[A-Za-z]+)*)\s*(;|\.)");
        var uses = Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .SelectMany(f =>
            {
                var relative = Path.GetRelativePath(src, f);
                var folder = relative.Contains(Path.DirectorySeparatorChar) ? Root + "." + relative.Split(Path.DirectorySeparatorChar)[0] : Root;
                return File.ReadLines(f).Select(l => directive.Match(l)).Where(m => m.Success)
                    .Select(m => new NamespaceUse(folder, m.Groups["ns"].Value, relative, m.Groups["ns"].Value));
            })
            .ToList();
        Assert.NotEmpty(uses);
        var violations = Violations(uses);
        Assert.True(violations.Count == 0, "using directives outside the allowed arrows:\n" + string.Join("\n", violations));
    }

    [Fact]
    public void The_check_reports_a_forbidden_arrow_and_an_unknown_room()
    {
        var uses = new[]
        {
            new NamespaceUse("Interpretability.Attribution", "Interpretability.Probing", "A.M", "Interpretability.Probing.HookScope"),
            new NamespaceUse("Interpretability.Nn", "Interpretability.Attribution", "Interpretability.Nn.SpatialChain.M", "Interpretability.Attribution.Occlusion"),
            new NamespaceUse("Interpretability.Models", "Interpretability.Ensembles", "Interpretability.Models.ModelZoo.M", "Interpretability.Ensembles.RegionEnergy"),
            new NamespaceUse("Interpretability.Reporting", "Interpretability.Models", "Interpretability.Reporting.X.M", "Interpretability.Models.ShapesNet"),
        };
        var violations = Violations(uses);
        Assert.Equal(3, violations.Count);
        Assert.Contains(violations, v => v.StartsWith("Nn → Attribution", StringComparison.Ordinal));
        Assert.Contains(violations, v => v.StartsWith("Models → Ensembles", StringComparison.Ordinal));
        Assert.Contains(violations, v => v.StartsWith("Reporting → Models (an unknown room", StringComparison.Ordinal));
    }

    [Fact]
    public void The_reader_sees_uses_inside_method_bodies_and_closures()
    {
        // ShapesNet.AsSpatialChain builds SpatialStage objects inside its body and a lambda: both must be seen.
        var unresolved = new List<string>();
        var uses = AssemblyReferences.CrossNamespaceUses(Core, unresolved);
        Assert.Contains(uses, u => u.From == "Interpretability.Models" && u.Used == "Interpretability.Nn.SpatialStage");
        // IntegratedGradients uses Probing only through a call in a method body (no field or signature mentions it).
        Assert.Contains(uses, u => u.From == "Interpretability.Attribution" && u.To == "Interpretability.Probing");
    }

    [Fact]
    public void The_core_library_references_neither_studies_nor_cli_nor_cuda()
    {
        var names = Core.GetReferencedAssemblies().Select(a => a.Name).ToList();
        foreach (var forbidden in new[] { "Interpretability.Studies", "interp", "Interpretability.Cli", "Interpretability.Cuda" })
            Assert.DoesNotContain(forbidden, names);
    }

    [Fact]
    public void The_cuda_backend_references_the_core_library_only()
    {
        var cuda = typeof(Interpretability.Cuda.DevicePolicy).Assembly;
        var ours = cuda.GetReferencedAssemblies().Select(a => a.Name!).Where(n => n.StartsWith("Interpretability", StringComparison.Ordinal) || n == "interp").ToList();
        Assert.Equal(new[] { "Interpretability" }, ours);
    }

    [Fact]
    public void Only_the_session_changes_process_wide_settings()
    {
        var setters = new HashSet<string> { "set_num_threads", "set_num_interop_threads", "set_Default" };
        var offenders = AssemblyReferences.Calls(Core)
            .Where(c => setters.Contains(c.Callee.Name) && (c.Callee.DeclaringType == typeof(torch) || c.Callee.DeclaringType?.FullName == "ScottPlot.Fonts"))
            .Where(c => AssemblyReferences.NamespaceOf(c.Caller) != Root || !IsSessionType(c.Caller))
            .Select(c => $"{c.Where} calls {c.Callee.DeclaringType?.Name}.{c.Callee.Name}")
            .Distinct().ToList();
        Assert.True(offenders.Count == 0, "library code that changes process-wide settings:\n" + string.Join("\n", offenders));
    }

    /// <summary>
    /// TorchSharp turns a C# number given where a <see cref="Scalar"/> is taken (<c>t * 0.5</c>, <c>t.pow(2)</c>,
    /// <c>t == 0</c>) into a temporary whose finalizer frees the native value, and nothing keeps the temporary alive
    /// during the native call: a collection can free it under the operation ("Expected false to be true … Scalar.h").
    /// The library passes long-lived scalars (<c>Scalars</c>) or ones it holds in a <c>using</c> variable instead. The IL
    /// of every method counts, compiler-generated closures, lambdas and iterators included (nested types).
    /// </summary>
    [Fact]
    public void The_library_makes_no_temporary_scalars()
    {
        var offenders = AssemblyReferences.Calls(Core)
            .Where(c => c.Callee.DeclaringType == typeof(Scalar) && c.Callee.Name == "op_Implicit")
            .GroupBy(c => c.Where)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => $"{g.Key}: {g.Count()} × Scalar.op_Implicit({string.Join(", ", g.Select(c => c.Callee.GetParameters()[0].ParameterType.Name).Distinct())})")
            .ToList();
        Assert.True(offenders.Count == 0,
            $"{offenders.Count} methods convert a number to a temporary Scalar (use Scalars.* or `using var s = x.ToScalar();`):\n" + string.Join("\n", offenders));
    }

    private static bool IsSessionType(Type t)
    {
        while (t.DeclaringType is not null) t = t.DeclaringType;
        return t == typeof(TorchSession) || t.Name == "CpuConvolutionCheck";
    }

    [Fact]
    public void Library_messages_never_name_command_line_options()
    {
        var flag = new Regex(@"(?<![\w-])--[a-z][a-z-]+");
        var offenders = AssemblyReferences.StringLiterals(Core).Where(s => flag.IsMatch(s.Text)).Select(s => $"{s.Where}: \"{s.Text}\"").Distinct().ToList();
        Assert.True(offenders.Count == 0, "library strings that name CLI options:\n" + string.Join("\n", offenders));
    }

    [Fact]
    public void Library_sources_cite_papers_not_internal_documents()
    {
        var src = Path.Combine(RepositoryRoot(), "src", "Interpretability");
        var internalDocs = new Regex(@"\bbrief\b|\bseeds? 0\d*|\bthe issue\b|science\.md|\bissue \d+", RegexOptions.IgnoreCase);
        var offenders = Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (File: Path.GetRelativePath(src, f), Line: i + 1, Text: line)))
            .Where(l => internalDocs.IsMatch(l.Text))
            .Select(l => $"{l.File}:{l.Line}: {l.Text.Trim()}")
            .ToList();
        Assert.True(offenders.Count == 0, $"{offenders.Count} lines cite internal documents:\n" + string.Join("\n", offenders.Take(20)));
    }

    [Fact]
    public void The_core_library_has_no_reporting_folder()
    {
        Assert.False(Directory.Exists(Path.Combine(RepositoryRoot(), "src", "Interpretability", "Reporting")));
        Assert.DoesNotContain(Core.GetTypes(), t => RoomOf(t.Namespace ?? "") is "Reporting" or "Studies");
    }

    /// <summary>The repository's root: the first folder above the test binaries that holds <c>Interpretability.sln</c>.</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Interpretability.sln"))) return dir.FullName;
        throw new InvalidOperationException($"No Interpretability.sln above {AppContext.BaseDirectory}.");
    }
}

/// <summary>The CPU convolution check runs before the first gradient of every entry point that computes one.</summary>
public sealed class CpuConvolutionCheckEntryPointTests
{
    [Fact]
    public void Every_method_that_differentiates_runs_the_check_first_or_is_reached_only_through_one_that_does()
    {
        // Methods of the core whose own body differentiates (autograd.grad, Tensor.backward) must call
        // CpuConvolutionCheck.Ensure themselves, or be private/internal helpers whose public callers do. The public entry
        // points are listed here and checked: each must call Ensure directly.
        var core = typeof(TorchSession).Assembly;
        var ensure = typeof(CpuConvolutionCheck).GetMethod(nameof(CpuConvolutionCheck.Ensure))!;
        var calls = AssemblyReferences.Calls(core).ToList();
        var callers = calls.Where(c => c.Callee == ensure).Select(c => c.Where).ToHashSet();
        var entryPoints = new[]
        {
            "Interpretability.Attribution.AttributionMethod`1.Run",
            "Interpretability.Attribution.GradientCore.InputGradient",
            "Interpretability.Attribution.Circuits.Attribute",
            "Interpretability.Attribution.Circuits.ExpandedWeights",
            "Interpretability.Attribution.NeuronGradient.Attribute",
            "Interpretability.Probing.LayerGradient.Compute",
            "Interpretability.Probing.ActivationRecorder..ctor",
            "Interpretability.FeatureVisualization.FeatureVisualizer.Visualize",
            "Interpretability.Models.ShapesNetTrainer.Train",
        };
        var missing = entryPoints.Where(e => !callers.Contains(e)).ToList();
        Assert.True(missing.Count == 0, "entry points that differentiate without running the CPU convolution check first:\n" + string.Join("\n", missing));
        // Every method that differentiates is one of those, or is a helper only they reach (Compute of a method runs
        // inside Run; hooks and closures of those classes), or works on coordinate networks (no convolution).
        var differentiating = calls.Where(c => c.Callee.Name is "grad" or "backward" && c.Callee.DeclaringType?.Namespace?.StartsWith("TorchSharp", StringComparison.Ordinal) == true)
            .Select(c => c.Caller).Select(t => { while (t.DeclaringType is not null) t = t.DeclaringType; return t.FullName!; })
            .Distinct().OrderBy(n => n).ToList();
        var covered = new[] { "Attribution.", "Probing.LayerGradient", "FeatureVisualization.", "Models.ShapesNetTrainer", "CpuConvolutionCheck", "Ensembles." };
        var uncovered = differentiating.Where(n => !covered.Any(c => n.Contains(c, StringComparison.Ordinal))).ToList();
        Assert.True(uncovered.Count == 0, "types that differentiate outside the checked entry points:\n" + string.Join("\n", uncovered));
    }

    [Fact]
    public void Every_caller_gets_the_same_outcome_object_even_from_parallel_threads()
    {
        var outcomes = new CpuConvolutionCheckResult[8];
        Parallel.For(0, outcomes.Length, i => outcomes[i] = CpuConvolutionCheck.Ensure());
        Assert.All(outcomes, o => Assert.Same(outcomes[0], o));
        Assert.Same(outcomes[0], CpuConvolutionCheck.Outcome);
        Assert.True(outcomes[0].GradientErrorAfter < 1e-4, $"after the check: {outcomes[0]}");
    }
}
