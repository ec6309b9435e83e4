using Sling.Formats;
using Sling.Kernels;
using Sling.Tests.Support;

namespace Sling.Tests.Formats;

public class Llama2cCheckpointTests
{
    private static ModelFormatException LoadFails(string path)
        => Assert.Throws<ModelFormatException>(() => Llama2cCheckpoint.Load(path, ComputePool.Get(1)).Dispose());

    [Fact]
    public void TruncatedCheckpointIsRejectedNamingTheFile()
    {
        using var dir = new TempDirectory();
        string path = dir.File("m.bin");
        Llama2cWriter.WriteLegacy(path, TinyLlama.Random(1));
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 100)]);
        var e = LoadFails(path);
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void TrailingBytesMeanTheHeaderDoesNotDescribeTheFile()
    {
        using var dir = new TempDirectory();
        string path = dir.File("m.bin");
        Llama2cWriter.WriteVersion1(path, TinyLlama.Random(1));
        File.AppendAllText(path, "extra");
        Assert.Contains("header describes", LoadFails(path).Message);
    }

    [Fact]
    public void HeaderSizesThatDoNotMatchTheFileAreRejected()
    {
        using var dir = new TempDirectory();
        string path = dir.File("m.bin");
        Llama2cWriter.WriteLegacy(path, TinyLlama.Random(1));
        using (var f = File.OpenWrite(path)) { f.Position = 4; f.Write(BitConverter.GetBytes(4096)); } // hidden_dim
        Assert.Contains("header describes", LoadFails(path).Message);
    }

    [Theory]
    [InlineData(0, 0)]     // dim 0
    [InlineData(3, -5)]    // negative head count
    [InlineData(0, 1 << 30)] // absurd dimension
    public void ImplausibleHeaderFieldsAreRejected(int field, int value)
    {
        using var dir = new TempDirectory();
        string path = dir.File("m.bin");
        Llama2cWriter.WriteLegacy(path, TinyLlama.Random(1));
        using (var f = File.OpenWrite(path)) { f.Position = 4 * field; f.Write(BitConverter.GetBytes(value)); }
        Assert.Contains("plausible", LoadFails(path).Message);
    }

    [Fact]
    public void HeadsThatDoNotDivideTheDimensionAreRejected()
    {
        using var dir = new TempDirectory();
        string path = dir.File("m.bin");
        Llama2cWriter.WriteLegacy(path, TinyLlama.Random(1));
        using (var f = File.OpenWrite(path)) { f.Position = 12; f.Write(BitConverter.GetBytes(5)); } // n_heads
        Assert.Contains("divisible", LoadFails(path).Message);
    }

    [Fact]
    public void UnknownVersionIsRejected()
    {
        using var dir = new TempDirectory();
        string path = dir.File("m.bin");
        Llama2cWriter.WriteVersion1(path, TinyLlama.Random(1));
        using (var f = File.OpenWrite(path)) { f.Position = 4; f.Write(BitConverter.GetBytes(7)); }
        Assert.Contains("version 7", LoadFails(path).Message);
    }

    [Fact]
    public void Version2GroupSizeThatDoesNotDivideTheRowsIsRejected()
    {
        using var dir = new TempDirectory();
        string path = dir.File("m.bin");
        Llama2cWriter.WriteVersion2(path, TinyLlama.Random(1), 16);
        using (var f = File.OpenWrite(path)) { f.Position = 37; f.Write(BitConverter.GetBytes(7)); }
        Assert.Contains("group size 7", LoadFails(path).Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(10)]
    [InlineData(100)]
    public void ShortFilesAreRejected(int length)
    {
        using var dir = new TempDirectory();
        string path = dir.File("m.bin");
        File.WriteAllBytes(path, new byte[length]);
        LoadFails(path);
    }

    [Fact]
    public void MissingFileIsAClearError()
    {
        var e = Assert.Throws<SlingException>(() => Llama2cCheckpoint.Load("/nonexistent/model.bin", ComputePool.Get(1)));
        Assert.Contains("not found", e.Message);
    }
}
