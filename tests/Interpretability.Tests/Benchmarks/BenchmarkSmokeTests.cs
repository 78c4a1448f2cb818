using System.Reflection;
using BenchmarkDotNet.Attributes;
using Interpretability.Benchmarks;

namespace Interpretability.Tests.Benchmarks;

/// <summary>
/// Runs every benchmark method once at tiny sizes (no timing), so the suite never rots: the first value of every
/// <c>[Params]</c>, then <see cref="ISmokeTestable.UseTinySizes"/>, <c>[GlobalSetup]</c>, each <c>[Benchmark]</c>, <c>[GlobalCleanup]</c>.
/// </summary>
public class BenchmarkSmokeTests
{
    public static IEnumerable<object[]> BenchmarkClasses() =>
        typeof(ISmokeTestable).Assembly.GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false } && t.GetMethods().Any(m => m.GetCustomAttribute<BenchmarkAttribute>() is not null))
            .OrderBy(t => t.Name)
            .Select(t => new object[] { t.Name });

    [Fact]
    public void The_suite_has_benchmarks_and_each_names_a_baseline()
    {
        var classes = BenchmarkClasses().Select(c => (string)c[0]).ToList();
        foreach (var name in classes)
        {
            var type = typeof(ISmokeTestable).Assembly.GetTypes().Single(t => t.Name == name);
            Assert.True(type.GetMethods().Count(m => m.GetCustomAttribute<BenchmarkAttribute>()?.Baseline == true) == 1,
                $"{name} must mark exactly one method [Benchmark(Baseline = true)] (its naive baseline).");
            Assert.True(typeof(ISmokeTestable).IsAssignableFrom(type), $"{name} must implement ISmokeTestable.");
        }
    }

    [Theory]
    [MemberData(nameof(BenchmarkClasses))]
    public void Every_benchmark_method_runs_once_at_tiny_sizes(string className)
    {
        var type = typeof(ISmokeTestable).Assembly.GetTypes().Single(t => t.Name == className);
        var instance = Activator.CreateInstance(type)!;
        foreach (var member in type.GetMembers(BindingFlags.Public | BindingFlags.Instance))
        {
            var p = member.GetCustomAttribute<ParamsAttribute>();
            if (p is null || p.Values.Length == 0) continue;
            switch (member)
            {
                case PropertyInfo prop: prop.SetValue(instance, p.Values[0]); break;
                case FieldInfo field: field.SetValue(instance, p.Values[0]); break;
            }
        }
        ((ISmokeTestable)instance).UseTinySizes();
        Invoke<GlobalSetupAttribute>(type, instance);
        try
        {
            foreach (var m in type.GetMethods().Where(m => m.GetCustomAttribute<BenchmarkAttribute>() is not null))
            {
                Invoke<IterationSetupAttribute>(type, instance);
                var result = m.Invoke(instance, null);
                (result as IDisposable)?.Dispose();
                Invoke<IterationCleanupAttribute>(type, instance);
            }
        }
        finally
        {
            Invoke<GlobalCleanupAttribute>(type, instance);
        }
    }

    private static void Invoke<TAttribute>(Type type, object instance) where TAttribute : Attribute
    {
        foreach (var m in type.GetMethods().Where(m => m.GetCustomAttribute<TAttribute>() is not null)) m.Invoke(instance, null);
    }
}
