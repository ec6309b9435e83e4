using Sling.Formats;
using Sling.Kernels;
using Sling.Models;
using Sling.Quantization;
using Sling.Tests.Support;

namespace Sling.Tests.Models;

/// <summary>
/// The kernels' layout kept in the model cache: the first load repacks and stores it, the second
/// reads it back — the same formats, the same bytes, the same logits bit for bit — and anything
/// wrong with an entry falls back to repacking from the model.
/// </summary>
public class KernelLayoutCacheTests
{
    private const string Quant = "models/gguf/quant";
    // AVX-512 repacks every block format; AVX2 the int4/int8 groups (Q4_0, Q8_0, Sling's int4/int8) and the K-quants.
    private static readonly bool Repacks = KernelIsas.Best >= KernelIsa.Avx2;
    private static readonly bool RepacksAll = KernelIsas.Best == KernelIsa.Avx512;

    // On AVX2 the interleaved layouts hold Q4_0, Q8_0, Q4_K, the other K-quants' and IQ4's tensors (of a shape they fit).
    private static bool HasAvx2Layout(string path)
    {
        using var g = GgufFile.Open(path);
        return g.Tensors.Any(t => t.Dimensions.Length == 2 && t.Dimensions[1] % RowBlockMatrix.RowsPerBlock == 0 && t.Dimensions[0] % 32 == 0
            && t.Type is GgmlBlocks.Q4_0 or GgmlBlocks.Q8_0 or GgmlBlocks.Q4_K or GgmlBlocks.Q2_K or GgmlBlocks.Q3_K or GgmlBlocks.Q5_K or GgmlBlocks.Q6_K
                or GgmlBlocks.IQ4_NL or GgmlBlocks.IQ4_XS);
    }

    private static bool Interleaved(Transformer model) =>
        model.Weights.Layers.SelectMany(l => l.Linears()).Select(x => x.Linear.Weight).Append(model.Weights.Embedding).Append(model.Weights.Classifier.Weight)
            .Any(m => m is RowBlockMatrix);

    private static LoadOptions Options(string cache, List<string> log, bool keep = true) =>
        new() { Cache = new ModelCache(cache), Log = log.Add, KeepKernelLayout = keep, KernelLayoutMinimumBytes = 0 };

    private static string[] Entries(string cache) =>
        Directory.Exists(Path.Combine(cache, "models")) ? Directory.GetDirectories(Path.Combine(cache, "models")) : [];

    private static (float[][] Integer, float[][] Exact, string[] Formats, long Bytes) Run(Transformer model, int[] ids)
    {
        model.IntegerActivations = true;
        var integer = Engine.BatchLogits(model, ids, 8);
        model.IntegerActivations = false;
        var exact = Engine.BatchLogits(model, ids, 8);
        var summary = ModelSummary.Of(model);
        return (integer, exact, [.. summary.Formats], summary.WeightBytes);
    }

    private static void AssertSame((float[][] Integer, float[][] Exact, string[] Formats, long Bytes) a, (float[][] Integer, float[][] Exact, string[] Formats, long Bytes) b)
    {
        Assert.Equal(a.Formats, b.Formats);
        Assert.Equal(a.Bytes, b.Bytes);
        for (int p = 0; p < a.Integer.Length; p++)
        {
            Assert.Equal(a.Integer[p], b.Integer[p]); // bit for bit: the kernels read the same bytes
            Assert.Equal(a.Exact[p], b.Exact[p]);
        }
    }

    [SharedTheory(Quant + "/model-q8_0.gguf")]
    [MemberData(nameof(SharedData.QuantizedGgufTypes), MemberType = typeof(SharedData))]
    public void TheSecondLoadReadsTheStoredLayoutAndComputesTheSameLogits(string type)
    {
        using var cache = new TempDirectory();
        string path = SharedData.PathOf($"{Quant}/model-{type}.gguf");
        var ids = Engine.RandomTokens(5, 12, 256);
        var log = new List<string>();
        (float[][], float[][], string[], long) first, second;
        bool interleaved;
        using (var model = ModelLoader.LoadTransformer(path, Options(cache.Path, log)))
        {
            first = Run(model, ids);
            interleaved = Interleaved(model);
        }
        Assert.Equal(RepacksAll || Repacks && HasAvx2Layout(path), interleaved);
        if (!interleaved)
        {
            Assert.Empty(Entries(cache.Path)); // nothing in the interleaved layout on this CPU, so nothing to keep
            return;
        }
        var entry = Assert.Single(Entries(cache.Path));
        Assert.True(File.Exists(Path.Combine(entry, KernelLayoutFile.FileName)));
        Assert.Contains(log, l => l.StartsWith("kept the weights in the kernels' layout", StringComparison.Ordinal) && l.Contains(entry));
        log.Clear();
        using (var model = ModelLoader.LoadTransformer(path, Options(cache.Path, log))) second = Run(model, ids);
        Assert.Contains(log, l => l.StartsWith("weights in the kernels' layout from the cache", StringComparison.Ordinal) && l.Contains(entry));
        Assert.DoesNotContain(log, l => l.StartsWith("kept", StringComparison.Ordinal));
        AssertSame(first, second);
    }

