using Interpretability.Imaging;
using Interpretability.Probing;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Interpretability.Attribution;

/// <summary>Activation × weight attribution between two layers.</summary>
/// <param name="Attributions"><c>[batch, out, in]</c>: how much input channel <c>in</c> of the earlier layer contributes to
/// output channel <c>out</c> of the later conv layer (summed over the chosen positions).</param>
/// <param name="Kernels"><c>[batch, out, in, h, w]</c>: the same contributions before summing over the earlier layer's
/// positions (activation ⊙ weight at every position; zero outside the receptive field).</param>
/// <param name="Preactivation"><c>[batch, out]</c>: the later layer's output at the chosen positions (summed), for the
/// check Σ_in attribution = pre-activation − bias contribution.</param>
public sealed record CircuitAttribution(Tensor Attributions, Tensor Kernels, Tensor Preactivation) : IDisposable
{
    /// <summary>Disposes the tensors.</summary>
    public void Dispose()
    {
        Attributions.Dispose();
        Kernels.Dispose();
        Preactivation.Dispose();
    }
}

/// <summary>
/// Circuits between channels of two layers, as in "Curve Detectors" / "Visualizing Weights" (Cammarata, Olah et al.,
/// Distill 2020–21). <see cref="Attribute(nn.Module{Tensor, Tensor}, Tensor, string?, string, ValueTuple{long, long}?, ScalarType?)"/>:
/// activation × weight, <c>attr[o, i] = Σ_p a_from[i, p] · ∂z_to[o]/∂a_from[i, p]</c>; between adjacent layers (a conv
/// directly after <c>from</c>, or <c>from</c> = the conv's own input) this is exact, <c>Σ_i attr[o, i] = z_to[o] − b_o</c>,
/// and it stays exact through ReLU and max pooling (positively homogeneous). <see cref="ExpandedWeights"/>: the weights
/// from every channel of <c>from</c> to every channel of <c>to</c> as kernels <c>[out, in, kh, kw]</c>; between
/// non-adjacent layers the path is linearised as in "Visualizing Weights" (ReLU-like activations → identity, max
/// pooling → average pooling), so the expanded weights are the product of the conv weights across the intermediate
/// linear layers.
/// </summary>
public static class Circuits
{
    /// <summary>
    /// Activation × weight attribution from every channel of <paramref name="from"/> to every channel of the conv layer
    /// <paramref name="to"/> (later in the forward pass), at one position of <paramref name="to"/>'s output or summed
    /// over all of them.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="input">Input <c>[batch, ...]</c>.</param>
    /// <param name="from">Earlier layer, output <c>[batch, in, h, w]</c>; null = the input of <paramref name="to"/>
    /// itself (the classic circuit into a unit from the channels that feed it).</param>
    /// <param name="to">Later layer, output <c>[batch, out, h', w']</c> (typically a conv layer, pre-activation).</param>
    /// <param name="position">(y, x) of the later layer's output to explain; null = the sum over all positions.</param>
    /// <param name="dtype">Type the products <c>a · ∂z/∂a</c> and their sums are formed and returned in; null = the
    /// activations' type. Float64 with a float32 model makes each product exact (a float32 × float32 product fits a
    /// float64) and the sums accurate to float64 rounding.</param>
    public static CircuitAttribution Attribute(nn.Module<Tensor, Tensor> model, Tensor input, string? from, string to, (long Y, long X)? position = null, ScalarType? dtype = null)
    {
        CpuConvolutionCheck.Ensure();
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(input);
        return Compute(model, input, from, to, dtype, (h, w) =>
        {
            if (position is not (var py, var px)) return null;
            if (py < 0 || py >= h || px < 0 || px >= w)
                throw new ArgumentOutOfRangeException(nameof(position), $"position must lie in [0, {h - 1}] × [0, {w - 1}] of '{to}' output; got ({py}, {px}).");
            return Enumerable.Repeat(py * w + px, (int)input.shape[0]).ToArray();
        });
    }

