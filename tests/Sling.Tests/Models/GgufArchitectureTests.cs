using Sling.Formats;
using Sling.Models;
using Sling.Tests.Support;

namespace Sling.Tests.Models;

/// <summary>
/// The hf-tiny models written as llama.cpp's converter writes them (../shared/models/gguf/arch): llama
/// (interleaved q/k), qwen2 (biases, tied output), phi2 (LayerNorm + bias, parallel block, partial
/// rotary, GELU, output bias), phi3 (fused qkv and gate‖up). Each must reproduce the float64 reference.
/// </summary>
public class GgufArchitectureTests
{
    [SharedTheory("models/gguf/arch/llama/model-f32.gguf")]
    [InlineData("llama", "gguf:llama")]
    [InlineData("qwen2", "gguf:qwen2")]
    [InlineData("phi", "gguf:phi2")]
    [InlineData("phi3", "gguf:phi3")]
    public void LogitsMatchTheFloat64Reference(string name, string architecture)
    {
        string folder = SharedData.PathOf($"models/gguf/arch/{name}");
        using var golden = SafeTensorsFile.Open(Path.Combine(folder, "golden.safetensors"));
        var ids = golden.ReadIntegers("input_ids").Select(i => (int)i).ToArray();
        var reference = golden.ReadFloats("logits");
        using var model = ModelLoader.Load(Path.Combine(folder, "model-f32.gguf"));
        Assert.Equal(architecture, model.Config.Architecture);
        int vocab = model.Config.VocabSize;
        var expected = Enumerable.Range(0, ids.Length).Select(p => reference.Skip(p * vocab).Take(vocab).Select(v => (double)v).ToArray()).ToArray();
        foreach (var logits in new[] { Engine.Logits(model.Transformer, ids), Engine.BatchLogits(model.Transformer, ids, 7) })
        {
            double error = ReferenceLlama.RelativeL2(expected, logits);
            Assert.True(error < 1e-4, $"{name}: relative L2 {error:E2}");
        }
    }

    [SharedFact("tokenizers/llama.cpp-vocab/ggml-vocab-llama-spm.gguf", "models/gguf/quant/model-q4_k_m.gguf")]
    public void InfoListsTensorTypesAndNamesAVocabularyOnlyFile()
    {
        var vocab = Cli.CliRunner.Run("info", "-m", SharedData.PathOf("tokenizers/llama.cpp-vocab/ggml-vocab-llama-spm.gguf"));
        Assert.Equal(0, vocab.ExitCode);
        Assert.Contains("a vocabulary only, no weights (32000 tokens", vocab.Stdout);

        var model = Cli.CliRunner.Run("info", "-m", SharedData.PathOf("models/gguf/arch/qwen2/model-f32.gguf"));
        Assert.Equal(0, model.ExitCode);
        Assert.Contains("tensor types    F32 ×", model.Stdout);
        Assert.Contains("gguf:qwen2", model.Stdout);

        // A K-quant file lists its mix of types.
        var kquant = Cli.CliRunner.Run("info", "-m", SharedData.PathOf("models/gguf/quant/model-q4_k_m.gguf"));
        Assert.Equal(0, kquant.ExitCode);
        Assert.Contains("Q4_K ×", kquant.Stdout);
        Assert.Contains("Q6_K ×", kquant.Stdout);
    }
}