    [SharedFact(Quant + "/model-q4_k_m.gguf")]
    public void EveryStoredMatrixHoldsTheRepackedBytes()
    {
        if (!RepacksAll) return; // the K-quant layouts are AVX-512's
        using var cache = new TempDirectory();
        string path = SharedData.PathOf($"{Quant}/model-q4_k_m.gguf");
        using var model = ModelLoader.LoadTransformer(path, Options(cache.Path, []));
        var stored = KernelLayoutFile.Read(Assert.Single(Entries(cache.Path)));
        var w = model.Weights;
        var expected = new List<(string Slot, WeightMatrix Matrix)> { ("Embedding/-1", w.Embedding) };
        if (!ReferenceEquals(w.Classifier.Weight, w.Embedding)) expected.Add(("Output/-1", w.Classifier.Weight));
        for (int i = 0; i < w.Layers.Length; i++)
        {
            var l = w.Layers[i];
            expected.AddRange([($"Query/{i}", l.Query.Weight), ($"Key/{i}", l.Key.Weight), ($"Value/{i}", l.Value.Weight),
                ($"AttentionOutput/{i}", l.Output.Weight), ($"Gate/{i}", l.Gate!.Weight), ($"Up/{i}", l.Up.Weight), ($"Down/{i}", l.Down.Weight)]);
        }
        Assert.Equal(expected.Select(e => e.Slot).Order(), stored.Keys.Order());
        var row = new float[model.Config.HiddenDim];
        var back = new float[model.Config.HiddenDim];
        foreach (var (slot, matrix) in expected)
        {
            var kept = stored[slot];
            Assert.Equal(matrix.Format, kept.Format);
            Assert.Equal((matrix.Rows, matrix.Cols, matrix.ByteSize), (kept.Rows, kept.Cols, kept.ByteSize));
            foreach (int r in new[] { 0, matrix.Rows / 2, matrix.Rows - 1 })
            {
                matrix.ReadRow(r, row.AsSpan(0, matrix.Cols));
                kept.ReadRow(r, back.AsSpan(0, matrix.Cols));
                Assert.Equal(row[..matrix.Cols], back[..matrix.Cols]);
            }
        }
    }

    [Fact]
    public void AFolderCompressedAtLoadKeepsItsLayoutToo()
    {
        using var dir = new TempDirectory();
        using var cache = new TempDirectory();
        var m = TinyLlama.Random(41, dim: 64, hidden: 96, vocab: 48, seqLen: 16);
        HuggingFaceWriter.WriteLlama(dir.Path, m);
        var log = new List<string>();
        var options = Options(cache.Path, log) with { Quantization = new WeightQuantizationConfig { Bits = 4, GroupSize = 32 } };
        var ids = Engine.RandomTokens(6, 10, m.Vocab);
        (float[][], float[][], string[], long) first, second;
        using (var model = ModelLoader.LoadTransformer(dir.Path, options)) first = Run(model, ids);
        // The compressed folder is one entry; its kernel layout another.
        Assert.Equal(Repacks ? 2 : 1, Entries(cache.Path).Length);
        log.Clear();
        using (var model = ModelLoader.LoadTransformer(dir.Path, options)) second = Run(model, ids);
        Assert.Equal(Repacks, log.Any(l => l.StartsWith("weights in the kernels' layout from the cache", StringComparison.Ordinal)));
        AssertSame(first, second);
    }

    [SharedTheory(Quant + "/model-q4_0.gguf")]
    [InlineData("truncated")]
    [InlineData("header")]
    public void ADamagedEntryIsRepackedFromTheModelAndWrittenAgain(string damage)
    {
        if (!Repacks) return;
        using var cache = new TempDirectory();
        string path = SharedData.PathOf($"{Quant}/model-q4_0.gguf");
        var ids = Engine.RandomTokens(7, 9, 256);
        (float[][], float[][], string[], long) first, second;
        using (var model = ModelLoader.LoadTransformer(path, Options(cache.Path, []))) first = Run(model, ids);
        string file = Path.Combine(Assert.Single(Entries(cache.Path)), KernelLayoutFile.FileName);
        long length = new FileInfo(file).Length;
        using (var stream = File.Open(file, FileMode.Open))
        {
            if (damage == "truncated") stream.SetLength(length / 2);
            else stream.Write("GGUF"u8);
        }
        var log = new List<string>();
        using (var model = ModelLoader.LoadTransformer(path, Options(cache.Path, log))) second = Run(model, ids);
        var note = Assert.Single(log, l => l.StartsWith("note: the cached kernel layout cannot be read", StringComparison.Ordinal));
        Assert.Contains(file, note); // the message names the damaged file
        Assert.Contains(log, l => l.StartsWith("kept the weights", StringComparison.Ordinal));
        Assert.Equal(length, new FileInfo(file).Length);
        AssertSame(first, second);
    }

