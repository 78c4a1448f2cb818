using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Interpretability.Benchmarks;

/// <summary>
/// A compact ResNet-18 (He et al. 2016) with hookable named layers: <c>conv1, bn1, relu, maxpool, layer1..layer4</c>
/// (two basic blocks each, 64-128-256-512 channels), <c>avgpool, flatten, fc</c>. Random initialisation; used as an
/// ImageNet-sized workload for the feature-visualisation step benchmark.
/// </summary>
public static class ResNet18
{
    /// <summary>Builds the network: input <c>[N, 3, H, W]</c> (H, W ≥ 32) → logits <c>[N, classes]</c>.</summary>
    /// <param name="classes">Output logits.</param>
    /// <param name="seed">Initialisation seed (global RNG).</param>
    public static Sequential Create(int classes = 1000, long seed = 0)
    {
        torch.manual_seed(seed);
        var layers = new List<(string, Module<Tensor, Tensor>)>
        {
            ("conv1", Conv2d(3, 64, 7, stride: 2, padding: 3, bias: false)),
            ("bn1", BatchNorm2d(64)),
            ("relu", ReLU()),
            ("maxpool", MaxPool2d(3, stride: 2, padding: 1)),
        };
        int inChannels = 64;
        var widths = new[] { 64, 128, 256, 512 };
        for (int l = 0; l < 4; l++)
        {
            int stride = l == 0 ? 1 : 2;
            layers.Add(($"layer{l + 1}", Sequential(("0", new BasicBlock(inChannels, widths[l], stride)), ("1", new BasicBlock(widths[l], widths[l], 1)))));
            inChannels = widths[l];
        }
        layers.Add(("avgpool", AdaptiveAvgPool2d(1)));
        layers.Add(("flatten", Flatten()));
        layers.Add(("fc", Linear(512, classes)));
        var model = Sequential(layers);
        model.eval();
        return model;
    }

    /// <summary>Two 3×3 convolutions with batch norm and a shortcut (1×1 convolution when the shape changes).</summary>
    private sealed class BasicBlock : Module<Tensor, Tensor>
    {
        private readonly Conv2d conv1, conv2;
        private readonly BatchNorm2d bn1, bn2;
        private readonly ReLU relu1, relu2;
        private readonly Module<Tensor, Tensor>? downsample;

        public BasicBlock(int input, int output, int stride) : base(nameof(BasicBlock))
        {
            conv1 = Conv2d(input, output, 3, stride: stride, padding: 1, bias: false);
            bn1 = BatchNorm2d(output);
            relu1 = ReLU();
            conv2 = Conv2d(output, output, 3, padding: 1, bias: false);
            bn2 = BatchNorm2d(output);
            relu2 = ReLU();
            if (stride != 1 || input != output)
                downsample = Sequential(("0", Conv2d(input, output, 1, stride: stride, bias: false)), ("1", BatchNorm2d(output)));
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var y = bn2.call(conv2.call(relu1.call(bn1.call(conv1.call(x)))));
            var shortcut = downsample is null ? x : downsample.call(x);
            return relu2.call(y + shortcut).MoveToOuterDisposeScope();
        }
    }
}
