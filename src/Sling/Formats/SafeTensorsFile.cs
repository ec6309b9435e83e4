using System.Text.Json;
using Sling.Kernels;

namespace Sling.Formats;

/// <summary>One tensor's entry in a safetensors header; <see cref="Offset"/> is absolute in the file.</summary>
internal sealed record SafeTensorInfo(string Name, TensorDType DType, long[] Shape, long Offset, long ByteLength)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// A memory-mapped safetensors file: an 8-byte little-endian header length, a JSON header naming each
/// tensor's dtype, shape and byte range, then the raw data. Every range is checked against the file.
/// </summary>
public sealed unsafe class SafeTensorsFile : IDisposable, IMappedWeights
{
    private const long MaxHeaderBytes = 100L << 20;
    private readonly MappedFile _file;
    private readonly Dictionary<string, SafeTensorInfo> _tensors;

    private SafeTensorsFile(MappedFile file, Dictionary<string, SafeTensorInfo> tensors, Dictionary<string, string> metadata)
    {
        _file = file;
        _tensors = tensors;
        Metadata = metadata;
    }

    /// <summary>Drops every resident page of the file's map (see <see cref="MappedFile.ReleaseAll"/>).</summary>
    public void ReleaseAll() => _file.ReleaseAll();

    public string Path => _file.Path;
    public long Length => _file.Length;
    internal IReadOnlyDictionary<string, SafeTensorInfo> Tensors => _tensors;
    public IReadOnlyDictionary<string, string> Metadata { get; }

    public static SafeTensorsFile Open(string path)
    {
        var file = MappedFile.Open(path);
        try
        {
            var (tensors, metadata) = ReadHeader(file);
            return new SafeTensorsFile(file, tensors, metadata);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static (Dictionary<string, SafeTensorInfo>, Dictionary<string, string>) ReadHeader(MappedFile file)
    {
        string path = file.Path;
        if (file.Length < 8)
            throw new ModelFormatException(path, $"only {file.Length} bytes, too short for a safetensors header");
        ulong headerLength = file.Read<ulong>(0, "header length");
        if (headerLength > (ulong)MaxHeaderBytes || (long)headerLength > file.Length - 8)
            throw new ModelFormatException(path, $"header length {headerLength} runs past the end of the {file.Length}-byte file (truncated or not safetensors)");
        long dataStart = 8 + (long)headerLength;
        long dataLength = file.Length - dataStart;

        var header = file.Bytes(8, (int)headerLength, "header").ToArray();
        var doc = JsonFile.Parse(path, header, what: "header");
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new ModelFormatException(path, "header is not a JSON object");
            var tensors = new Dictionary<string, SafeTensorInfo>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var entry in doc.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__")
                {
                    if (entry.Value.ValueKind == JsonValueKind.Object)
                        foreach (var m in entry.Value.EnumerateObject())
                            metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : m.Value.GetRawText();
                    continue;
                }
                tensors[entry.Name] = ParseTensor(path, entry.Name, entry.Value, dataStart, dataLength);
            }
            return (tensors, metadata);
        }
    }

