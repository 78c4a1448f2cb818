using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Probing;

/// <summary>Options of an <see cref="ActivationRecorder"/>.</summary>
/// <param name="CaptureInputs">Also record each layer's input (what the layer received).</param>
/// <param name="KeepGraph">Keep the autograd graph: store a second handle on the live output instead of a detached copy,
/// so <c>torch.autograd.grad(objective, recorded)</c> works. Detached copies (the default) are values only.</param>
public sealed record ActivationRecorderOptions(bool CaptureInputs = false, bool KeepGraph = false);

/// <summary>
/// Records the outputs (and optionally the inputs) of any set of layers while the model runs forward; every
/// forward pass overwrites the previous record. Dispose it to remove the hooks.
/// </summary>
/// <remarks>
/// Recorded tensors live outside every dispose scope and belong to the recorder until <see cref="Take"/> hands them to
/// the caller; an overwritten record is disposed at once, so a recorder kept across a long loop does not grow memory.
/// If a layer runs several times in one forward pass (a shared module), the last call wins and
/// <see cref="CallCount"/> tells how many calls there were.
/// </remarks>
/// <example>
/// <code>
/// using var rec = new ActivationRecorder(model, ["conv1", "fc"]);
/// model.call(x);
/// using var capture = rec.Take();          // capture.Outputs["conv1"]: [batch, channels, height, width]
/// </code>
/// </example>
public sealed class ActivationRecorder : HookScope
{
    private readonly Dictionary<string, Tensor> outputs = new();
    private readonly Dictionary<string, Tensor> inputs = new();
    private readonly Dictionary<string, int> calls = new();
    private readonly ActivationRecorderOptions options;

    /// <summary>Hooks every layer of <paramref name="layers"/> (paths as in <see cref="LayerPath"/>).</summary>
    /// <exception cref="ArgumentException">A path does not exist (the message lists the real ones) or cannot be hooked.</exception>
    public ActivationRecorder(nn.Module model, IEnumerable<string> layers, ActivationRecorderOptions? options = null) : base(model)
    {
        ArgumentNullException.ThrowIfNull(layers);
        this.options = options ?? new ActivationRecorderOptions();
        if (this.options.KeepGraph) CpuConvolutionCheck.Ensure();   // the caller will differentiate through the layers
        Layers = layers.Distinct().ToArray();
        if (Layers.Count == 0) throw new ArgumentException("At least one layer path is required.", nameof(layers));
        foreach (var layer in Layers)
        {
            var name = layer;
            AddForwardHook(name, (input, output) =>
            {
                Store(outputs, name, output);
                if (this.options.CaptureInputs) Store(inputs, name, input);
                calls[name] = calls.GetValueOrDefault(name) + 1;
                return null;
            });
        }
    }

    /// <summary>The recorded layer paths, in the order given.</summary>
    public IReadOnlyList<string> Layers { get; }

    /// <summary>How many times each layer ran since the last <see cref="Take"/> or <see cref="Clear"/>.</summary>
    public IReadOnlyDictionary<string, int> CallCount => calls;

    /// <summary>
    /// The latest output of <paramref name="layer"/>, still owned by the recorder: the layer's shape, dtype and device
    /// (e.g. <c>[batch, channels, height, width]</c> for a convolution).
    /// </summary>
    /// <exception cref="ArgumentException">The layer is not recorded, or has not run yet.</exception>
    public Tensor Output(string layer) => Get(outputs, layer, "output");

    /// <summary>
    /// The latest input of <paramref name="layer"/> (requires <see cref="ActivationRecorderOptions.CaptureInputs"/>),
    /// as the layer received it (shape, dtype and device).
    /// </summary>
    public Tensor Input(string layer)
    {
        if (!options.CaptureInputs) throw new InvalidOperationException("Inputs are recorded only with ActivationRecorderOptions.CaptureInputs = true.");
        return Get(inputs, layer, "input");
    }

    /// <summary>Hands the current record to the caller (who disposes it) and starts an empty one.</summary>
    public ActivationCapture Take()
    {
        ThrowIfDisposed();
        var capture = new ActivationCapture(new Dictionary<string, Tensor>(outputs), new Dictionary<string, Tensor>(inputs));
        outputs.Clear(); inputs.Clear(); calls.Clear();
        return capture;
    }