    /// <summary>
    /// Activation × weight attribution as <see cref="Attribute(nn.Module{Tensor, Tensor}, Tensor, string?, string, ValueTuple{long, long}?, ScalarType?)"/>,
    /// with a position of its own for every row of the batch: row <c>b</c> explains <paramref name="to"/>'s output at
    /// <c>(positions[b, 0], positions[b, 1])</c>, e.g. each dataset example at its argmax. Between adjacent layers
    /// <c>Σ_i Attributions[b, o, i] = z_to[b, o, y_b, x_b] − b_o</c> exactly.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="input">Input <c>[batch, ...]</c>.</param>
    /// <param name="from">Earlier layer, output <c>[batch, in, h, w]</c>; null = the input of <paramref name="to"/> itself.</param>
    /// <param name="to">Later layer, output <c>[batch, out, h', w']</c> (typically a conv layer, pre-activation).</param>
    /// <param name="positions"><c>[batch, 2]</c> integer (y, x) of the later layer's output, one row per input row.</param>
    /// <param name="dtype">Type the products and sums are formed and returned in; null = the activations' type (see the
    /// other overload).</param>
    public static CircuitAttribution Attribute(nn.Module<Tensor, Tensor> model, Tensor input, string? from, string to, Tensor positions, ScalarType? dtype = null)
    {
        CpuConvolutionCheck.Ensure();
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(positions);
        if (positions.dim() != 2 || positions.shape[1] != 2 || positions.shape[0] != input.shape[0] || positions.is_floating_point() || positions.dtype == ScalarType.Bool)
            throw new ArgumentException($"positions must be [batch, 2] integer (y, x) with batch = {input.shape[0]}; got {GradientCore.Shape(positions)} {positions.dtype}.", nameof(positions));
        var yx = positions.to(ScalarType.Int64).cpu().contiguous().data<long>().ToArray();
        return Compute(model, input, from, to, dtype, (h, w) =>
        {
            var flat = new long[yx.Length / 2];
            for (int b = 0; b < flat.Length; b++)
            {
                long y = yx[2 * b], x = yx[2 * b + 1];
                if (y < 0 || y >= h || x < 0 || x >= w)
                    throw new ArgumentOutOfRangeException(nameof(positions), $"positions must lie in [0, {h - 1}] × [0, {w - 1}] of '{to}' output; row {b} is ({y}, {x}).");
                flat[b] = y * w + x;
            }
            return flat;
        });
    }