    private static SafeTensorInfo ParseTensor(string path, string name, JsonElement e, long dataStart, long dataLength)
    {
        ModelFormatException Bad(string what) => new(path, $"tensor '{name}': {what}");
        if (e.ValueKind != JsonValueKind.Object) throw Bad("entry is not an object");
        if (!e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw Bad("missing dtype");
        if (!TensorDTypes.TryParse(dt.GetString()!, out var dtype))
            throw Bad($"unsupported dtype '{dt.GetString()}' (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");
        if (!e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array)
            throw Bad("missing shape");
        var shape = new List<long>();
        long count = 1;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long v) || v < 0 || v > int.MaxValue)
                throw Bad($"shape entry {d.GetRawText()} is not a valid dimension");
            shape.Add(v);
            count = count == 0 || v == 0 ? 0 : checked(count * v);
            if (count > dataLength) throw Bad($"shape [{string.Join(", ", shape)}…] is larger than the file");
        }
        if (!e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw Bad("missing data_offsets [begin, end]");
        if (!off[0].TryGetInt64(out long begin) || !off[1].TryGetInt64(out long end) || begin < 0 || end < begin)
            throw Bad($"data_offsets {off.GetRawText()} are not a valid range");
        if (end > dataLength)
            throw Bad($"data_offsets [{begin}, {end}] run past the end of the data ({dataLength} bytes; truncated file?)");
        if (end - begin != count * dtype.Size())
            throw Bad($"data_offsets cover {end - begin} bytes but shape [{string.Join(", ", shape)}] of {dtype.Name()} needs {count * dtype.Size()}");
        return new SafeTensorInfo(name, dtype, shape.ToArray(), dataStart + begin, end - begin);
    }

    internal SafeTensorInfo Info(string name)
        => _tensors.TryGetValue(name, out var t) ? t : throw new ModelFormatException(Path, $"tensor '{name}' not found");

    internal ReadOnlySpan<byte> RawBytes(SafeTensorInfo t) => new(_file.Pointer(t.Offset, t.ByteLength, t.Name), checked((int)t.ByteLength));

    /// <summary>A 2-D float tensor as a weight matrix read in place (no copy).</summary>
    internal WeightMatrix Matrix(string name)
    {
        var t = Info(name);
        if (t.Shape.Length != 2)
            throw new ModelFormatException(Path, $"tensor '{name}' has shape [{string.Join(", ", t.Shape)}], expected a matrix");
        int rows = (int)t.Shape[0], cols = (int)t.Shape[1];
        byte* p = _file.Pointer(t.Offset, t.ByteLength, name);
        return t.DType switch
        {
            TensorDType.F32 => new F32Matrix((float*)p, rows, cols, _file),
            TensorDType.F16 => new F16Matrix((Half*)p, rows, cols, _file),
            TensorDType.BF16 => new BF16Matrix((ushort*)p, rows, cols, _file),
            _ => throw new ModelFormatException(Path, $"tensor '{name}' has dtype {t.DType.Name()}; weights must be F32, F16 or BF16"),
        };
    }

    /// <summary>Any floating-point tensor converted to fp32 (for small tensors: norms, biases, references).</summary>
    public float[] ReadFloats(string name)
    {
        var t = Info(name);
        var result = new float[checked((int)t.ElementCount)];
        byte* p = _file.Pointer(t.Offset, t.ByteLength, name);
        switch (t.DType)
        {
            case TensorDType.F32: new ReadOnlySpan<float>(p, result.Length).CopyTo(result); break;
            case TensorDType.F16: Kernels.Emit.HalfWidening.ToSingle(new ReadOnlySpan<Half>(p, result.Length), result); break;
            case TensorDType.BF16: for (int i = 0; i < result.Length; i++) result[i] = BF16Matrix.ToSingle(((ushort*)p)[i]); break;
            case TensorDType.F64: for (int i = 0; i < result.Length; i++) result[i] = (float)((double*)p)[i]; break;
            default: throw new ModelFormatException(Path, $"tensor '{name}' has dtype {t.DType.Name()}, expected a floating-point type");
        }
        return result;
    }

    /// <summary>An integer tensor as int64 values.</summary>
    public long[] ReadIntegers(string name)
    {
        var t = Info(name);
        var result = new long[checked((int)t.ElementCount)];
        byte* p = _file.Pointer(t.Offset, t.ByteLength, name);
        for (int i = 0; i < result.Length; i++)
            result[i] = t.DType switch
            {
                TensorDType.I64 => ((long*)p)[i],
                TensorDType.I32 => ((int*)p)[i],
                TensorDType.I16 => ((short*)p)[i],
                TensorDType.I8 => ((sbyte*)p)[i],
                TensorDType.U8 => p[i],
                _ => throw new ModelFormatException(Path, $"tensor '{name}' has dtype {t.DType.Name()}, expected an integer type"),
            };
        return result;
    }

    public void Release(byte* start, long count) => _file.Release(start, count);

    public void Dispose() => _file.Dispose();
}
