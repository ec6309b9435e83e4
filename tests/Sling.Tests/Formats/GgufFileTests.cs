using System.Text;
using Sling.Formats;
using Sling.Tests.Support;
using Sling.Tokenization;

namespace Sling.Tests.Formats;

public class GgufFileTests
{
    /// <summary>A small GGUF v3 file written field by field.</summary>
    private sealed class Builder
    {
        private readonly MemoryStream _body = new();
        private readonly BinaryWriter _w;
        private int _kv;
        public Builder() => _w = new BinaryWriter(_body);
        public void String(string s) { var b = Encoding.UTF8.GetBytes(s); _w.Write((ulong)b.Length); _w.Write(b); }
        public Builder Kv(string key, GgufValueType type, Action<BinaryWriter> value) { String(key); _w.Write((uint)type); value(_w); _kv++; return this; }
        public Builder Str(string key, string v) => Kv(key, GgufValueType.String, _ => String(v));
        public Builder Strings(string key, params string[] items) => Kv(key, GgufValueType.Array, w => { w.Write((uint)GgufValueType.String); w.Write((ulong)items.Length); foreach (var s in items) String(s); });
        public byte[] Bytes(uint version = 3, ulong tensors = 0)
        {
            var head = new MemoryStream();
            var h = new BinaryWriter(head);
            h.Write(GgufFile.Magic); h.Write(version); h.Write(tensors); h.Write((ulong)_kv);
            h.Write(_body.ToArray());
            return head.ToArray();
        }
    }