    /// <summary>
    /// The shared body: <paramref name="flatPositions"/> gets <c>to</c>'s output size and returns, per input row, the flat
    /// position <c>y · w' + x</c> to explain, or null for the sum over all positions.
    /// </summary>
    private static CircuitAttribution Compute(nn.Module<Tensor, Tensor> model, Tensor input, string? from, string to, ScalarType? dtype,
        Func<long, long, long[]?> flatPositions)
    {
        if (from is not null) LayerCheck.Find(model, from, nameof(from));
        var toModule = LayerCheck.Find(model, to, nameof(to));
        using var scope = NewDisposeScope();
        long batch = input.shape[0];
        using var probe = from is null
            ? ActivationRecorder.Capture(model, input, new[] { to }, captureInputs: true)
            : ActivationRecorder.Capture(model, input, new[] { from, to });
        var aFrom = from is null ? probe.Inputs[to] : probe[from];
        var zTo = probe[to];
        var fromName = from is null ? $"the input of '{to}'" : $"'{from}'";
        if (aFrom.dim() != 4 || zTo.dim() != 4)
            throw new ArgumentException($"Circuits need conv-shaped outputs [batch, channels, h, w]; {fromName} gives {GradientCore.Shape(aFrom)}, '{to}' gives {GradientCore.Shape(zTo)}.", from is null ? nameof(to) : nameof(from));
        long outC = zTo.shape[1], inC = aFrom.shape[1];
        var flat = flatPositions(zTo.shape[2], zTo.shape[3]);
        var where = flat is null ? null : tensor(flat, device: zTo.device);                                  // [B]

        // One row per (input row, output channel): the gradient of channel o of `to` w.r.t. `from`'s output.
        using var batchScalar = batch.ToScalar();
        using var outCScalar = outC.ToScalar();
        var which = arange(Scalars.IntZero, batchScalar, Scalars.IntOne, device: input.device).repeat_interleave(outC);
        var channel = arange(Scalars.IntZero, outCScalar, Scalars.IntOne, device: input.device).repeat(batch);
        var leaf = aFrom.index_select(0, which).detach().requires_grad_(true);
        Tensor? captured = null;
        Tensor g;
        using (var hooks = new HookScope(model))
        {
            using var eg = enable_grad();
            if (from is null) captured = toModule.call(leaf);                  // `to` on its own input: nothing else runs
            else
            {
                hooks.AddForwardHook(from, (_, output) => leaf.alias());
                hooks.AddForwardHook(to, (_, output) => { captured = output.alias(); return null; });
                model.call(input.index_select(0, which));
            }
            if (captured is null) throw new ArgumentException($"Layer '{to}' did not run after '{from}'.", nameof(to));
            var z = captured.gather(1, channel.reshape(-1, 1, 1, 1).expand(-1, 1, captured.shape[2], captured.shape[3])).squeeze(1);  // [B·O, h', w']
            var objective = where is null ? z.sum(new long[] { 1, 2 }) : z.flatten(1).gather(1, where.index_select(0, which).reshape(-1, 1)).squeeze(1);
            g = autograd.grad(new[] { objective.sum() }, new[] { leaf }, allow_unused: true)[0];
            if (g is null || g.IsInvalid)
                throw new ArgumentException($"Layer '{to}' does not depend on {fromName}" + (from is null ? "." : $"; is '{from}' earlier in the forward pass?"), from is null ? nameof(to) : nameof(from));
        }
        var type = dtype ?? leaf.dtype;
        var kernels = (leaf.detach().to(type) * g.to(type)).reshape(batch, outC, inC, aFrom.shape[2], aFrom.shape[3]);
        var attributions = kernels.sum(new long[] { 3, 4 });
        var pre = where is null ? zTo.sum(new long[] { 2, 3 }) : zTo.flatten(2).gather(2, where.reshape(-1, 1, 1).expand(-1, outC, 1)).squeeze(2);
        return new CircuitAttribution(attributions.MoveToOuterDisposeScope(), kernels.MoveToOuterDisposeScope(), pre.to(type).clone().MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Expanded weights from every channel of <paramref name="from"/> to every channel of <paramref name="to"/>:
    /// <c>[out, in, kh, kw]</c>, the response of <c>to</c>'s channel <c>out</c> at the centre of its output to a unit at
    /// each position of <c>from</c>'s channel <c>in</c>, with the path between them linearised (ReLU-like modules →
    /// identity, max pooling → average pooling), cropped to the receptive field. Between a layer and the conv directly
    /// after it these are that conv's weights.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="exampleInput">Any input of the model's size, <c>[1, ...]</c> (only its shape matters).</param>
    /// <param name="from">Earlier layer (output <c>[1, in, h, w]</c>).</param>
    /// <param name="to">Later layer (output <c>[1, out, h', w']</c>).</param>
    public static Tensor ExpandedWeights(nn.Module<Tensor, Tensor> model, Tensor exampleInput, string from, string to)
    {
        CpuConvolutionCheck.Ensure();
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(exampleInput);
        LayerCheck.Find(model, from, nameof(from));
        LayerCheck.Find(model, to, nameof(to));
        using var scope = NewDisposeScope();
        var x1 = exampleInput.narrow(0, 0, 1);
        using var probe = ActivationRecorder.Capture(model, x1, new[] { from, to });
        var aFrom = probe[from];
        var zTo = probe[to];
        if (aFrom.dim() != 4 || zTo.dim() != 4)
            throw new ArgumentException($"Expanded weights need conv-shaped outputs; '{from}' gives {GradientCore.Shape(aFrom)}, '{to}' gives {GradientCore.Shape(zTo)}.", nameof(from));
        long outC = zTo.shape[1], inC = aFrom.shape[1], cy = zTo.shape[2] / 2, cx = zTo.shape[3] / 2;
        var leaf = zeros(new[] { outC, inC, aFrom.shape[2], aFrom.shape[3] }, dtype: aFrom.dtype, device: aFrom.device).requires_grad_(true);
        Tensor? captured = null;
        Tensor g;
        using (var hooks = new HookScope(model))
        {
            foreach (var (path, module) in model.named_modules())
            {
                if (path == from || path == to) continue;
                if (ModuleKinds.IsElementwiseActivation(module)) hooks.AddForwardHook(path, (inp, _) => inp.alias());
                else if (ModuleKinds.IsMaxPooling(module))
                {
                    var pool = module;
                    hooks.AddForwardHook(path, (inp, _) => ModuleKinds.AveragePoolingLike(pool, inp)
                        ?? throw new ArgumentException($"Expanded weights cannot linearise '{path}' (a dilated max pooling).", nameof(from)));
                }
            }
            hooks.AddForwardHook(from, (_, _) => leaf.alias());
            hooks.AddForwardHook(to, (_, output) => { captured = output.alias(); return null; });
            using var eg = enable_grad();
            model.call(x1.expand(new[] { outC }.Concat(x1.shape.Skip(1)).ToArray()).contiguous());
            using var outCScalar = outC.ToScalar();
            var channel = arange(Scalars.IntZero, outCScalar, Scalars.IntOne, device: aFrom.device);
            var z = captured!.gather(1, channel.reshape(-1, 1, 1, 1).expand(-1, 1, captured.shape[2], captured.shape[3])).squeeze(1);
            g = autograd.grad(new[] { z[.., cy, cx].sum() }, new[] { leaf }, allow_unused: true)[0];
            if (g is null || g.IsInvalid) throw new ArgumentException($"Layer '{to}' does not depend on '{from}'.", nameof(from));
        }
        // Crop to the receptive field: the bounding box of non-zero weights over all channel pairs.
        var support = g.abs().sum(new long[] { 0, 1 }) > Scalars.IntZero;        // [h, w]
        var rows = support.any(1).nonzero().flatten();
        var cols = support.any(0).nonzero().flatten();
        if (rows.numel() == 0) return zeros(outC, inC, 1, 1).MoveToOuterDisposeScope();
        long r0 = rows.min().ToInt64(), r1 = rows.max().ToInt64(), c0 = cols.min().ToInt64(), c1 = cols.max().ToInt64();
        return g.detach()[.., .., TensorIndex.Slice(r0, r1 + 1), TensorIndex.Slice(c0, c1 + 1)].contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Draws kernels <c>[out, in, kh, kw]</c> (or <c>[out, in]</c> attributions) as a grid: a row per output channel, a
    /// column per input channel, one diverging colour scale (blue negative, red positive) shared by all tiles.
    /// </summary>
    /// <param name="kernels">The kernels.</param>
    /// <param name="title">Title over the grid.</param>
    /// <param name="maxOut">At most this many output channels (rows).</param>
    /// <param name="maxIn">At most this many input channels (columns).</param>
    /// <param name="tileSize">Pixels per tile.</param>
    /// <returns>PNG bytes.</returns>
    public static byte[] KernelPicture(Tensor kernels, string title, int maxOut = 16, int maxIn = 16, int tileSize = 28)
    {
        ArgumentNullException.ThrowIfNull(kernels);
        if (kernels.dim() is not (2 or 4)) throw new ArgumentException($"kernels must be [out, in, kh, kw] or [out, in]; got {GradientCore.Shape(kernels)}.", nameof(kernels));
        using var scope = NewDisposeScope();
        if (kernels.dim() == 2) kernels = kernels.unsqueeze(-1).unsqueeze(-1);
        var k = kernels.detach().cpu().to(float32);
        int o = (int)Math.Min(maxOut, k.shape[0]), n = (int)Math.Min(maxIn, k.shape[1]);
        var shown = k.narrow(0, 0, o).narrow(1, 0, n);
        var limit = Math.Max(shown.abs().max().ToDouble(), 1e-12);
        var tiles = new List<Tensor>();
        for (int r = 0; r < o; r++)
            for (int c = 0; c < n; c++)
                tiles.Add(Colormap.Diverging.Apply(Normalization.SymmetricWithLimit(limit).Apply(shown[r, c])));
        return ImageGrid.Encode(tiles, null, new GridOptions(Columns: n, TileSize: tileSize, Padding: 2,
            Title: $"{title} — shared scale ±{limit:G3} (blue −, red +)",
            RowLabels: Enumerable.Range(0, o).Select(i => $"out {i}").ToList(),
            ColumnLabels: Enumerable.Range(0, n).Select(i => $"{i}").ToList(), FontSize: 10f));
    }
}
