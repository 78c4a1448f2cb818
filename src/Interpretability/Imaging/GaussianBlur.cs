using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Interpretability.Imaging;

/// <summary>Gaussian blur of image batches, as a separable convolution with reflected borders (no shift, no darkening).</summary>
public static class GaussianBlur
{
    /// <summary>Blurs every channel of every image with a Gaussian of standard deviation <paramref name="sigma"/> pixels
    /// (kernel radius ⌈3σ⌉, at most the image size − 1).</summary>
    /// <param name="images"><c>[B, C, H, W]</c> floating point.</param>
    /// <param name="sigma">Standard deviation in pixels, positive and finite.</param>
    /// <returns><c>[B, C, H, W]</c>, same dtype and device.</returns>
    public static Tensor Apply(Tensor images, double sigma)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.dim() != 4) throw new ArgumentException($"images must be [B, C, H, W]; got [{string.Join(", ", images.shape)}].", nameof(images));
        if (!(sigma > 0) || !double.IsFinite(sigma)) throw new ArgumentOutOfRangeException(nameof(sigma), sigma, "sigma must be positive and finite.");
        long c = images.shape[1], h = images.shape[2], w = images.shape[3];
        int radius = (int)Math.Min(Math.Ceiling(3 * sigma), Math.Min(h, w) - 1);
        if (radius < 1) return images.clone();
        var weights = Enumerable.Range(-radius, 2 * radius + 1).Select(x => Math.Exp(-x * x / (2 * sigma * sigma))).ToArray();
        var sum = weights.Sum();
        using var scope = NewDisposeScope();
        var kernel = tensor(weights.Select(v => (float)(v / sum)).ToArray(), dtype: images.dtype, device: images.device);
        var horizontal = kernel.reshape(1, 1, 1, -1).expand(c, 1, 1, 2 * radius + 1);
        var vertical = kernel.reshape(1, 1, -1, 1).expand(c, 1, 2 * radius + 1, 1);
        var x = F.conv2d(F.pad(images, new long[] { radius, radius, 0, 0 }, PaddingModes.Reflect), horizontal, groups: c);
        x = F.conv2d(F.pad(x, new long[] { 0, 0, radius, radius }, PaddingModes.Reflect), vertical, groups: c);
        return x.MoveToOuterDisposeScope();
    }
}
