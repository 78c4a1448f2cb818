using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Interpretability.Imaging;

namespace Interpretability.Studies;

/// <summary>
/// The numbers a script reads: an ordered JSON object with stable snake_case keys and numbers written as numbers.
/// Non-finite numbers are refused (a NaN in <c>metrics.json</c> would be a silent failure).
/// </summary>
public sealed partial class Metrics
{
    private readonly JsonObject root = new();

    [GeneratedRegex("^[a-z][a-z0-9]*(_[a-z0-9]+)*$")]
    private static partial Regex SnakeCase();

    /// <summary>The keys set so far, in order.</summary>
    public IEnumerable<string> Keys => root.Select(p => p.Key);

    /// <summary>True when <paramref name="key"/> is set.</summary>
    public bool Contains(string key) => root.ContainsKey(key);

    /// <summary>Sets a number.</summary>
    public Metrics Set(string key, double value) => Put(key, JsonValue.Create(Finite(key, value)));

    /// <summary>Sets an integer.</summary>
    public Metrics Set(string key, long value) => Put(key, JsonValue.Create(value));

    /// <summary>Sets an integer.</summary>
    public Metrics Set(string key, int value) => Put(key, JsonValue.Create(value));

    /// <summary>Sets a boolean.</summary>
    public Metrics Set(string key, bool value) => Put(key, JsonValue.Create(value));

    /// <summary>Sets a string.</summary>
    public Metrics Set(string key, string value) => Put(key, JsonValue.Create(value ?? throw new ArgumentNullException(nameof(value))));

    /// <summary>Sets a list of numbers.</summary>
    public Metrics Set(string key, IEnumerable<double> values) =>
        Put(key, new JsonArray(values.Select((v, i) => (JsonNode?)JsonValue.Create(Finite($"{key}[{i}]", v))).ToArray()));

    /// <summary>Sets a list of integers.</summary>
    public Metrics Set(string key, IEnumerable<long> values) =>
        Put(key, new JsonArray(values.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray()));

    /// <summary>Sets a list of integers.</summary>
    public Metrics Set(string key, IEnumerable<int> values) =>
        Put(key, new JsonArray(values.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray()));

    /// <summary>Sets a list of strings.</summary>
    public Metrics Set(string key, IEnumerable<string> values) =>
        Put(key, new JsonArray(values.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray()));

    /// <summary>Sets a nested object (e.g. one entry per method or per unit).</summary>
    public Metrics Set(string key, Metrics nested) => Put(key, nested.root.DeepClone());

    /// <summary>Sets a list of nested objects.</summary>
    public Metrics Set(string key, IEnumerable<Metrics> nested) =>
        Put(key, new JsonArray(nested.Select(n => (JsonNode?)n.root.DeepClone()).ToArray()));

    /// <summary>Sets a map from names (any text, e.g. method names) to numbers.</summary>
    public Metrics Set(string key, IEnumerable<KeyValuePair<string, double>> values)
    {
        var obj = new JsonObject();
        foreach (var (name, v) in values) obj[name] = JsonValue.Create(Finite($"{key}.{name}", v));
        return Put(key, obj);
    }

    /// <summary>The value of <paramref name="key"/> as a number (for tests and reports).</summary>
    public double GetDouble(string key) => root[key] is JsonValue v ? v.GetValue<double>() : throw new KeyNotFoundException(key);

    /// <summary>The JSON text (indented).</summary>
    public string ToJson() => root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    /// <summary>A copy of the underlying JSON object.</summary>
    public JsonObject ToJsonObject() => (JsonObject)root.DeepClone();

    /// <summary>Flattened <c>key → text</c> pairs for display (nested keys joined with '.').</summary>
    public IReadOnlyList<(string Key, string Value)> Flatten()
    {
        var list = new List<(string, string)>();
        void Walk(string prefix, JsonNode? node)
        {
            switch (node)
            {
                case JsonObject o:
                    foreach (var (k, v) in o) Walk(prefix.Length == 0 ? k : $"{prefix}.{k}", v);
                    break;
                case JsonArray a when a.All(x => x is JsonValue):
                    list.Add((prefix, "[" + string.Join(", ", a.Select(Format)) + "]"));
                    break;
                case JsonArray a:
                    for (int i = 0; i < a.Count; i++) Walk($"{prefix}[{i}]", a[i]);
                    break;
                default:
                    list.Add((prefix, Format(node)));
                    break;
            }
        }
        Walk("", root);
        return list;
    }

    /// <summary>Writes <c>metrics.json</c> (or any path) atomically.</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson() + "\n");

    private static string Format(JsonNode? node) => node switch
    {
        null => "null",
        JsonValue v when v.TryGetValue<double>(out var d) => d.ToString("G6", CultureInfo.InvariantCulture),
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        _ => node.ToJsonString(),
    };

    private Metrics Put(string key, JsonNode? node)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (!SnakeCase().IsMatch(key)) throw new ArgumentException($"Metric key '{key}' is not snake_case (lower-case words joined by '_').", nameof(key));
        root[key] = node;
        return this;
    }

    private static double Finite(string key, double value) =>
        double.IsFinite(value) ? value : throw new ArgumentException($"Metric '{key}' is {value.ToString(CultureInfo.InvariantCulture)}; metrics.json holds finite numbers only.", nameof(value));
}
