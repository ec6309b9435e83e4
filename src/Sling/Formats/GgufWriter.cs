using System.Text;

namespace Sling.Formats;

/// <summary>
/// Writes a GGUF v3 file: typed metadata, tensor infos, then each tensor's bytes at 32-byte
/// alignment. Tensors are declared with their byte sizes first and their data streamed after, so a
/// model larger than memory can be written one row at a time.
/// </summary>
internal sealed class GgufWriter : IDisposable
{
    public const int Alignment = 32;
    private readonly BinaryWriter _out;
    private readonly List<(string Name, long[] Dims, uint Type, long Bytes)> _tensors = [];
    private readonly Dictionary<string, object> _metadata = new(StringComparer.Ordinal);
    private int _written = -1;
    private long _bytesOfCurrent;

    public GgufWriter(string path)
    {
        Path = path;
        try
        {
            _out = new BinaryWriter(File.Create(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SlingException($"{path}: cannot write ({e.Message})");
        }
    }

    public string Path { get; }

    /// <summary>A metadata value: string, bool, uint, int, ulong, long, float, double, or an array of those.</summary>
    public void Set(string key, object value) => _metadata[key] = value;

    /// <summary>Declares a tensor (ggml dimension order: the row length first) and the bytes its data will take.</summary>
    public void AddTensor(string name, long[] dims, uint type, long bytes)
    {
        if (_written >= 0) throw new InvalidOperationException("tensors are declared before any data is written");
        _tensors.Add((name, dims, type, bytes));
    }

    /// <summary>Appends bytes of the tensors' data, in declaration order; each tensor must get exactly its declared size.</summary>
    public void WriteData(ReadOnlySpan<byte> bytes)
    {
        if (_written < 0) WriteHeader();
        while (_written < _tensors.Count && _bytesOfCurrent == _tensors[_written].Bytes) NextTensor();
        if (_written >= _tensors.Count || _bytesOfCurrent + bytes.Length > _tensors[_written].Bytes)
            throw new InvalidOperationException($"more data than the declared tensors hold (at tensor {_written})");
        _out.Write(bytes);
        _bytesOfCurrent += bytes.Length;
    }

    /// <summary>Checks every tensor got its data and closes the file.</summary>
    public void Complete()
    {
        if (_written < 0) WriteHeader();
        while (_written < _tensors.Count && _bytesOfCurrent == _tensors[_written].Bytes) NextTensor();
        if (_written != _tensors.Count) throw new InvalidOperationException($"tensor '{_tensors[_written].Name}' is missing data");
        _out.Flush();
        _out.Dispose();
    }

    private void NextTensor()
    {
        Pad();
        _written++;
        _bytesOfCurrent = 0;
    }

    private void Pad()
    {
        while (_out.BaseStream.Position % Alignment != 0) _out.Write((byte)0);
    }

    private void WriteHeader()
    {
        _out.Write(GgufFile.Magic);
        _out.Write(3u);
        _out.Write((ulong)_tensors.Count);
        _out.Write((ulong)_metadata.Count);
        foreach (var (key, value) in _metadata)
        {
            String(key);
            Value(value);
        }
        long offset = 0;
        foreach (var t in _tensors)
        {
            String(t.Name);
            _out.Write((uint)t.Dims.Length);
            foreach (var d in t.Dims) _out.Write((ulong)d);
            _out.Write(t.Type);
            _out.Write((ulong)offset);
            offset += (t.Bytes + Alignment - 1) / Alignment * Alignment;
        }
        Pad();
        _written = 0;
        _bytesOfCurrent = 0;
    }

    private void String(string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        _out.Write((ulong)b.Length);
        _out.Write(b);
    }

    private static GgufValueType TypeOf(object value) => value switch
    {
        byte => GgufValueType.UInt8, sbyte => GgufValueType.Int8, ushort => GgufValueType.UInt16, short => GgufValueType.Int16,
        uint => GgufValueType.UInt32, int => GgufValueType.Int32, float => GgufValueType.Float32, bool => GgufValueType.Bool,
        string => GgufValueType.String, ulong => GgufValueType.UInt64, long => GgufValueType.Int64, double => GgufValueType.Float64,
        Array => GgufValueType.Array,
        _ => throw new ArgumentException($"GGUF has no value type for {value.GetType().Name}"),
    };

    private void Value(object value)
    {
        var type = TypeOf(value);
        _out.Write((uint)type);
        Payload(value);
    }

    private void Payload(object value)
    {
        switch (value)
        {
            case byte v: _out.Write(v); break;
            case sbyte v: _out.Write(v); break;
            case ushort v: _out.Write(v); break;
            case short v: _out.Write(v); break;
            case uint v: _out.Write(v); break;
            case int v: _out.Write(v); break;
            case float v: _out.Write(v); break;
            case bool v: _out.Write((byte)(v ? 1 : 0)); break;
            case string v: String(v); break;
            case ulong v: _out.Write(v); break;
            case long v: _out.Write(v); break;
            case double v: _out.Write(v); break;
            case Array a:
                var element = a.GetType().GetElementType()!;
                var elementType = a.Length > 0 ? TypeOf(a.GetValue(0)!) : TypeOf(element == typeof(string) ? "" : Activator.CreateInstance(element)!);
                _out.Write((uint)elementType);
                _out.Write((ulong)a.Length);
                foreach (var item in a) Payload(item!);
                break;
        }
    }

    public void Dispose() => _out.Dispose();
}
