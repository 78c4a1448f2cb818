using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Interpretability;

/// <summary>
/// What kind of computation a TorchSharp module is, where several capabilities need to know: the elementwise activations
/// rule-based attribution rewrites, max pooling and its linear stand-in, in-place modules whose forward hook cannot see
/// their input.
/// </summary>
public static class ModuleKinds
{
    /// <summary>Whether <paramref name="module"/> applies a nonlinear function to each element on its own: ReLU, ReLU6,
    /// LeakyReLU, ELU, GELU, SiLU, Softplus, Sigmoid, Tanh, Hardtanh.</summary>
    public static bool IsElementwiseActivation(nn.Module module) =>
        module is ReLU or ReLU6 or LeakyReLU or ELU or GELU or SiLU or Softplus or Sigmoid or Tanh or Hardtanh;

    /// <summary>Whether <paramref name="module"/> is a max pooling (1-d, 2-d or adaptive 2-d).</summary>
    public static bool IsMaxPooling(nn.Module module) => module is MaxPool1d or MaxPool2d or AdaptiveMaxPool2d;

    /// <summary>
    /// Whether <paramref name="module"/> overwrites its input (<c>inplace: true</c>): a forward hook then sees the input
    /// already changed, so rules that need the input (DeepLift's reference, the nonlinearity audit) cannot use it.
    /// </summary>
    public static bool IsInPlace(nn.Module module) => module switch
    {
        ReLU r => r.inplace,
        LeakyReLU l => l.inplace,
        ELU e => e.inplace,
        ReLU6 r6 => r6.inplace,
        Hardtanh h => h.inplace,
        _ => false,
    };

    /// <summary>
    /// The linear stand-in of a max pooling: average pooling over the same windows (as Olah et al. 2020, "Visualizing
    /// Weights", Distill, doi:10.23915/distill.00024.007, expand weights across max pooling). Null for any other module,
    /// or a dilated max pooling (average pooling has no dilation).
    /// </summary>
    /// <param name="module">The module.</param>
    /// <param name="input">Its input, <c>[batch, channels, (h,) w]</c>.</param>
    /// <returns>The averaged input, shaped like the max pooling's output, or null.</returns>
    public static Tensor? AveragePoolingLike(nn.Module module, Tensor input) => module switch
    {
        MaxPool2d p when p.dilation is null || p.dilation.All(d => d == 1) =>
            nn.functional.avg_pool2d(input, p.kernel_size, p.stride ?? p.kernel_size, p.padding ?? new long[] { 0, 0 }, p.ceil_mode),
        MaxPool1d p when p.dilation is null || p.dilation == 1 =>
            nn.functional.avg_pool1d(input, p.kernel_size, p.stride ?? p.kernel_size, p.padding ?? 0, p.ceil_mode),
        AdaptiveMaxPool2d p => nn.functional.adaptive_avg_pool2d(input, p.output_size),
        _ => null,
    };
}
