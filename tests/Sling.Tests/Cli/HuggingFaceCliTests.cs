using System.Text.Json.Nodes;
using Sling.Tests.Support;
using static Sling.Tests.Cli.CliRunner;

namespace Sling.Tests.Cli;

public class HuggingFaceCliTests
{
    private const string StoriesHf = "models/stories260K-hf";

    [SharedFact("models/stories260K-hf/model.safetensors", SharedData.Stories260KExpected)]
    public void RunOnAFolderPrintsTheReferenceText()
    {
        var r = Run("run", "--model", SharedData.PathOf(StoriesHf), "-t", "0", "-n", "200");
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(File.ReadAllText(SharedData.PathOf(SharedData.Stories260KExpected)) + Environment.NewLine, r.Stdout);
    }

    [SharedFact("models/hf-tiny/phi/config.json")]
    public void InfoDescribesAFolder()
    {
        var r = Run("info", "--model", SharedData.PathOf("models/hf-tiny/phi"));
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("PhiForCausalLM", r.Stdout);
        Assert.Contains("f16", r.Stdout);
        Assert.Contains("context length  256 tokens", r.Stdout);
        Assert.Contains("8 of 20 dims rotated", r.Stdout);
        Assert.Contains("tokenizer       none found", r.Stdout);
        Assert.Contains("model.safetensors  437,904 bytes", r.Stdout);
    }

    [SharedFact("models/stories260K-hf/model.safetensors")]
    public void InfoCountsParametersAndNamesTheTokenizer()
    {
        var r = Run("info", "-m", SharedData.PathOf(StoriesHf));
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("parameters      260,032", r.Stdout); // the size llama2.c's stories260K is named for
        Assert.Contains("tok512.bin, 512 tokens", r.Stdout);
    }

    [SharedFact("models/hf-tiny/llama/config.json")]
    public void RunWithoutATokenizerIsOneClearLine()
    {
        Assert.Contains("--tokenizer", AssertCleanFailure(Run("run", "-m", SharedData.PathOf("models/hf-tiny/llama"))));
    }

    [Fact]
    public void GenerationConfigSuppliesDefaultsTheUserDidNotOverride()
    {
        using var dir = new TempDirectory();
        var m = TinyLlama.Random(41, vocab: 300);
        HuggingFaceWriter.WriteLlama(dir.Path, m);
        var pieces = Llama2cTokenizerWriter.StandardVocabulary(("a", 0), ("b", 0), ("c", 0)).Take(m.Vocab).ToList();
        while (pieces.Count < m.Vocab) pieces.Add((System.Text.Encoding.ASCII.GetBytes($"t{pieces.Count}"), 0));
        Llama2cTokenizerWriter.Write(dir.File("tokenizer.bin"), pieces);
        File.WriteAllText(dir.File("generation_config.json"), new JsonObject { ["do_sample"] = false, ["eos_token_id"] = new JsonArray(2, 7) }.ToJsonString());

        // do_sample false → greedy: two runs with different seeds agree; with -t 1 typed, they need not.
        var a = Run("run", "-m", dir.Path, "-n", "12", "--seed", "1", "--no-echo");
        var b = Run("run", "-m", dir.Path, "-n", "12", "--seed", "2", "--no-echo");
        Assert.Equal(0, a.ExitCode);
        Assert.Equal(a.Stdout, b.Stdout);
        var sampled = Enumerable.Range(1, 6).Select(s => Run("run", "-m", dir.Path, "-n", "12", "-t", "1.5", "--top-k", "0", "--seed", s.ToString(), "--no-echo").Stdout).Distinct();
        Assert.True(sampled.Count() > 1);
    }

    [SharedFact(VocabTestVectors.Folder)]
    public void AFolderWithTokenizerJsonRunsAndDescribesItsTokenizer()
    {
        using var dir = new TempDirectory();
        HuggingFaceWriter.WriteLlama(dir.Path, TinyLlama.Random(42, vocab: 32000, dim: 16, hidden: 24, heads: 2, kvHeads: 1, seqLen: 32));
        TokenizerJsonWriter.SentencePiece(dir.File("tokenizer.json"), "llama-spm");
        File.WriteAllText(dir.File("tokenizer_config.json"), """{"add_bos_token": true, "bos_token": "<s>", "eos_token": "</s>"}""");
        var run = Run("run", "-m", dir.Path, "-p", "Hello world", "-n", "4", "-t", "0");
        Assert.Equal(0, run.ExitCode);
        Assert.StartsWith("Hello world", run.Stdout);
        Assert.Contains("prompt: 3 tokens", run.Stderr); // <s> ▁Hello ▁world
        var info = Run("info", "-m", dir.Path);
        Assert.Contains("SentencePieceBpe (tokenizer.json, 32000 tokens)", info.Stdout);
    }

    // Phi-2 and Qwen2.5 pad their embeddings past the tokenizer; padded ids must never be sampled,
    // even when their logits are the largest (here they are made so on purpose).
    [SharedFact(VocabTestVectors.Folder)]
    public void PaddedVocabularyIdsAreNeverGenerated()
    {
        using var dir = new TempDirectory();
        var m = TinyLlama.Random(43, vocab: 32064, dim: 16, hidden: 24, heads: 2, kvHeads: 1, seqLen: 32, shared: false);
        for (int id = 32000; id < 32064; id++)
            m.Classifier![id] = m.Classifier[5 + id % 7].Select(v => v * (id % 2 == 0 ? 100 : -100)).ToArray();
        HuggingFaceWriter.WriteLlama(dir.Path, m);
        TokenizerJsonWriter.SentencePiece(dir.File("tokenizer.json"), "llama-spm");
        File.WriteAllText(dir.File("tokenizer_config.json"), """{"add_bos_token": true, "bos_token": "<s>", "eos_token": "</s>"}""");
        foreach (var temperature in new[] { "0", "1" })
        {
            var run = Run("run", "-m", dir.Path, "-p", "Hello", "-n", "12", "-t", temperature, "--top-k", "0", "--seed", "3");
            Assert.True(run.ExitCode == 0, run.Stderr);
            Assert.StartsWith("Hello", run.Stdout);
        }
    }

    [Fact]
    public void DtypeForALlama2cCheckpointIsOneClearLine()
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.bin");
        Llama2cWriter.WriteLegacy(path, TinyLlama.Random(1));
        Assert.Contains("dtype bf16", AssertCleanFailure(Run("run", "-m", path, "--dtype", "bf16")));
    }
}
