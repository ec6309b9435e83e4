using System.Text;

namespace Sling.Formats;

/// <summary>GGUF metadata value types.</summary>
public enum GgufValueType : uint
{
    UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7,
    String = 8, Array = 9, UInt64 = 10, Int64 = 11, Float64 = 12,
}

/// <summary>A tensor's entry in a GGUF file; <see cref="Offset"/> is absolute in the file.</summary>
public sealed record GgufTensorInfo(string Name, long[] Dimensions, uint Type, long Offset)
{
    public long ElementCount => Dimensions.Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// A memory-mapped GGUF file (versions 2 and 3): header, typed metadata key/values, tensor infos and
/// the aligned data section. Every length and count is checked against the bytes that remain, so a
/// corrupt file fails with a message instead of a huge allocation or a read past the end.
/// </summary>
public sealed class GgufFile : IDisposable
{
    public const uint Magic = 0x46554747; // "GGUF" little-endian
    private const int MaxDepth = 4;
    private readonly MappedFile _file;
    private readonly Dictionary<string, object> _metadata;

    private GgufFile(MappedFile file, uint version, Dictionary<string, object> metadata, List<GgufTensorInfo> tensors, long dataOffset, int alignment)
    {
        _file = file;
        Version = version;
        _metadata = metadata;
        Tensors = tensors;
        DataOffset = dataOffset;
        Alignment = alignment;
    }

    public string Path => _file.Path;
    public uint Version { get; }
    public IReadOnlyDictionary<string, object> Metadata => _metadata;
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }
    public long DataOffset { get; }
    public int Alignment { get; }
    internal MappedFile File => _file;

    public static bool HasMagic(string path)
    {
        if (!System.IO.File.Exists(path)) return false;
        using var s = System.IO.File.OpenRead(path);
        Span<byte> b = stackalloc byte[4];
        return s.Read(b) == 4 && BitConverter.ToUInt32(b) == Magic;
    }