    [SharedFact(Quant + "/model-q4_0.gguf")]
    public void NothingIsKeptWhenTurnedOffOrWhenTheModelIsSmall()
    {
        using var cache = new TempDirectory();
        string path = SharedData.PathOf($"{Quant}/model-q4_0.gguf");
        var log = new List<string>();
        using (ModelLoader.LoadTransformer(path, Options(cache.Path, log, keep: false))) { }
        using (ModelLoader.LoadTransformer(path, Options(cache.Path, log) with { KernelLayoutMinimumBytes = KernelLayoutCache.DefaultMinimumBytes })) { }
        Assert.Empty(Entries(cache.Path));
        Assert.Empty(log);
    }

    [SharedFact(Quant + "/model-q4_0.gguf")]
    public void AChangedModelFileGetsANewEntry()
    {
        if (!Repacks) return;
        using var dir = new TempDirectory();
        using var cache = new TempDirectory();
        string path = Path.Combine(dir.Path, "model.gguf");
        File.Copy(SharedData.PathOf($"{Quant}/model-q4_0.gguf"), path);
        using (ModelLoader.LoadTransformer(path, Options(cache.Path, []))) { }
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddMinutes(1));
        var log = new List<string>();
        using (ModelLoader.LoadTransformer(path, Options(cache.Path, log))) { }
        Assert.Equal(2, Entries(cache.Path).Length);
        Assert.DoesNotContain(log, l => l.Contains("from the cache", StringComparison.Ordinal));
    }

    [SharedFact(Quant + "/model-q4_0.gguf")]
    public void TheCliTurnsItOffWithOneFlag()
    {
        using var dir = new TempDirectory();
        string model = SharedData.PathOf($"{Quant}/model-q4_0.gguf");
        string[] run = ["run", "-m", model, "-t", "0", "-n", "6", "-p", "Hello", "--cache-dir", dir.File("cache")];
        var kept = Cli.CliRunner.Run(run);
        var off = Cli.CliRunner.Run([.. run, "--no-layout-cache"]);
        Assert.True(kept.ExitCode == 0 && off.ExitCode == 0, kept.Stderr + off.Stderr);
        Assert.Equal(kept.Stdout, off.Stdout);
        var help = Cli.CliRunner.Run("bench", "--help");
        Assert.Contains("--no-layout-cache", help.Stdout);
    }

    [SharedFact(Quant + "/model-q4_0.gguf")]
    public void ACacheThatCannotBeWrittenOnlyCostsANote()
    {
        if (!Repacks) return;
        using var dir = new TempDirectory();
        string blocked = dir.File("not-a-folder");
        File.WriteAllText(blocked, "a file where the cache folder would be");
        var log = new List<string>();
        string path = SharedData.PathOf($"{Quant}/model-q4_0.gguf");
        var ids = Engine.RandomTokens(8, 6, 256);
        float[][] logits;
        using (var model = ModelLoader.LoadTransformer(path, Options(blocked, log))) logits = Engine.BatchLogits(model, ids, 8);
        Assert.Contains(log, l => l.StartsWith("note: the kernel layout was not cached", StringComparison.Ordinal));
        using var reference = ModelLoader.LoadTransformer(path, Options(dir.File("cache"), [], keep: false));
        var expected = Engine.BatchLogits(reference, ids, 8);
        for (int p = 0; p < ids.Length; p++) Assert.Equal(expected[p], logits[p]);
    }

    [Fact]
    public void AHeaderLongerThanTheFirstReadIsReadWhole()
    {
        if (!Repacks) return;
        using var dir = new TempDirectory();
        // 1500 small matrices with long slot names: a header of ~200 KB, past the first 64 KiB read.
        var matrices = Enumerable.Range(0, 1500).Select(i => ($"layer {i} of a model with many tensors, named at length: {new string('x', 60)}",
            RowBlockMatrix.Repack(SyntheticModels.Matrix(16, 64, i % 2 == 0 ? "q4_0" : "q8_0", seed: i + 1)))).ToList();
        KernelLayoutFile.Write(dir.Path, matrices);
        var read = KernelLayoutFile.Read(dir.Path);
        Assert.Equal(matrices.Count, read.Count);
        var row = new float[64];
        var back = new float[64];
        foreach (var (slot, matrix) in matrices.Where((_, i) => i % 97 == 0 || i == matrices.Count - 1))
        {
            Assert.Equal(matrix.Format, read[slot].Format);
            matrix.ReadRow(15, row);
            read[slot].ReadRow(15, back);
            Assert.Equal(row, back);
        }
    }
}
