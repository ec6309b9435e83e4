using Sling.Formats;
using Sling.Models;
using Sling.Tests.Support;
using Sling.Tokenization;
using static Sling.Tests.Cli.CliRunner;

namespace Sling.Tests.Models;

/// <summary>llama.cpp GGUF model files: every supported weight type against the float64 reference of what the file holds.</summary>
public class GgufModelTests
{
    private static TinyLlama Model(bool shared) => TinyLlama.Random(71, dim: 64, hidden: 96, heads: 4, kvHeads: 2, vocab: 300, seqLen: 10, shared: shared);

    [Theory]
    [InlineData(TinyLlamaGguf.F32, false)]
    [InlineData(TinyLlamaGguf.F16, true)]
    [InlineData(TinyLlamaGguf.Q8_0, false)]
    [InlineData(TinyLlamaGguf.Q4_0, true)]
    public void EveryWeightTypeComputesTheModelTheFileHolds(uint type, bool shared)
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.gguf");
        var m = Model(shared);
        var stored = TinyLlamaGguf.Write(path, m, type);
        using var model = ModelLoader.Load(path);
        model.Transformer.IntegerActivations = false; // decoding checked exactly; integer kernels have their own tests
        Assert.Equal(RopeLayout.Interleaved, model.Config.Rope);
        var tokens = Engine.RandomTokens(8, m.SeqLen, m.Vocab);
        var logits = Engine.Logits(model.Transformer, tokens);
        Assert.True(ReferenceLlama.RelativeL2(ReferenceLlama.Logits(stored, tokens), logits) < 1e-5);
        string expectedFormat = type switch { TinyLlamaGguf.Q8_0 => "int8_sym", TinyLlamaGguf.Q4_0 => "int4_sym", TinyLlamaGguf.F16 => "f16", _ => "f32" };
        Assert.Equal([expectedFormat], ModelSummary.Of(model.Transformer).Formats);
        // The vocabulary comes from the same file: BOS from its metadata, text round-trips through its pieces.
        var ids = model.Tokenizer.Encode("hello t260", addBos: true);
        Assert.Equal(1, ids[0]);
        Assert.Equal("hello t260", model.Tokenizer.Decode(ids.Skip(1), previous: 1));
    }

    [Fact]
    public void ARunFromAGgufFileUsesItsOwnVocabulary()
    {
        using var dir = new TempDirectory();
        TinyLlamaGguf.Write(dir.File("model.gguf"), Model(false), TinyLlamaGguf.Q4_0);
        var r = Run("run", "-m", dir.File("model.gguf"), "-p", "t300", "-n", "3", "-t", "0");
        Assert.Equal(0, r.ExitCode);
        Assert.StartsWith("t300", r.Stdout);
        Assert.Contains("gguf:llama", Run("info", "-m", dir.File("model.gguf")).Stdout);
    }

    [Fact]
    public void UnsupportedArchitecturesTypesAndShapesAreClearErrors()
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.gguf");
        TinyLlamaGguf.Write(path, Model(false), TinyLlamaGguf.F32, md => md["general.architecture"] = "rwkv");
        Assert.Contains("GGUF architecture 'rwkv' is not supported", Assert.Throws<ModelFormatException>(() => ModelLoader.LoadTransformer(path)).Message);

        TinyLlamaGguf.Write(path, Model(false), TinyLlamaGguf.F32, md => md["llama.feed_forward_length"] = 100u);
        Assert.Contains("expected [64, 100]", Assert.Throws<ModelFormatException>(() => ModelLoader.LoadTransformer(path)).Message);

        TinyLlamaGguf.Write(path, Model(false), TinyLlamaGguf.F32);
        var bytes = File.ReadAllBytes(path);
        // Retype the first tensor (token_embd) as IQ2_XXS (ggml type 16): its type field follows its name and dims.
        int at = bytes.AsSpan().IndexOf("token_embd.weight"u8) + "token_embd.weight".Length + 4 + 16;
        BitConverter.GetBytes(16u).CopyTo(bytes, at);
        File.WriteAllBytes(path, bytes);
        var unsupported = Assert.Throws<ModelFormatException>(() => ModelLoader.LoadTransformer(path)).Message;
        Assert.Contains("ggml type 16 (IQ2_XXS); supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0", unsupported);
        BitConverter.GetBytes(1234u).CopyTo(bytes, at); // an id ggml does not have
        File.WriteAllBytes(path, bytes);
        var unknown = Assert.Throws<ModelFormatException>(() => ModelLoader.LoadTransformer(path)).Message;
        Assert.Contains("tensor 'token_embd.weight' has ggml type 1234", unknown);

        TinyLlamaGguf.Write(path, Model(false), TinyLlamaGguf.Q8_0);
        bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 1000)]);
        Assert.Contains("truncated", Assert.Throws<ModelFormatException>(() => ModelLoader.LoadTransformer(path)).Message);
    }
}
