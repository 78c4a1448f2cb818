// A single-file C# script: `dotnet run samples/quickstart.cs` (from the repository root; the first run builds the
// library through #:project, about a minute). Captures layers of a small CNN, ablates two channels, and draws the
// gradient of a logit over the input into out/samples/.
// Outside this repository, replace the #:project line with `#:package Interpretability@<version>` (see the README).
#:project ../src/Interpretability/Interpretability.csproj
#:package libtorch-cpu-linux-x64@[2.10.0,2.11)
#:property PublishAot=false

using Interpretability;
using Interpretability.Imaging;
using Interpretability.Models;
using Interpretability.Probing;
using static TorchSharp.torch;

using var session = TorchSession.Start();   // threads, OpenMP's wait policy, quiet libtorch: once, at the top
using var model = ReferenceModels.SmallCnn(inChannels: 3, classes: 10, seed: 1);
var images = rand(new long[] { 8, 3, 64, 64 });

using var capture = ActivationRecorder.Capture(model, images, new[] { "conv1", "relu3" });
Png.Save(capture["conv1"][0, 0], "out/samples/conv1_ch0.png", new PngOptions(Normalization.MinMax, Colormap.Viridis, Scale: 4));

using (Ablation.Zero(model, "relu3", new long[] { 0, 5 }))
using (no_grad())
    Console.WriteLine($"logits with relu3 channels 0 and 5 ablated: {model.call(images)[0].ToString(TorchSharp.TensorStringStyle.Numpy)}");

using var g = LayerGradient.Compute(model, images, "relu3", y => y[0, 3]);
var map = (g.Gradient.mean(new long[] { 2, 3 }, keepdim: true) * g.Activation).sum(1)[0];
Png.Save(Overlay.Heatmap(images[0], map), "out/samples/gradient_overlay.png");
Console.WriteLine("wrote out/samples/conv1_ch0.png and out/samples/gradient_overlay.png");
