using System.Text;
using System.Text.Json;

namespace Sling.Formats;

/// <summary>
/// Writes a safetensors file: tensors are added one at a time (raw little-endian bytes), the header
/// is written at the end. Data goes to a temporary file first, so memory stays at one tensor.
/// </summary>
internal sealed class SafeTensorsWriter : IDisposable
{
    private readonly string _path;
    private readonly string _dataPath;
    private readonly FileStream _data;
    private readonly List<(string Name, TensorDType DType, long[] Shape, long Begin, long End)> _entries = new();
    private readonly Dictionary<string, string> _metadata = new();

    public SafeTensorsWriter(string path)
    {
        _path = path;
        _dataPath = path + ".data.tmp";
        _data = new FileStream(_dataPath, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 20);
    }

    public void AddMetadata(string key, string value) => _metadata[key] = value;

    public void Add(string name, TensorDType dtype, long[] shape, ReadOnlySpan<byte> bytes)
    {
        long count = shape.Aggregate(1L, (a, b) => a * b);
        if (count * dtype.Size() != bytes.Length)
            throw new ArgumentException($"tensor '{name}': {bytes.Length} bytes for shape [{string.Join(", ", shape)}] of {dtype.Name()}");
        long begin = _data.Position;
        _data.Write(bytes);
        _entries.Add((name, dtype, shape, begin, _data.Position));
    }

    public void Add<T>(string name, TensorDType dtype, long[] shape, ReadOnlySpan<T> values) where T : unmanaged
        => Add(name, dtype, shape, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));

    /// <summary>Writes header and data to the target path.</summary>
    public void Complete()
    {
        var header = new Dictionary<string, object>();
        if (_metadata.Count > 0) header["__metadata__"] = _metadata;
        foreach (var e in _entries)
            header[e.Name] = new Dictionary<string, object> { ["dtype"] = e.DType.Name(), ["shape"] = e.Shape, ["data_offsets"] = new[] { e.Begin, e.End } };
        byte[] json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        int padding = (8 - json.Length % 8) % 8; // keep the data 8-byte aligned, as the spec recommends
        using var output = new FileStream(_path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        output.Write(BitConverter.GetBytes((ulong)(json.Length + padding)));
        output.Write(json);
        for (int i = 0; i < padding; i++) output.WriteByte((byte)' ');
        _data.Position = 0;
        _data.CopyTo(output);
    }

    public void Dispose()
    {
        _data.Dispose();
        File.Delete(_dataPath);
    }
}
