using Sling.Formats;
using Sling.Models;
using Sling.Quantization;
using Sling.Tests.Support;
using Sling.Tokenization;

namespace Sling.Tests.Fuzz;

/// <summary>
/// Every loader on corrupted real files: 200 deterministic cases each in CI. A longer campaign:
/// <c>SLING_FUZZ_CASES=5000 SLING_FUZZ_KEEP=/tmp/fuzz dotnet test tests/Sling.Tests -c Release --filter Fuzz</c>,
/// which keeps each failing file (named after its seed) for a regression test.
/// </summary>
public class LoaderFuzzTests
{
    public static readonly int Cases = int.TryParse(Environment.GetEnvironmentVariable("SLING_FUZZ_CASES"), out int n) && n > 0 ? n : 200;
    private static readonly string? Keep = Environment.GetEnvironmentVariable("SLING_FUZZ_KEEP") is { Length: > 0 } keep ? Directory.CreateDirectory(keep).FullName : null;

    private static void Assert200(List<FuzzHarness.Failure> failures) =>
        Assert.True(failures.Count == 0, $"{failures.Count} of {Cases} cases broke the contract:\n" +
            string.Join("\n", failures.Take(8).Select(f => $"  seed {f.Seed} ({f.Mutation}): {f.Problem}")));

    private static string CopyFolder(string source, TempDirectory dir)
    {
        string target = dir.File(Path.GetFileName(source));
        Directory.CreateDirectory(target);
        foreach (var f in Directory.GetFiles(source)) File.Copy(f, Path.Combine(target, Path.GetFileName(f)));
        return target;
    }

    private static string CopyFile(string source, TempDirectory dir)
    {
        string target = dir.File(Path.GetFileName(source));
        File.Copy(source, target);
        return target;
    }

    [SharedFact("models/gguf/arch/llama/model-f32.gguf")]
    public void GgufModelFiles()
    {
        using var dir = new TempDirectory();
        string file = CopyFile(SharedData.PathOf("models/gguf/arch/llama/model-f32.gguf"), dir);
        Assert200(FuzzHarness.Run(file, Cases, 1000, () => ModelLoader.Load(file), Keep));
    }

    [SharedFact("tokenizers/llama.cpp-vocab/ggml-vocab-bert-bge.gguf")]
    public void GgufVocabularies()
    {
        using var dir = new TempDirectory();
        string file = CopyFile(SharedData.PathOf("tokenizers/llama.cpp-vocab/ggml-vocab-bert-bge.gguf"), dir);
        Assert200(FuzzHarness.Run(file, Cases, 2000, () => Wrap(TokenizerLoader.Load(file)), Keep));
    }

    [SharedFact("models/stories260K-hf/model.safetensors")]
    public void SafetensorsFolders()
    {
        using var dir = new TempDirectory();
        string folder = CopyFolder(SharedData.PathOf("models/stories260K-hf"), dir);
        Assert200(FuzzHarness.Run(Path.Combine(folder, "model.safetensors"), Cases, 3000, () => ModelLoader.Load(folder), Keep));
    }

    [SharedFact("models/hf-tiny/llama/config.json")]
    public void ConfigJson()
    {
        using var dir = new TempDirectory();
        string folder = CopyFolder(SharedData.PathOf("models/hf-tiny/llama"), dir);
        Assert200(FuzzHarness.Run(Path.Combine(folder, "config.json"), Cases, 4000, () => ModelLoader.LoadTransformer(folder), Keep));
    }

    [SharedFact("models/stories260K-hf/model.safetensors")]
    public void GenerationConfigJson()
    {
        using var dir = new TempDirectory();
        string folder = CopyFolder(SharedData.PathOf("models/stories260K-hf"), dir);
        string file = Path.Combine(folder, "generation_config.json");
        File.WriteAllText(file, """{"bos_token_id": 1, "eos_token_id": [2, 7], "do_sample": true, "temperature": 0.7, "top_k": 20, "top_p": 0.9, "repetition_penalty": 1.1}""");
        Assert200(FuzzHarness.Run(file, Cases, 5000, () => ModelLoader.Load(folder), Keep));
    }

    [Fact]
    public void ShardIndex()
    {
        using var dir = new TempDirectory();
        HuggingFaceWriter.WriteLlama(dir.Path, TinyLlama.Random(9, vocab: 64), shards: 3);
        Assert200(FuzzHarness.Run(Path.Combine(dir.Path, "model.safetensors.index.json"), Cases, 6000, () => ModelLoader.LoadTransformer(dir.Path), Keep));
    }

    [SharedFact(SharedData.Stories260K)]
    public void Llama2cCheckpoints()
    {
        using var dir = new TempDirectory();
        string file = CopyFile(SharedData.PathOf(SharedData.Stories260K), dir);
        Assert200(FuzzHarness.Run(file, Cases, 7000, () => ModelLoader.LoadTransformer(file), Keep));
    }

    [SharedFact(SharedData.Stories260KTokenizer)]
    public void Llama2cTokenizers()
    {
        using var dir = new TempDirectory();
        string file = CopyFile(SharedData.PathOf(SharedData.Stories260KTokenizer), dir);
        Assert200(FuzzHarness.Run(file, Cases, 8000, () => Wrap(TokenizerLoader.Load(file)), Keep));
    }

