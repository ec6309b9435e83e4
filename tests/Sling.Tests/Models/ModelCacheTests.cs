using Sling.Formats;
using Sling.Models;
using Sling.Tests.Support;

namespace Sling.Tests.Models;

public class ModelCacheTests
{
    private static TinyLlama RoundedTo(TinyLlama m, Func<float, double> round) => m.MapMatrices(rows => rows.Select(r => r.Select(v => round((float)v)).ToArray()).ToArray());

    [Theory]
    [InlineData("bf16")]
    [InlineData("f16")]
    public void ConvertedWeightsAreBuiltOnceThenMappedFromTheCache(string dtype)
    {
        using var dir = new TempDirectory();
        using var cacheDir = new TempDirectory();
        var m = TinyLlama.Random(31);
        string folder = Path.Combine(dir.Path, "model");
        HuggingFaceWriter.WriteLlama(folder, m);
        var log = new List<string>();
        var options = new LoadOptions { DType = WeightConversion.ParseName(dtype), Cache = new ModelCache(cacheDir.Path), Log = log.Add };

        using (var first = ModelLoader.LoadTransformer(folder, options))
        {
            Assert.All(ModelSummary.Of(first).Formats, f => Assert.Equal(dtype, f));
            // The converted model is the model with its matrices rounded to the new dtype.
            Func<float, double> round = dtype == "bf16" ? v => BF16Matrix(v) : v => (double)(float)(Half)v;
            var tokens = Engine.RandomTokens(2, m.SeqLen, m.Vocab);
            Assert.True(ReferenceLlama.RelativeL2(ReferenceLlama.Logits(RoundedTo(m, round), tokens), Engine.Logits(first, tokens)) < 1e-5);
        }
        Assert.Single(log);
        Assert.StartsWith("converted weights", log[0]);
        var entries = Directory.GetDirectories(Path.Combine(cacheDir.Path, "models"));
        Assert.Single(entries);
        long written = new FileInfo(Path.Combine(entries[0], "model.safetensors")).Length;
        Assert.True(written < new FileInfo(Path.Combine(folder, "model.safetensors")).Length * 0.6, "16-bit weights take about half the space");

        using (ModelLoader.LoadTransformer(folder, options)) { }
        Assert.Equal(2, log.Count);
        Assert.StartsWith("weights as", log[1]);
        Assert.Contains(entries[0], log[1]);
    }

    private static double BF16Matrix(float v) => Sling.Kernels.BF16Matrix.ToSingle(WeightConversion.ToBFloat16(v));

    [Fact]
    public void ChangedSourceFilesGetANewEntry()
    {
        using var dir = new TempDirectory();
        using var cacheDir = new TempDirectory();
        HuggingFaceWriter.WriteLlama(dir.Path, TinyLlama.Random(32));
        var options = new LoadOptions { DType = WeightDType.BF16, Cache = new ModelCache(cacheDir.Path) };
        using (ModelLoader.LoadTransformer(dir.Path, options)) { }
        HuggingFaceWriter.WriteLlama(dir.Path, TinyLlama.Random(33));
        File.SetLastWriteTimeUtc(dir.File("model.safetensors"), DateTime.UtcNow.AddMinutes(1));
        using (ModelLoader.LoadTransformer(dir.Path, options)) { }
        Assert.Equal(2, Directory.GetDirectories(Path.Combine(cacheDir.Path, "models")).Length);
    }

    [Fact]
    public void WeightsAlreadyInTheRequestedDtypeAreUsedInPlace()
    {
        using var dir = new TempDirectory();
        using var cacheDir = new TempDirectory();
        HuggingFaceWriter.WriteLlama(dir.Path, TinyLlama.Random(34));
        var log = new List<string>();
        using (ModelLoader.LoadTransformer(dir.Path, new LoadOptions { DType = WeightDType.F32, Cache = new ModelCache(cacheDir.Path), Log = log.Add })) { }
        Assert.Empty(log);
        Assert.False(Directory.Exists(Path.Combine(cacheDir.Path, "models")));
    }

    [Fact]
    public void UnknownDtypeIsRejected()
    {
        var e = Assert.Throws<SlingException>(() => WeightConversion.ParseName("int3"));
        Assert.Contains("'int3'", e.Message);
        Assert.Equal(WeightDType.BF16, WeightConversion.ParseName("bfloat16"));
    }

    [Theory]
    [InlineData(1.0f, 0x3F80)]
    [InlineData(1.00390625f, 0x3F80)]   // exactly halfway: ties to even
    [InlineData(1.01171875f, 0x3F82)]   // halfway above an odd mantissa: rounds up
    [InlineData(-2.5f, 0xC020)]
    public void BFloat16RoundsToNearestEven(float value, int expected)
    {
        Assert.Equal((ushort)expected, WeightConversion.ToBFloat16(value));
    }

