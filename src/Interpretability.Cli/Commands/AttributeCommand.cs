using System.CommandLine;
using Interpretability.Studies;

namespace Interpretability.Cli.Commands;

/// <summary>
/// <c>interp attribute --out DIR [--model zoo:NAME|PATH] [--image PNG] [--target N] [--method NAME|all] [--seed N]</c>:
/// explain one prediction with every attribution method; comparison grid, per-method overlays, IG convergence, LRP
/// conservation, layer attributions, circuits and per-class means.
/// </summary>
public sealed class AttributeCommand : StudyCommand
{
    private readonly Option<string?> model = new("--model")
    {
        Description = "The classifier: 'zoo:shapesnet' (default), a TorchScript file or ShapesNet weights (layer methods need hookable layers).",
    };

    private readonly Option<string?> image = new("--image")
    {
        Description = "A PNG/JPEG to explain (resized to 64×64). Default: a shapes test image (the class is seed mod 11).",
    };

    private readonly Option<long?> target = new("--target")
    {
        Description = "The class to explain (index into the model's output). Default: the predicted class.",
    };

    private readonly Option<string> method = new("--method")
    {
        Description = $"One method ({string.Join(", ", AttributionStudy.MethodNames)}) or 'all' for the comparison grid.",
        DefaultValueFactory = _ => "all",
    };

    /// <summary>Creates the command's options and their validators.</summary>
    public AttributeCommand()
    {
        method.Validators.Add(r =>
        {
            var v = r.GetValueOrDefault<string>();
            if (v != "all" && !AttributionStudy.MethodNames.Contains(v))
                r.AddError($"--method must be 'all' or one of {string.Join(", ", AttributionStudy.MethodNames)}; got '{v}'.");
        });
        target.Validators.Add(r =>
        {
            var v = r.GetValueOrDefault<long?>();
            if (v is < 0) r.AddError($"--target must be a non-negative class index; got {v}.");
        });
    }

    /// <inheritdoc />
    public override string Name => "attribute";

    /// <inheritdoc />
    public override string Description => "Attribution: explain a prediction with saliency, integrated gradients, SmoothGrad, GradientSHAP, DeepLift, guided backprop, deconvolution, Grad-CAM, LRP; circuits; per-class means.";

    /// <inheritdoc />
    public override void AddOptions(Command command)
    {
        command.Options.Add(model);
        command.Options.Add(image);
        command.Options.Add(target);
        command.Options.Add(method);
    }

    /// <inheritdoc />
    public override Study CreateStudy(ParseResult parse, bool quick)
    {
        var m = parse.GetValue(model);
        if (m is not null)
        {
            // Open the model now so that a missing or unreadable file is a usage error naming it, before any work.
            try
            {
                using var probe = AttributionStudy.OpenModel(m);
                using var scope = TorchSharp.torch.NewDisposeScope();
                using var noGrad = TorchSharp.torch.no_grad();
                var y = probe.call(TorchSharp.torch.zeros(1, 3, 64, 64));
                if (y.dim() != 2 || y.shape[0] != 1)
                    throw new ArgumentException($"it maps [1, 3, 64, 64] to [{string.Join(", ", y.shape)}], not to [1, classes].");
            }
            catch (Exception e) when (e is FileNotFoundException or ArgumentException or InvalidDataException or IOException or UnauthorizedAccessException
                                          or InvalidOperationException or System.Runtime.InteropServices.ExternalException)
            {
                throw new UsageException($"--model '{m}' cannot be used as an image classifier [N, 3, 64, 64] → [N, classes]: {e.Message}");
            }
        }
        var img = parse.GetValue(image);
        if (img is not null)
        {
            try
            {
                using var probe = AttributionStudy.LoadImage(img, 64);
            }
            catch (Exception e) when (e is FileNotFoundException or ArgumentException or IOException or UnauthorizedAccessException)
            {
                throw new UsageException($"--image '{img}' cannot be used: {e.Message}");
            }
        }
        return new AttributionStudy(new AttributionStudyOptions(m, img, parse.GetValue(target), parse.GetValue(method)!));
    }
}