    public static GgufFile Open(string path)
    {
        var file = MappedFile.Open(path);
        try
        {
            return new Reader(file).ReadAll();
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public bool Has(string key) => _metadata.ContainsKey(key);

    public T Get<T>(string key)
    {
        if (!_metadata.TryGetValue(key, out var v)) throw new ModelFormatException(Path, $"metadata key '{key}' is missing");
        return v is T t ? t : throw new ModelFormatException(Path, $"metadata key '{key}' holds {Describe(v)}, expected {typeof(T).Name}");
    }

    public T? GetOrDefault<T>(string key) where T : class => _metadata.TryGetValue(key, out var v) ? v as T : null;

    /// <summary>An integer of any GGUF integer type, or null when absent.</summary>
    public long? GetInteger(string key)
    {
        if (!_metadata.TryGetValue(key, out var v)) return null;
        return v switch
        {
            byte x => x, sbyte x => x, ushort x => x, short x => x, uint x => x, int x => x, ulong x => (long)x, long x => x,
            _ => throw new ModelFormatException(Path, $"metadata key '{key}' holds {Describe(v)}, expected an integer"),
        };
    }

    public bool? GetBool(string key) => _metadata.TryGetValue(key, out var v)
        ? v as bool? ?? throw new ModelFormatException(Path, $"metadata key '{key}' holds {Describe(v)}, expected a bool")
        : null;

    private static string Describe(object v) => v is Array a ? $"an array of {a.Length} {a.GetType().GetElementType()!.Name}" : $"a {v.GetType().Name}";

    /// <summary>ggml's name for a tensor type id (e.g. 2 → "Q4_0"), or "type N" for one this table does not know.</summary>
    public static string TypeName(uint type) => type switch
    {
        0 => "F32", 1 => "F16", 2 => "Q4_0", 3 => "Q4_1", 6 => "Q5_0", 7 => "Q5_1", 8 => "Q8_0", 9 => "Q8_1",
        10 => "Q2_K", 11 => "Q3_K", 12 => "Q4_K", 13 => "Q5_K", 14 => "Q6_K", 15 => "Q8_K", 16 => "IQ2_XXS",
        17 => "IQ2_XS", 18 => "IQ3_XXS", 19 => "IQ1_S", 20 => "IQ4_NL", 21 => "IQ3_S", 22 => "IQ2_S", 23 => "IQ4_XS",
        24 => "I8", 25 => "I16", 26 => "I32", 27 => "I64", 28 => "F64", 29 => "IQ1_M", 30 => "BF16",
        _ => $"type {type}",
    };

    public void Dispose() => _file.Dispose();

    /// <summary>Sequential, bounds-checked reading of the header section.</summary>
    private sealed class Reader(MappedFile file)
    {
        private long _pos;

        private ModelFormatException Error(string problem) => new(file.Path, problem);

        private T Read<T>(string what) where T : unmanaged
        {
            int size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
            if (!file.Contains(_pos, size)) throw Error($"truncated: {what} at byte {_pos} runs past the end of the {file.Length}-byte file");
            var v = file.Read<T>(_pos, what);
            _pos += size;
            return v;
        }

        private long Remaining => file.Length - _pos;

        private string ReadString(string what)
        {
            ulong length = Read<ulong>(what + " length");
            if (length > (ulong)Remaining) throw Error($"{what}: string length {length} runs past the end of the file (at byte {_pos})");
            string s = Encoding.UTF8.GetString(file.Bytes(_pos, (int)length, what));
            _pos += (long)length;
            return s;
        }

        private static int MinimumSize(GgufValueType t) => t switch
        {
            GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
            GgufValueType.UInt16 or GgufValueType.Int16 => 2,
            GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
            GgufValueType.String or GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 => 8,
            GgufValueType.Array => 12,
            _ => 1,
        };

        private object ReadValue(GgufValueType type, string key, int depth) => type switch
        {
            GgufValueType.UInt8 => Read<byte>(key),
            GgufValueType.Int8 => Read<sbyte>(key),
            GgufValueType.UInt16 => Read<ushort>(key),
            GgufValueType.Int16 => Read<short>(key),
            GgufValueType.UInt32 => Read<uint>(key),
            GgufValueType.Int32 => Read<int>(key),
            GgufValueType.Float32 => Read<float>(key),
            GgufValueType.Bool => Read<byte>(key) switch
            {
                0 => false,
                1 => true,
                var b => throw Error($"metadata '{key}': bool byte {b} is neither 0 nor 1"),
            },
            GgufValueType.String => ReadString($"metadata '{key}'"),
            GgufValueType.UInt64 => Read<ulong>(key),
            GgufValueType.Int64 => Read<long>(key),
            GgufValueType.Float64 => Read<double>(key),
            GgufValueType.Array => ReadArray(key, depth),
            _ => throw Error($"metadata '{key}': unknown value type {(uint)type}"),
        };

        private Array ReadArray(string key, int depth)
        {
            if (depth >= MaxDepth) throw Error($"metadata '{key}': arrays nested deeper than {MaxDepth}");
            var elementType = (GgufValueType)Read<uint>(key + " element type");
            ulong count = Read<ulong>(key + " count");
            if (!Enum.IsDefined(elementType)) throw Error($"metadata '{key}': unknown array element type {(uint)elementType}");
            if (count > (ulong)(Remaining / MinimumSize(elementType)))
                throw Error($"metadata '{key}': array count {count} cannot fit in the {Remaining} bytes that remain (corrupt file)");
            int n = (int)count;
            Array result = elementType switch
            {
                GgufValueType.UInt8 => new byte[n], GgufValueType.Int8 => new sbyte[n], GgufValueType.UInt16 => new ushort[n],
                GgufValueType.Int16 => new short[n], GgufValueType.UInt32 => new uint[n], GgufValueType.Int32 => new int[n],
                GgufValueType.Float32 => new float[n], GgufValueType.Bool => new bool[n], GgufValueType.String => new string[n],
                GgufValueType.UInt64 => new ulong[n], GgufValueType.Int64 => new long[n], GgufValueType.Float64 => new double[n],
                _ => new object[n],
            };
            for (int i = 0; i < n; i++) result.SetValue(ReadValue(elementType, key, depth + 1), i);
            return result;
        }

        public GgufFile ReadAll()
        {
            if (file.Length < 24) throw Error($"only {file.Length} bytes, too short for a GGUF header");
            uint magic = Read<uint>("magic");
            if (magic != Magic) throw Error($"not a GGUF file (magic 0x{magic:X8}, expected \"GGUF\")");
            uint version = Read<uint>("version");
            if (version is not (2 or 3)) throw Error($"GGUF version {version} is not supported (2 and 3 are)");
            ulong tensorCount = Read<ulong>("tensor count");
            ulong kvCount = Read<ulong>("metadata count");
            if (kvCount > (ulong)(Remaining / 13)) throw Error($"metadata count {kvCount} cannot fit in the file (corrupt header)");
            if (tensorCount > (ulong)(Remaining / 24)) throw Error($"tensor count {tensorCount} cannot fit in the file (corrupt header)");

            var metadata = new Dictionary<string, object>(StringComparer.Ordinal);
            for (ulong i = 0; i < kvCount; i++)
            {
                string key = ReadString($"metadata key {i}");
                var type = (GgufValueType)Read<uint>($"type of '{key}'");
                metadata[key] = ReadValue(type, key, 0);
            }

            int alignment = 32;
            if (metadata.TryGetValue("general.alignment", out var a))
            {
                alignment = a is uint u ? (int)Math.Min(u, int.MaxValue) : a is int s ? s : 0;
                if (alignment <= 0 || (alignment & (alignment - 1)) != 0) throw Error($"general.alignment {a} is not a power of two");
            }

            var infos = new List<(string Name, long[] Dims, uint Type, ulong Offset)>();
            for (ulong i = 0; i < tensorCount; i++)
            {
                string name = ReadString($"tensor {i} name");
                uint dims = Read<uint>($"tensor '{name}' dimension count");
                if (dims > 8) throw Error($"tensor '{name}' claims {dims} dimensions");
                var shape = new long[dims];
                for (int d = 0; d < dims; d++)
                {
                    ulong v = Read<ulong>($"tensor '{name}' dimension");
                    if (v > int.MaxValue) throw Error($"tensor '{name}' dimension {v} is absurd");
                    shape[d] = (long)v;
                }
                infos.Add((name, shape, Read<uint>($"tensor '{name}' type"), Read<ulong>($"tensor '{name}' offset")));
            }
            long dataOffset = (_pos + alignment - 1) / alignment * alignment;
            var tensors = new List<GgufTensorInfo>(infos.Count);
            foreach (var (name, dims, type, offset) in infos)
            {
                if (offset > (ulong)file.Length) throw Error($"tensor '{name}' offset {offset} is past the end of the file");
                tensors.Add(new GgufTensorInfo(name, dims, type, dataOffset + (long)offset));
            }
            return new GgufFile(file, version, metadata, tensors, dataOffset, alignment);
        }
    }
}