    [SharedFact("tokenizers/llama2-spm/tokenizer.model")]
    public void SentencePieceModels()
    {
        using var dir = new TempDirectory();
        string file = CopyFile(SharedData.PathOf("tokenizers/llama2-spm/tokenizer.model"), dir);
        Assert200(FuzzHarness.Run(file, Cases / 2, 9000, () => Wrap(TokenizerLoader.Load(file)), Keep)); // 500 KB: half the cases keep CI short
        Assert200(FuzzHarness.Run(file, Cases / 2, 9500, () => Wrap(TokenizerLoader.Load(file)), Keep));
    }

    [SharedFact(VocabTestVectors.Folder)]
    public void TokenizerJsonAndConfig()
    {
        using var dir = new TempDirectory();
        TokenizerJsonWriter.ByteLevel(dir.File("tokenizer.json"), "gpt-2", System.Text.Json.Nodes.JsonNode.Parse("""{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}""")!);
        File.WriteAllText(dir.File("tokenizer_config.json"), """{"add_bos_token": false, "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "chat_template": "{{ messages }}"}""");
        string json = dir.File("tokenizer.json");
        Assert200(FuzzHarness.Run(json, Cases, 10000, () => Wrap(TokenizerLoader.Load(json)), Keep));
        Assert200(FuzzHarness.Run(dir.File("tokenizer_config.json"), Cases, 10500, () => Wrap(TokenizerLoader.Load(json)), Keep));
    }

    [SharedFact("models/stories260K-hf/model.safetensors")]
    public void QuantizedFolders()
    {
        using var dir = new TempDirectory();
        string q = dir.File("q");
        ModelQuantizer.Quantize(SharedData.PathOf("models/stories260K-hf"), q, new WeightQuantizationConfig { GroupSize = 32 });
        Assert200(FuzzHarness.Run(Path.Combine(q, "model.safetensors"), Cases, 11000, () => ModelLoader.Load(q), Keep));
        Assert200(FuzzHarness.Run(Path.Combine(q, "config.json"), Cases, 11500, () => ModelLoader.Load(q), Keep));
    }

    private sealed class Held(ITokenizer tokenizer) : IDisposable
    {
        public ITokenizer Tokenizer { get; } = tokenizer;
        public void Dispose() { }
    }

    // A tokenizer that loads must also work: encode and decode a short text.
    private static IDisposable Wrap(ITokenizer tokenizer)
    {
        var ids = tokenizer.Encode("Hello world, 123 héllo", addBos: true);
        foreach (int id in ids) if (id < 0 || id >= tokenizer.VocabSize) throw new InvalidOperationException($"encode produced id {id} outside 0..{tokenizer.VocabSize - 1}");
        tokenizer.Decode(ids);
        return new Held(tokenizer);
    }

    // Truncation at every length through the headers and at every tensor's first byte: each is a
    // clean error (or, past the last tensor's end, a model that loads).
    [SharedTheory("models/gguf/arch/llama/model-f32.gguf", SharedData.Stories260KTokenizer, "models/stories260K-hf/model.safetensors")]
    [InlineData("models/gguf/arch/llama/model-f32.gguf")]
    [InlineData("models/stories260K-hf/model.safetensors")]
    [InlineData(SharedData.Stories260KTokenizer)]
    public void TruncationAtEveryStructuralBoundary(string relative)
    {
        using var dir = new TempDirectory();
        string source = SharedData.PathOf(relative);
        string folder = dir.File("m");
        Directory.CreateDirectory(folder);
        foreach (var f in Directory.GetFiles(Path.GetDirectoryName(source)!)) File.Copy(f, Path.Combine(folder, Path.GetFileName(f)));
        string file = Path.Combine(folder, Path.GetFileName(source));
        var bytes = File.ReadAllBytes(file);
        var lengths = new SortedSet<long>(Enumerable.Range(0, Math.Min(bytes.Length, 1536)).Select(i => (long)i));
        if (relative.EndsWith(".gguf"))
            using (var g = GgufFile.Open(file)) foreach (var t in g.Tensors) { lengths.Add(t.Offset); lengths.Add(t.Offset + 1); }
        if (relative.EndsWith(".safetensors"))
            using (var st = SafeTensorsFile.Open(file)) foreach (var t in st.Tensors.Values) { lengths.Add(t.Offset); lengths.Add(t.Offset + t.ByteLength - 1); }
        lengths.Add(bytes.Length - 1);
        var failures = new List<string>();
        try
        {
            foreach (long length in lengths)
            {
                File.WriteAllBytes(file, bytes[..(int)length]);
                try
                {
                    if (relative.EndsWith("tok512.bin")) TokenizerLoader.Load(file);
                    else ModelLoader.LoadTransformer(relative.EndsWith(".gguf") ? file : folder).Dispose();
                    failures.Add($"truncated to {length} of {bytes.Length}: loaded");
                }
                catch (SlingException e) when (e.Message.Contains(Path.GetFileName(file)))
                {
                }
                catch (Exception e)
                {
                    failures.Add($"truncated to {length}: {e.GetType().Name}: {e.Message}");
                }
            }
        }
        finally
        {
            File.WriteAllBytes(file, bytes);
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {lengths.Count} lengths:\n" + string.Join("\n", failures.Take(8)));
    }
}
