using System.ComponentModel;
using BenchmarkDotNet.Attributes;
using Interpretability.Imaging;
using static TorchSharp.torch;

namespace Interpretability.Benchmarks;

/// <summary>Colour-mapping a map for a picture: the 256-entry lookup table gathered as one tensor op, against evaluating
/// the colormap per pixel in managed code.</summary>
[Config(typeof(BenchConfig))]
[Description("Colormap application (every heatmap and contact sheet): 256-entry LUT gathered as one tensor op vs evaluating viridis per pixel in managed code.")]
public class ColormapBenchmarks : ISmokeTestable
{
    private Tensor values = null!;
    private float[] data = null!;

    /// <summary>Side of the square map.</summary>
    [Params(256, 1024)]
    public int Size { get; set; }

    /// <inheritdoc />
    public void UseTinySizes() => Size = 8;

    /// <summary>Creates the map.</summary>
    [GlobalSetup]
    public void Setup()
    {
        using var g = new Generator(1);
        values = rand(new long[] { Size, Size }, generator: g);
        data = values.data<float>().ToArray();
    }

    /// <summary>Naive: evaluate the colormap polynomial for every pixel.</summary>
    [Benchmark(Baseline = true)]
    public float PerPixel()
    {
        var rgb = new float[3 * data.Length];
        for (int i = 0; i < data.Length; i++)
        {
            var (r, g, b) = Colormap.Viridis.Evaluate(data[i]);
            rgb[i] = (float)r; rgb[data.Length + i] = (float)g; rgb[2 * data.Length + i] = (float)b;
        }
        return rgb[^1];
    }

    /// <summary>The library's path: LUT gather on tensors.</summary>
    [Benchmark]
    public float LookupTable()
    {
        using var scope = NewDisposeScope();
        return Colormap.Viridis.Apply(values)[2, Size - 1, Size - 1].item<float>();
    }

    /// <summary>Frees the map.</summary>
    [GlobalCleanup]
    public void Cleanup() => values.Dispose();
}
