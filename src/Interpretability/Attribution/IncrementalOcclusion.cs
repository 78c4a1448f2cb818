using Interpretability.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>
/// The logits of one image with each of many windows set to a baseline, computed by incremental inference (Nakandala et
/// al. 2019, "Incremental and Approximate Inference for Faster Occlusion-based Deep CNN Explanations", exact variant):
/// the chain's activations of the unoccluded image are computed once; for every window only the box of each stage's
/// output that the window can reach is recomputed, from a crop of the stage's input assembled from the cached original
/// and the previous stage's recomputed box. All windows of a batch are processed together with boxes of one shared size,
/// so each stage is one gather, one <see cref="SpatialStage.Valid"/> call and one select. The result equals a full forward
/// pass of every occluded image up to floating-point summation order.
/// </summary>
internal sealed class IncrementalOcclusion
{
    private readonly SpatialChain chain;
    private readonly Tensor?[] paddedInputs;       // per spatial stage: its original input, padded  [1, C, H + 2p, W + 2p]
    private readonly (long H, long W)[] inputSizes; // per stage: the input's height and width
    private readonly Tensor last;                   // the last stage's original output                [1, C, H, W]
    private readonly long imageChannels;

    /// <summary>Caches the chain's activations of <paramref name="image"/> <c>[1, C, H, W]</c>.</summary>
    public IncrementalOcclusion(SpatialChain chain, Tensor image)
    {
        this.chain = chain;
        imageChannels = image.shape[1];
        paddedInputs = new Tensor?[chain.Stages.Count];
        inputSizes = new (long, long)[chain.Stages.Count];
        var x = image;
        for (int i = 0; i < chain.Stages.Count; i++)
        {
            var stage = chain.Stages[i];
            inputSizes[i] = (x.shape[2], x.shape[3]);
            if (stage.IsPointwise)
            {
                x = stage.Valid(x);
                continue;
            }
            var (ho, wo) = stage.OutputSize(x.shape[2], x.shape[3]);
            if (ho < 1 || wo < 1)
                throw new ArgumentException($"Stage '{stage.Name}' of the chain gets a {x.shape[2]}×{x.shape[3]} input, smaller than its {stage.KernelHeight}×{stage.KernelWidth} kernel with padding {stage.PadY}×{stage.PadX}.", "input");
            paddedInputs[i] = stage.Padded(x);
            x = stage.Valid(paddedInputs[i]!);
        }
        last = x;
    }

    /// <summary>
    /// Logits <c>[n, classes]</c> of the image with window <c>k</c> (top-left <c>(top[k], left[k])</c>, size
    /// <paramref name="height"/> × <paramref name="width"/>, every channel) set to <paramref name="baseline"/>.
    /// </summary>
    public Tensor Logits(long[] top, long[] left, int height, int width, float baseline)
    {
        int n = top.Length;
        var device = last.device;
        // The changed region of the current activation per window ([y0, y1) × [x0, x1)) and the box of shared size
        // bh × bw (⊇ region, inside the activation) whose recomputed values y holds.
        var region = new (long Y0, long Y1, long X0, long X1)[n];
        var boxY = (long[])top.Clone();
        var boxX = (long[])left.Clone();
        for (int k = 0; k < n; k++) region[k] = (top[k], top[k] + height, left[k], left[k] + width);
        long bh = height, bw = width;
        using var baselineScalar = baseline.ToScalar();
        var y = full(new long[] { n, imageChannels, height, width }, baselineScalar, dtype: last.dtype, device: device);
        for (int i = 0; i < chain.Stages.Count; i++)
        {
            var stage = chain.Stages[i];
            if (stage.IsPointwise)
            {
                y = stage.Valid(y);
                continue;
            }
            var (h, w) = inputSizes[i];
            var (ho, wo) = stage.OutputSize(h, w);
            // Output pixel o reads padded input rows [o·s, o·s + k), i.e. input rows [o·s − p, o·s − p + k): it changes iff
            // that range meets [y0, y1), i.e. (y0 + p − k)/s < o < (y1 + p)/s.
            long nbh = 1, nbw = 1;
            var next = new (long Y0, long Y1, long X0, long X1)[n];
            for (int k = 0; k < n; k++)
            {
                var (oy0, oy1) = Reach(region[k].Y0, region[k].Y1, stage.KernelHeight, stage.StrideY, stage.PadY, ho);
                var (ox0, ox1) = Reach(region[k].X0, region[k].X1, stage.KernelWidth, stage.StrideX, stage.PadX, wo);
                next[k] = (oy0, oy1, ox0, ox1);
                nbh = Math.Max(nbh, oy1 - oy0);
                nbw = Math.Max(nbw, ox1 - ox0);
            }
            var nextBoxY = new long[n];
            var nextBoxX = new long[n];
            var startY = new long[n];
            var startX = new long[n];
            for (int k = 0; k < n; k++)
            {
                nextBoxY[k] = Math.Clamp(next[k].Y0, 0, ho - nbh);
                nextBoxX[k] = Math.Clamp(next[k].X0, 0, wo - nbw);
                startY[k] = nextBoxY[k] * stage.StrideY;                           // in padded coordinates
                startX[k] = nextBoxX[k] * stage.StrideX;
            }
            long cropH = (nbh - 1) * stage.StrideY + stage.KernelHeight;
            long cropW = (nbw - 1) * stage.StrideX + stage.KernelWidth;
            var crop = Assemble(paddedInputs[i]!, stage.PadY, stage.PadX, y, boxY, boxX, startY, startX, cropH, cropW);
            y = stage.Valid(crop);                                                  // [n, C', nbh, nbw]
            region = next;
            boxY = nextBoxY;
            boxX = nextBoxX;
            bh = nbh;
            bw = nbw;
        }
        var whole = Assemble(last, 0, 0, y, boxY, boxX, new long[n], new long[n], last.shape[2], last.shape[3]);
        return chain.Head(whole);
    }

