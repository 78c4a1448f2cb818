using System.CommandLine;
using Interpretability.Studies;

namespace Interpretability.Cli.Commands;

/// <summary>
/// <c>interp dynamics --out DIR [--dataset semantic|toy|hierarchy|noise] [--init aligned|random] [--depth N] [--hidden N]
/// [--lr X] [--epochs N] [--u0 X]</c>: the learning dynamics of deep linear networks — exact SVD theory against
/// simulation, learning order, RSA over training, hierarchical data, the category-in-noise threshold.
/// </summary>
public sealed class DynamicsCommand : StudyCommand
{
    private readonly Option<string> dataset = new("--dataset")
    {
        Description = "Dataset of the main theory-vs-simulation run: semantic (8 items × 22 features), toy (4 × 7), hierarchy (branching diffusion) or noise (a category in noise).",
        DefaultValueFactory = _ => "semantic",
    };

    private readonly Option<string> init = new("--init")
    {
        Description = "Initialisation of the main run: aligned (balanced, decoupled; every mode starts at u0) or random (small random weights).",
        DefaultValueFactory = _ => "aligned",
    };

    private readonly Option<int> depth = new("--depth") { Description = "Number of weight matrices D (2 = one hidden layer).", DefaultValueFactory = _ => 2 };

    private readonly Option<int?> hidden = new("--hidden") { Description = "Hidden width (default: 16 for semantic and toy, 32 otherwise)." };

    private readonly Option<double?> lr = new("--lr") { Description = "Learning rate λ of full-batch gradient descent; τ = 1/λ (default: 0.005 / s_max)." };

    private readonly Option<long?> epochs = new("--epochs") { Description = "Full-batch steps of the main run (default: until every compared mode has reached 97% of its singular value, plus 25%)." };

    private readonly Option<double> u0 = new("--u0") { Description = "Initial mode strength u0 (the product of the initial factors of each mode).", DefaultValueFactory = _ => 1e-3 };

    /// <inheritdoc />
    public override string Name => "dynamics";

    /// <inheritdoc />
    public override string Description => "Learning dynamics of deep linear networks: exact SVD theory vs simulation, learning order, RSA, hierarchy, category-in-noise threshold.";

    /// <inheritdoc />
    public override void AddOptions(Command command)
    {
        dataset.Validators.Add(r =>
        {
            var v = r.GetValueOrDefault<string>();
            if (!DynamicsStudyOptions.Datasets.Contains(v)) r.AddError($"--dataset must be one of {string.Join(", ", DynamicsStudyOptions.Datasets)}; got '{v}'.");
        });
        init.Validators.Add(r =>
        {
            var v = r.GetValueOrDefault<string>();
            if (!DynamicsStudyOptions.Initializations.Contains(v)) r.AddError($"--init must be aligned or random; got '{v}'.");
        });
        depth.Validators.Add(r =>
        {
            var v = r.GetValueOrDefault<int>();
            if (v < 1 || v > 8) r.AddError($"--depth must be in [1, 8] (weight matrices); got {v}.");
        });
        hidden.Validators.Add(r =>
        {
            var v = r.GetValueOrDefault<int?>();
            if (v is < 1 or > 4096) r.AddError($"--hidden must be in [1, 4096]; got {v}.");
        });
        lr.Validators.Add(r =>
        {
            var v = r.GetValueOrDefault<double?>();
            if (v is { } x && !(x > 0 && double.IsFinite(x))) r.AddError($"--lr must be a finite number > 0 (τ = 1/λ); got {x}.");
        });
        epochs.Validators.Add(r =>
        {
            var v = r.GetValueOrDefault<long?>();
            if (v is < 1 or > 5_000_000) r.AddError($"--epochs must be in [1, 5000000]; got {v}.");
        });
        u0.Validators.Add(r =>
        {
            var v = r.GetValueOrDefault<double>();
            if (!(v > 0 && v < 0.5)) r.AddError($"--u0 must be in (0, 0.5) (learning from a small start); got {v}.");
        });
        foreach (var o in new Option[] { dataset, init, depth, hidden, lr, epochs, u0 }) command.Options.Add(o);
    }

    /// <inheritdoc />
    public override Study CreateStudy(ParseResult parse, bool quick)
    {
        var options = new DynamicsStudyOptions(parse.GetValue(dataset)!, parse.GetValue(init)!, parse.GetValue(depth), parse.GetValue(hidden),
            parse.GetValue(lr), parse.GetValue(epochs), parse.GetValue(u0));
        try
        {
            return new DynamicsStudy(options);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
    }
}
