using System.ComponentModel;
using BenchmarkDotNet.Attributes;
using Interpretability.Imaging;
using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Benchmarks;

/// <summary>
/// Drawing a tuning grid of anti-aliased arcs: the library's batched tensor rasteriser (<see cref="Stimuli.Curves"/>)
/// against a per-pixel managed loop computing the same distance-to-arc intensity and copying the result into a tensor.
/// </summary>
[Config(typeof(BenchConfig))]
[Description("Count anti-aliased 64×64 arcs (orientation × radius grid), one libtorch thread: batched tensor distance fields vs a per-pixel C# loop.")]
public class StimuliBenchmarks : ISmokeTestable
{
    private IReadOnlyList<CurveSpec> specs = null!;
    private IDisposable? threads;

    /// <summary>Number of stimuli.</summary>
    [Params(72, 720)]
    public int Count { get; set; }

    /// <summary>Side of the images.</summary>
    public int Size { get; set; } = 64;

    /// <inheritdoc />
    public void UseTinySizes()
    {
        Count = 2;
        Size = 8;
    }

    /// <summary>Builds the grid.</summary>
    [GlobalSetup]
    public void Setup()
    {
        threads = BenchSession.OneThread();
        var radii = new[] { 3.0, 4, 5, 6, 8, 10, 12, 16, 20, 28 };
        specs = Stimuli.CurveGrid(Stimuli.Orientations(Math.Max(1, Count / radii.Length)), radii).Take(Count).ToList();
    }

    /// <summary>Naive: a managed loop over stimuli and pixels.</summary>
    [Benchmark(Baseline = true)]
    public float PerPixelLoop()
    {
        int n = specs.Count, s = Size, c = s / 2;
        var data = new float[n * 3 * s * s];
        for (int k = 0; k < n; k++)
        {
            var sp = specs[k];
            double cx = c + sp.Radius * Math.Cos(sp.Orientation), cy = c - sp.Radius * Math.Sin(sp.Orientation), half = sp.ArcLength / 2;
            double mid = sp.Orientation + Math.PI;
            for (int i = 0; i < s; i++)
                for (int j = 0; j < s; j++)
                {
                    double dx = j - cx, dy = cy - i;
                    var rel = Math.IEEERemainder(Math.Atan2(dy, dx) - mid, 2 * Math.PI);
                    double d;
                    if (Math.Abs(rel) <= half) d = Math.Abs(Math.Sqrt(dx * dx + dy * dy) - sp.Radius);
                    else
                    {
                        double e1x = cx + sp.Radius * Math.Cos(mid + half), e1y = cy - sp.Radius * Math.Sin(mid + half);
                        double e2x = cx + sp.Radius * Math.Cos(mid - half), e2y = cy - sp.Radius * Math.Sin(mid - half);
                        d = Math.Min(Math.Sqrt((j - e1x) * (j - e1x) + (i - e1y) * (i - e1y)), Math.Sqrt((j - e2x) * (j - e2x) + (i - e2y) * (i - e2y)));
                    }
                    var v = (float)Math.Clamp(sp.StrokeWidth / 2 + 0.5 - d, 0, 1);
                    for (int ch = 0; ch < 3; ch++) data[((k * 3 + ch) * s + i) * s + j] = v;
                }
        }
        using var t = tensor(data, new long[] { n, 3, s, s });
        return t[0, 0, c, c].item<float>();
    }

    /// <summary>The library: one batched distance field.</summary>
    [Benchmark]
    public float Batched()
    {
        using var t = Stimuli.Curves(specs, new StimulusCanvas(Size));
        return t[0, 0, Size / 2, Size / 2].item<float>();
    }

    /// <summary>Restores the thread count.</summary>
    [GlobalCleanup]
    public void Cleanup() => threads?.Dispose();
}
