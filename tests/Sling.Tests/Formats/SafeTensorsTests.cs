using System.Text;
using Sling.Formats;
using Sling.Tests.Support;

namespace Sling.Tests.Formats;

public class SafeTensorsTests
{
    private static readonly float[] Values = [1.5f, -2.25f, 3.0f, 0.0078125f, -65504f, 1e-3f];

    [Fact]
    public void WrittenTensorsReadBackInEveryFloatType()
    {
        using var dir = new TempDirectory();
        string path = dir.File("t.safetensors");
        using (var w = new SafeTensorsWriter(path))
        {
            w.Add<float>("f32", TensorDType.F32, [2, 3], Values);
            w.Add<Half>("f16", TensorDType.F16, [2, 3], Values.Select(v => (Half)v).ToArray());
            w.Add<ushort>("bf16", TensorDType.BF16, [2, 3], Values.Select(v => (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16)).ToArray());
            w.Add<long>("ids", TensorDType.I64, [3], new long[] { 1, -2, 1L << 40 });
            w.AddMetadata("format", "pt");
            w.Complete();
        }
        using var f = SafeTensorsFile.Open(path);
        Assert.Equal("pt", f.Metadata["format"]);
        Assert.Equal(new long[] { 2, 3 }, f.Info("f32").Shape);
        foreach (var name in new[] { "f32", "f16", "bf16" })
        {
            var m = f.Matrix(name);
            Assert.Equal((2, 3), (m.Rows, m.Cols));
            var row = new float[3];
            var all = new List<float>();
            for (int r = 0; r < 2; r++) { m.ReadRow(r, row); all.AddRange(row); }
            // Values chosen to be exact in all three types except where bf16 keeps only 8 mantissa bits.
            for (int i = 0; i < Values.Length; i++)
                Assert.Equal(Values[i], all[i], Math.Abs(Values[i]) * (name == "bf16" ? 4e-3 : 1e-3));
            Assert.Equal(all, f.ReadFloats(name));
            var y = new float[2];
            m.MultiplyRows([1f, 2f, 3f], y, 0, 2);
            Assert.Equal(all[0] + 2 * all[1] + 3 * all[2], y[0], 1e-2);
        }
        Assert.Equal(new long[] { 1, -2, 1L << 40 }, f.ReadIntegers("ids"));
    }

    private static string WriteRaw(TempDirectory dir, string header, int dataBytes, long? claimedLength = null)
    {
        string path = dir.File("bad.safetensors");
        var json = Encoding.UTF8.GetBytes(header);
        using var s = File.Create(path);
        s.Write(BitConverter.GetBytes(claimedLength ?? json.Length));
        s.Write(json);
        s.Write(new byte[dataBytes]);
        return path;
    }

    [Theory]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 8, "past the end")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 16, "needs 16")]
    [InlineData("{\"w\":{\"dtype\":\"Q9\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2, "unsupported dtype 'Q9'")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,4]}}", 8, "not a valid range")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 8, "not a valid dimension")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1000000000,1000000000],\"data_offsets\":[0,4]}}", 8, "larger than the file")]
    [InlineData("{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "missing dtype")]
    [InlineData("{not json", 8, "not valid JSON")]
    [InlineData("[1,2]", 8, "not a JSON object")]
    public void MalformedHeadersAreRejectedNamingTheProblem(string header, int dataBytes, string expected)
    {
        using var dir = new TempDirectory();
        string path = WriteRaw(dir, header, dataBytes);
        var e = Assert.Throws<ModelFormatException>(() => SafeTensorsFile.Open(path).Dispose());
        Assert.Contains(expected, e.Message);
        Assert.Contains(path, e.Message);
    }

    // Found by corrupting real files: invalid UTF-8 inside a JSON string passed the parser and failed
    // later as an internal error when the name was read.
    [Fact]
    public void InvalidUtf8InTheHeaderIsAFormatError()
    {
        using var dir = new TempDirectory();
        string path = dir.File("t.safetensors");
        using (var w = new SafeTensorsWriter(path))
        {
            w.Add<float>("weight", TensorDType.F32, [2, 3], Values);
            w.Complete();
        }
        var bytes = File.ReadAllBytes(path);
        int at = bytes.AsSpan().IndexOf("weight"u8);
        bytes[at + 1] = 0xFF; // "w\xFFight"
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<ModelFormatException>(() => SafeTensorsFile.Open(path).Dispose());
        Assert.Contains("not valid UTF-8", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void HeaderLengthPastTheEndIsRejectedWithoutAllocatingIt()
    {
        using var dir = new TempDirectory();
        string path = WriteRaw(dir, "{}", 0, claimedLength: long.MaxValue);
        Assert.Contains("header length", Assert.Throws<ModelFormatException>(() => SafeTensorsFile.Open(path).Dispose()).Message);
    }

    [Fact]
    public void NonFloatTensorCannotBeUsedAsWeights()
    {
        using var dir = new TempDirectory();
        string path = dir.File("t.safetensors");
        using (var w = new SafeTensorsWriter(path))
        {
            w.Add<long>("ids", TensorDType.I64, [1, 2], new long[] { 1, 2 });
            w.Complete();
        }
        using var f = SafeTensorsFile.Open(path);
        Assert.Contains("F32, F16 or BF16", Assert.Throws<ModelFormatException>(() => f.Matrix("ids")).Message);
        Assert.Contains("not found", Assert.Throws<ModelFormatException>(() => f.Matrix("nope")).Message);
    }
}