    [Fact]
    public void EntriesSayWhatTheyHoldAndWhetherTheirModelChanged()
    {
        using var dir = new TempDirectory();
        using var cacheDir = new TempDirectory();
        HuggingFaceWriter.WriteLlama(dir.Path, TinyLlama.Random(35));
        var cache = new ModelCache(cacheDir.Path);
        var options = new LoadOptions { DType = WeightDType.BF16, Cache = cache };
        using (ModelLoader.LoadTransformer(dir.Path, options)) { }
        var entry = Assert.Single(cache.Entries());
        Assert.NotNull(entry.Source);
        Assert.Equal(Path.GetFullPath(dir.Path), entry.Source.Folder);
        Assert.Equal("dtype=bf16", entry.Source.Derivation.ToLowerInvariant());
        Assert.Contains(entry.Source.Files, f => f.Path == Path.GetFullPath(dir.File("model.safetensors")));
        Assert.Equal(Directory.GetFiles(entry.Path).Sum(f => new FileInfo(f).Length), entry.Bytes);
        Assert.False(entry.Stale);
        // The key the entry was found under is the one its recorded sources make.
        Assert.Equal(Path.GetFileName(entry.Path), entry.Source.Key);

        // A hit counts as a use.
        Directory.SetLastWriteTimeUtc(entry.Path, new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        using (ModelLoader.LoadTransformer(dir.Path, options)) { }
        Assert.True(Assert.Single(cache.Entries()).LastUsedUtc > DateTime.UtcNow.AddMinutes(-5));

        // The model changes: its old entry is stale, the next load makes a new one.
        File.SetLastWriteTimeUtc(dir.File("model.safetensors"), DateTime.UtcNow.AddMinutes(1));
        Assert.True(Assert.Single(cache.Entries()).Stale);
        using (ModelLoader.LoadTransformer(dir.Path, options)) { }
        Assert.Equal(new[] { false, true }, cache.Entries().Select(e => e.Stale).Order());
    }

    [Fact]
    public void TheCliListsAndClearsTheCache()
    {
        using var dir = new TempDirectory();
        using var cacheDir = new TempDirectory();
        HuggingFaceWriter.WriteLlama(dir.Path, TinyLlama.Random(36));
        var cache = new ModelCache(cacheDir.Path);
        using (ModelLoader.LoadTransformer(dir.Path, new LoadOptions { DType = WeightDType.BF16, Cache = cache })) { }
        File.SetLastWriteTimeUtc(dir.File("model.safetensors"), DateTime.UtcNow.AddMinutes(1));
        using (ModelLoader.LoadTransformer(dir.Path, new LoadOptions { DType = WeightDType.F16, Cache = cache })) { }
        // An entry from before sources were recorded: listed, never taken for stale.
        string legacy = Path.Combine(cacheDir.Path, "models", "0123456789abcdef0123456789abcdef");
        Directory.CreateDirectory(legacy);
        File.WriteAllBytes(Path.Combine(legacy, "model.safetensors"), new byte[3000]);

        var list = Cli.CliRunner.Run("cache", "list", "--cache-dir", cacheDir.Path);
        Assert.Equal(0, list.ExitCode);
        Assert.Contains($"{cacheDir.Path}: 3 entries", list.Stdout);
        Assert.Contains($"weights as BF16 of {Path.GetFullPath(dir.Path)}  [stale: the model changed]", list.Stdout);
        Assert.Contains($"weights as F16 of {Path.GetFullPath(dir.Path)}", list.Stdout);
        Assert.Contains("(source not recorded)", list.Stdout);
        Assert.Contains("3 KiB", list.Stdout);

        var stale = Cli.CliRunner.Run("cache", "clear", "--stale", "--cache-dir", cacheDir.Path);
        Assert.Equal(0, stale.ExitCode);
        Assert.StartsWith("removed 1 entry", stale.Stdout);
        Assert.Equal(2, cache.Entries().Count);
        Assert.DoesNotContain(cache.Entries(), e => e.Stale);

        var all = Cli.CliRunner.Run("cache", "clear", "--cache-dir", cacheDir.Path);
        Assert.StartsWith("removed 2 entries", all.Stdout);
        Assert.Empty(cache.Entries());
        Assert.Contains($"{cacheDir.Path}: 0 entries", Cli.CliRunner.Run("cache", "list", "--cache-dir", cacheDir.Path).Stdout);
    }
}
