using System.CommandLine;
using Interpretability.Studies;

namespace Interpretability.Cli.Commands;

/// <summary>
/// <c>interp attribute --out DIR [--model zoo:NAME|PATH] [--layer PATH] [--image PNG] [--target N] [--method NAME|all] [--seed N]</c>:
/// explain one prediction with every attribution method; comparison grid, per-method overlays, IG convergence, LRP
/// conservation, layer attributions, circuits and per-class means.
/// </summary>
public sealed class AttributeCommand : StudyCommand
{
    private readonly Option<string?> model = new("--model")
    {
        Description = "The classifier: 'zoo:shapesnet' (default), a TorchSharp weight file of a known architecture (ShapesNet, ReferenceModels.SmallCnn or .Mlp) or a TorchScript file (layer methods need hookable layers).",
    };

    private readonly Option<string?> layer = new("--layer")
    {
        Description = "Grad-CAM's layer (a named_modules() path with a [batch, channels, h, w] output). Default: the model's last convolution.",
    };

    private readonly Option<string?> image = new("--image")
    {
        Description = "A PNG/JPEG to explain (resized to the model's input size). Default: a shapes test image (the class is seed mod 11).",
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
        command.Options.Add(layer);
        command.Options.Add(image);
        command.Options.Add(target);
        command.Options.Add(method);
    }

    /// <inheritdoc />
    public override Study CreateStudy(ParseResult parse, bool quick)
    {
        var m = parse.GetValue(model);
        var l = parse.GetValue(layer);
        var t = parse.GetValue(target);
        // Open the model now, so that a missing file, a model that is not an image classifier, a wrong layer or a class the
        // model does not have is a usage error naming the option, before any work.
        StudyModel opened;
        try
        {
            opened = StudyModel.Open(m);
        }
        catch (Exception e) when (e is FileNotFoundException or ArgumentException or InvalidDataException or IOException or UnauthorizedAccessException
                                      or InvalidOperationException or System.Runtime.InteropServices.ExternalException)
        {
            throw new UsageException($"--model '{m ?? StudyModel.DefaultSpec}' cannot be used as an image classifier [N, C, H, W] → [N, classes]: {e.Message}");
        }
        using (opened)
        {
            try
            {
                AttributionStudy.ChooseLayers(opened, l);
            }
            catch (ArgumentException e)
            {
                throw new UsageException($"--layer{(l is null ? "" : $" '{l}'")}: {e.Message.Replace("layer: ", "")}");
            }
            if (t is long c && c >= opened.Classes)
                throw new UsageException($"--target {c} is not a class of the model: it has {opened.Classes} classes (0 to {opened.Classes - 1}).");
        }
        var img = parse.GetValue(image);
        if (img is not null)
        {
            try
            {
                using var probe = Interpretability.Imaging.Png.Read(img, 64, 64);
            }
            catch (Exception e) when (e is FileNotFoundException or ArgumentException or IOException or UnauthorizedAccessException)
            {
                throw new UsageException($"--image '{img}' cannot be used: {e.Message}");
            }
        }
        return new AttributionStudy(new AttributionStudyOptions(m, img, t, parse.GetValue(method)!, l));
    }
}