    private static string Write(TempDirectory dir, byte[] bytes)
    {
        string path = dir.File("v.gguf");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void ReadsEveryValueType()
    {
        using var dir = new TempDirectory();
        var b = new Builder()
            .Kv("u8", GgufValueType.UInt8, w => w.Write((byte)7)).Kv("i8", GgufValueType.Int8, w => w.Write((sbyte)-7))
            .Kv("u16", GgufValueType.UInt16, w => w.Write((ushort)700)).Kv("i16", GgufValueType.Int16, w => w.Write((short)-700))
            .Kv("u32", GgufValueType.UInt32, w => w.Write(70000u)).Kv("i32", GgufValueType.Int32, w => w.Write(-70000))
            .Kv("f32", GgufValueType.Float32, w => w.Write(1.5f)).Kv("bool", GgufValueType.Bool, w => w.Write((byte)1))
            .Kv("u64", GgufValueType.UInt64, w => w.Write(1UL << 40)).Kv("i64", GgufValueType.Int64, w => w.Write(-(1L << 40)))
            .Kv("f64", GgufValueType.Float64, w => w.Write(2.25)).Str("s", "héllo")
            .Kv("ints", GgufValueType.Array, w => { w.Write((uint)GgufValueType.Int32); w.Write(3UL); w.Write(1); w.Write(2); w.Write(3); })
            .Kv("nested", GgufValueType.Array, w => { w.Write((uint)GgufValueType.Array); w.Write(1UL); w.Write((uint)GgufValueType.UInt8); w.Write(2UL); w.Write((byte)4); w.Write((byte)5); });
        using var g = GgufFile.Open(Write(dir, b.Bytes()));
        Assert.Equal((byte)7, g.Get<byte>("u8"));
        Assert.Equal(-700L, g.GetInteger("i16"));
        Assert.Equal(1L << 40, g.GetInteger("u64"));
        Assert.Equal(1.5f, g.Get<float>("f32"));
        Assert.Equal(2.25, g.Get<double>("f64"));
        Assert.True(g.GetBool("bool"));
        Assert.Equal("héllo", g.Get<string>("s"));
        Assert.Equal(new[] { 1, 2, 3 }, g.Get<int[]>("ints"));
        Assert.Equal(new byte[] { 4, 5 }, (byte[])g.Get<object[]>("nested")[0]);
        Assert.Contains("expected Single", Assert.Throws<ModelFormatException>(() => g.Get<float>("s")).Message);
    }

    [Fact]
    public void WrongMagicIsRejected()
    {
        using var dir = new TempDirectory();
        var bytes = new Builder().Str("a", "b").Bytes();
        bytes[0] = (byte)'X';
        Assert.Contains("not a GGUF file", Assert.Throws<ModelFormatException>(() => GgufFile.Open(Write(dir, bytes))).Message);
    }

    [Fact]
    public void UnsupportedVersionIsRejected()
    {
        using var dir = new TempDirectory();
        Assert.Contains("version 1", Assert.Throws<ModelFormatException>(() => GgufFile.Open(Write(dir, new Builder().Str("a", "b").Bytes(version: 1)))).Message);
    }

    [Fact]
    public void TruncatedMetadataIsRejected()
    {
        using var dir = new TempDirectory();
        var bytes = new Builder().Str("general.name", "a model").Strings("tokenizer.ggml.tokens", "a", "b", "c").Bytes();
        for (int cut = 1; cut < 40; cut += 3)
        {
            var e = Assert.Throws<ModelFormatException>(() => GgufFile.Open(Write(dir, bytes[..^cut])));
            Assert.Contains("v.gguf", e.Message);
        }
    }

    [Fact]
    public void StringLengthPastTheEndIsRejected()
    {
        using var dir = new TempDirectory();
        var b = new Builder().Kv("s", GgufValueType.String, w => { w.Write(1UL << 40); w.Write((byte)'x'); });
        Assert.Contains("string length", Assert.Throws<ModelFormatException>(() => GgufFile.Open(Write(dir, b.Bytes()))).Message);
    }

    [Fact]
    public void AbsurdArrayCountIsRejectedWithoutAllocatingIt()
    {
        using var dir = new TempDirectory();
        var b = new Builder().Kv("a", GgufValueType.Array, w => { w.Write((uint)GgufValueType.Float32); w.Write(ulong.MaxValue / 2); });
        Assert.Contains("array count", Assert.Throws<ModelFormatException>(() => GgufFile.Open(Write(dir, b.Bytes()))).Message);
        var deep = new Builder().Kv("a", GgufValueType.Array, w =>
        {
            for (int i = 0; i < 6; i++) { w.Write((uint)GgufValueType.Array); w.Write(1UL); }
            w.Write((uint)GgufValueType.UInt8); w.Write(0UL);
        });
        Assert.Contains("nested", Assert.Throws<ModelFormatException>(() => GgufFile.Open(Write(dir, deep.Bytes()))).Message);
    }

    [Fact]
    public void AbsurdMetadataCountIsRejected()
    {
        using var dir = new TempDirectory();
        var bytes = new Builder().Str("a", "b").Bytes();
        BitConverter.GetBytes(ulong.MaxValue).CopyTo(bytes, 16);
        Assert.Contains("metadata count", Assert.Throws<ModelFormatException>(() => GgufFile.Open(Write(dir, bytes))).Message);
    }

    [Fact]
    public void TokenizerMetadataThatDoesNotFitIsRejected()
    {
        using var dir = new TempDirectory();
        var b = new Builder().Str("tokenizer.ggml.model", "gpt2").Strings("tokenizer.ggml.tokens", "a", "b")
            .Kv("tokenizer.ggml.token_type", GgufValueType.Array, w => { w.Write((uint)GgufValueType.Int32); w.Write(1UL); w.Write(1); });
        Assert.Contains("token_type has 1 entries for 2 tokens", Assert.Throws<ModelFormatException>(() => GgufTokenizer.Load(Write(dir, b.Bytes()))).Message);
        var unknown = new Builder().Str("tokenizer.ggml.model", "rwkv").Strings("tokenizer.ggml.tokens", "a");
        Assert.Contains("'rwkv' is not supported", Assert.Throws<ModelFormatException>(() => GgufTokenizer.Load(Write(dir, unknown.Bytes()))).Message);
    }

    [SharedFact(VocabTestVectors.Folder)]
    public void EveryVocabularyFileInSharedLoads()
    {
        foreach (var path in Directory.GetFiles(SharedData.PathOf(VocabTestVectors.Folder), "*.gguf"))
        {
            using var g = GgufFile.Open(path);
            Assert.True(g.Get<string[]>("tokenizer.ggml.tokens").Length > 1000, path);
            var t = GgufTokenizer.FromMetadata(g);
            Assert.True(t.Encode("Hello world", false).Count > 0, path);
        }
    }
}
