using System.CommandLine;
using Interpretability.Studies;

namespace Interpretability.Cli.Commands;

/// <summary>
/// <c>interp models --out DIR [--train]</c>: lists the zoo (name, layers with shapes, parameters, accuracy) and writes
/// the dataset's sample grid and ShapesNet's confusion matrix; <c>--train</c> retrains ShapesNet from scratch.
/// </summary>
public sealed class ModelsCommand : StudyCommand
{
    private readonly Option<bool> train = new("--train")
    {
        Description = "Also retrain ShapesNet from scratch with the shipped recipe (about 3–5 minutes on 2 cores) and write DIR/shapesnet.weights.",
    };

    /// <inheritdoc />
    public override string Name => "models";

    /// <inheritdoc />
    public override string Description => "The model zoo: every model's layers, shapes, parameters and accuracy; the procedural dataset's samples; --train retrains ShapesNet.";

    /// <inheritdoc />
    public override void AddOptions(Command command) => command.Options.Add(train);

    /// <inheritdoc />
    public override Study CreateStudy(ParseResult parse, bool quick) => new ModelsStudy(new ModelsStudyOptions(parse.GetValue(train)));
}