    /// <summary>Disposes the current record.</summary>
    public void Clear()
    {
        foreach (var t in outputs.Values.Concat(inputs.Values)) t.Dispose();
        outputs.Clear(); inputs.Clear(); calls.Clear();
    }

    /// <summary>
    /// Runs <paramref name="model"/> once on <paramref name="input"/> and returns the outputs of <paramref name="layers"/>
    /// (and the model's output) as detached copies owned by the caller. No hook outlives the call.
    /// </summary>
    /// <param name="model">Any single-tensor TorchSharp module.</param>
    /// <param name="input">The model's input, e.g. <c>[batch, channels, height, width]</c>.</param>
    /// <param name="layers">Layer paths to record.</param>
    /// <param name="captureInputs">Also record each layer's input.</param>
    public static ActivationCapture Capture(nn.Module<Tensor, Tensor> model, Tensor input, IEnumerable<string> layers, bool captureInputs = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(input);
        using var recorder = new ActivationRecorder(model, layers, new ActivationRecorderOptions(captureInputs));
        Tensor modelOutput;
        using (no_grad())
        using (var scope = NewDisposeScope())
        {
            var y = model.call(input);
            modelOutput = y.detach().clone().DetachFromDisposeScope();
        }
        var capture = recorder.Take();
        capture.ModelOutput = modelOutput;
        return capture;
    }

    private void Store(Dictionary<string, Tensor> into, string layer, Tensor value)
    {
        if (into.Remove(layer, out var old)) old.Dispose();
        // Sequential disposes intermediate outputs, so keep our own handle: a detached copy, or with KeepGraph a
        // second handle on the same autograd node (alias), which stays valid after Sequential drops the first.
        var kept = options.KeepGraph ? value.alias() : value.detach().clone();
        into[layer] = kept.DetachFromDisposeScope();
    }

    private Tensor Get(Dictionary<string, Tensor> from, string layer, string what)
    {
        ThrowIfDisposed();
        if (!Layers.Contains(layer))
            throw new ArgumentException($"Layer '{layer}' is not recorded; recorded layers: {string.Join(", ", Layers.Select(l => $"'{l}'"))}.", nameof(layer));
        return from.TryGetValue(layer, out var t)
            ? t
            : throw new ArgumentException($"Layer '{layer}' has not produced an {what} yet: run the model forward first.", nameof(layer));
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing) => Clear();
}

/// <summary>
/// Captured activations handed to the caller: detached tensors outside any dispose scope. Dispose it to free them.
/// </summary>
public sealed class ActivationCapture : IDisposable
{
    internal ActivationCapture(IReadOnlyDictionary<string, Tensor> outputs, IReadOnlyDictionary<string, Tensor> inputs)
    {
        Outputs = outputs;
        Inputs = inputs;
    }

    /// <summary>Each recorded layer's output, by path; shapes are the layer's (e.g. <c>[batch, channels, height, width]</c>).</summary>
    public IReadOnlyDictionary<string, Tensor> Outputs { get; }

    /// <summary>
    /// Each recorded layer's input, by path, with the shape the layer received (empty unless inputs were captured).
    /// </summary>
    public IReadOnlyDictionary<string, Tensor> Inputs { get; }

    /// <summary>
    /// The model's own output (e.g. logits <c>[batch, classes]</c>), when the capture came from
    /// <see cref="ActivationRecorder.Capture"/>.
    /// </summary>
    public Tensor? ModelOutput { get; internal set; }

    /// <summary>
    /// The output of <paramref name="layer"/>, with the layer's shape (e.g. <c>[batch, channels, height, width]</c>).
    /// </summary>
    /// <param name="layer">Layer path.</param>
    public Tensor this[string layer] => Outputs.TryGetValue(layer, out var t)
        ? t
        : throw new ArgumentException($"Layer '{layer}' was not captured; captured: {string.Join(", ", Outputs.Keys.Select(k => $"'{k}'"))}.", nameof(layer));

    /// <summary>Disposes every captured tensor.</summary>
    public void Dispose()
    {
        foreach (var t in Outputs.Values.Concat(Inputs.Values)) t.Dispose();
        ModelOutput?.Dispose();
    }
}