    /// <summary>Output indices [o0, o1) (clamped to [0, size)) that read any of the input indices [i0, i1).</summary>
    private static (long O0, long O1) Reach(long i0, long i1, int kernel, int stride, int pad, long size)
    {
        if (i1 <= i0) return (0, 0);
        long o0 = Math.Max(0, FloorDiv(i0 + pad - kernel, stride) + 1);
        long o1 = Math.Min(size, CeilDiv(i1 + pad, stride));
        return o1 > o0 ? (o0, o1) : (0, 0);
    }

    private static long FloorDiv(long a, long b) => a >= 0 ? a / b : -((-a + b - 1) / b);

    private static long CeilDiv(long a, long b) => -FloorDiv(-a, b);

    /// <summary>
    /// Crops <c>[n, C, cropH, cropW]</c> of the activation with window k's recomputed box pasted in: element (r, c) of crop
    /// k is padded-input position (startY[k] + r, startX[k] + c); it comes from <paramref name="box"/> where that position
    /// lies in window k's box, from the cached original <paramref name="padded"/> elsewhere.
    /// </summary>
    private static Tensor Assemble(Tensor padded, int padY, int padX, Tensor box, long[] boxY, long[] boxX, long[] startY, long[] startX, long cropH, long cropW)
    {
        long n = box.shape[0], channels = box.shape[1], bh = box.shape[2], bw = box.shape[3];
        long paddedW = padded.shape[3];
        var device = box.device;
        using Scalar cropHScalar = cropH.ToScalar(), cropWScalar = cropW.ToScalar(), bhScalar = bh.ToScalar(), bwScalar = bw.ToScalar(),
            bhLast = (bh - 1).ToScalar(), bwLast = (bw - 1).ToScalar();
        var rows = tensor(startY, device: device).unsqueeze(1) + arange(Scalars.IntZero, cropHScalar, Scalars.IntOne, dtype: int64, device: device);   // [n, cropH] padded rows
        var cols = tensor(startX, device: device).unsqueeze(1) + arange(Scalars.IntZero, cropWScalar, Scalars.IntOne, dtype: int64, device: device);   // [n, cropW]
        var inRows = rows - padY - tensor(boxY, device: device).unsqueeze(1);                                  // row within the box
        var inCols = cols - padX - tensor(boxX, device: device).unsqueeze(1);
        var inside = ((inRows >= Scalars.IntZero) & (inRows < bhScalar)).unsqueeze(2) & ((inCols >= Scalars.IntZero) & (inCols < bwScalar)).unsqueeze(1);   // [n, cropH, cropW]
        var fromOriginal = (rows.unsqueeze(2) * paddedW + cols.unsqueeze(1)).reshape(n, 1, cropH * cropW).expand(n, channels, cropH * cropW);
        var fromBox = (inRows.clamp(Scalars.IntZero, bhLast).unsqueeze(2) * bw + inCols.clamp(Scalars.IntZero, bwLast).unsqueeze(1)).reshape(n, 1, cropH * cropW).expand(n, channels, cropH * cropW);
        var original = padded.reshape(1, channels, -1).expand(n, channels, padded.shape[2] * paddedW).gather(2, fromOriginal);
        var recomputed = box.reshape(n, channels, bh * bw).gather(2, fromBox);
        return where(inside.reshape(n, 1, cropH * cropW), recomputed, original).reshape(n, channels, cropH, cropW);
    }
}
