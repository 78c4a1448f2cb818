namespace Interpretability.Benchmarks;

/// <summary>
/// A benchmark that can shrink itself for the smoke test, which runs every benchmark method once (no timing) so the
/// suite never rots. The test sets every <c>[Params]</c> property to its first value, then calls
/// <see cref="UseTinySizes"/>, then <c>[GlobalSetup]</c>, each <c>[Benchmark]</c> once, and <c>[GlobalCleanup]</c>.
/// </summary>
public interface ISmokeTestable
{
    /// <summary>Switches to the smallest sizes that still exercise every code path.</summary>
    void UseTinySizes();
}
