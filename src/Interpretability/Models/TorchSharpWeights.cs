using TorchSharp;
using static TorchSharp.torch;

namespace Interpretability.Models;

/// <summary>
/// Loads weight files in TorchSharp's format (<c>module.save</c>; from PyTorch, TorchSharp's <c>exportsd.py</c> writes
/// it from a <c>state_dict</c>) into a matching module, with errors that name the file and what does not match.
/// </summary>
public static class TorchSharpWeights
{
    /// <summary>Loads <paramref name="path"/> into <paramref name="module"/> (strict: every parameter must match by name and shape).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is corrupt, or its parameters do not match the module's.</exception>
    public static void Load(nn.Module module, string path)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Weight file '{path}' does not exist.", path);
        using var stream = File.OpenRead(path);
        Load(module, stream, path);
    }

    /// <summary>Loads weights from <paramref name="stream"/>; <paramref name="sourceName"/> names it in errors.</summary>
    public static void Load(nn.Module module, Stream stream, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(stream);
        // Read into a copy first so a failed load never leaves the module half-overwritten.
        var expected = module.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        Dictionary<string, Tensor> loaded;
        try
        {
            loaded = ReadStateDict(stream);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"Weight file '{sourceName}' is not a readable TorchSharp weight file ({e.Message}).", e);
        }
        try
        {
            var missing = expected.Keys.Where(k => !loaded.ContainsKey(k)).ToList();
            var unexpected = loaded.Keys.Where(k => !expected.ContainsKey(k)).ToList();
            if (missing.Count > 0 || unexpected.Count > 0)
                throw new InvalidDataException($"Weight file '{sourceName}' does not match the module {module.GetName()}: " +
                    (missing.Count > 0 ? $"missing {string.Join(", ", missing)}" : "") + (missing.Count > 0 && unexpected.Count > 0 ? "; " : "") +
                    (unexpected.Count > 0 ? $"unexpected {string.Join(", ", unexpected)}" : "") + ".");
            foreach (var (name, shape) in expected)
                if (!loaded[name].shape.SequenceEqual(shape))
                    throw new InvalidDataException($"Weight file '{sourceName}': parameter '{name}' has shape [{string.Join(", ", loaded[name].shape)}], the module expects [{string.Join(", ", shape)}].");
            using var noGrad = no_grad();
            var target = module.state_dict();
            foreach (var (name, value) in loaded) target[name].copy_(value);
        }
        finally
        {
            foreach (var t in loaded.Values) t.Dispose();
        }
    }

    /// <summary>The parameter names and shapes stored in a TorchSharp weight file (to recognise its architecture).</summary>
    /// <param name="path">The weight file.</param>
    /// <returns>Each parameter's shape by its <c>state_dict</c> name.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a readable TorchSharp weight file.</exception>
    public static IReadOnlyDictionary<string, long[]> ReadShapes(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Weight file '{path}' does not exist.", path);
        using var stream = File.OpenRead(path);
        Dictionary<string, Tensor> loaded;
        try
        {
            loaded = ReadStateDict(stream);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"Weight file '{path}' is not a readable TorchSharp weight file ({e.Message}).", e);
        }
        var shapes = loaded.ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        foreach (var t in loaded.Values) t.Dispose();
        return shapes;
    }

    /// <summary>Reads the TorchSharp state-dict format: LEB128 count, then (LEB128 name length, UTF-8 name, tensor)*.</summary>
    private static Dictionary<string, Tensor> ReadStateDict(Stream stream)
    {
        using var reader = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        var count = checked((int)Leb128(reader));
        if (count > 100_000) throw new InvalidDataException($"implausible parameter count {count}");
        var result = new Dictionary<string, Tensor>();
        try
        {
            for (int i = 0; i < count; i++)
            {
                var nameLength = checked((int)Leb128(reader));
                if (nameLength > 10_000) throw new InvalidDataException($"implausible name length {nameLength}");
                var name = System.Text.Encoding.UTF8.GetString(reader.ReadBytes(nameLength));
                var type = (ScalarType)Leb128(reader);
                var dims = checked((int)Leb128(reader));
                if (dims > 16) throw new InvalidDataException($"implausible rank {dims} of '{name}'");
                var shape = new long[dims];
                for (int d = 0; d < dims; d++) shape[d] = (long)Leb128(reader);
                var elementSize = type switch
                {
                    ScalarType.Float32 or ScalarType.Int32 => 4,
                    ScalarType.Float64 or ScalarType.Int64 => 8,
                    ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
                    ScalarType.Byte or ScalarType.Int8 or ScalarType.Bool => 1,
                    _ => throw new InvalidDataException($"unsupported element type {(int)type} of '{name}'"),
                };
                var elements = shape.Aggregate(1L, (a, b) => checked(a * b));
                var bytes = reader.ReadBytes(checked((int)(elements * elementSize)));
                if (bytes.Length != elements * elementSize) throw new EndOfStreamException($"the file ends inside '{name}'");
                var t = empty(shape, type);
                t.bytes = bytes;
                result[name] = t;
            }
            if (stream.CanSeek && stream.Position != stream.Length) throw new InvalidDataException("trailing bytes after the last parameter");
            return result;
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
    }

    private static ulong Leb128(BinaryReader reader)
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            var b = reader.ReadByte();
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return value;
        }
        throw new InvalidDataException("malformed LEB128 number");
    }
}
