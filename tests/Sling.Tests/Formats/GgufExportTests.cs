using Sling.Formats;
using Sling.Models;
using Sling.Tests.Support;

namespace Sling.Tests.Formats;

/// <summary>sling export-gguf: files llama.cpp loads, checked against llama.cpp's own quantizer and against Sling's loader.</summary>
public class GgufExportTests
{
    private const string Quant = "models/gguf/quant";

    // llama-quantize wrote model-q8_0.gguf and model-q4_0.gguf from model-f32.gguf: exporting the F32
    // model must give the same bytes for every tensor llama.cpp quantized to that type.
    [SharedTheory(Quant + "/model-f32.gguf", Quant + "/model-q8_0.gguf", Quant + "/model-q4_0.gguf")]
    [InlineData("q8_0", GgufExportType.Q8_0)]
    [InlineData("q4_0", GgufExportType.Q4_0)]
    public void QuantizedTensorsAreTheBytesLlamaQuantizeWrites(string name, GgufExportType type)
    {
        using var dir = new TempDirectory();
        using (var model = ModelLoader.LoadTransformer(SharedData.PathOf($"{Quant}/model-f32.gguf")))
            GgufExporter.Export(model, dir.File("out.gguf"), type, SharedData.PathOf($"{Quant}/model-f32.gguf"));
        using var ours = GgufFile.Open(dir.File("out.gguf"));
        using var theirs = GgufFile.Open(SharedData.PathOf($"{Quant}/model-{name}.gguf"));
        int compared = 0;
        foreach (var t in theirs.Tensors.Where(t => t.Type is 2 or 8))
        {
            var mine = ours.Tensors.Single(x => x.Name == t.Name);
            Assert.Equal(t.Type, mine.Type);
            Assert.Equal(t.Dimensions, mine.Dimensions);
            Assert.True(Bytes(ours, mine).SequenceEqual(Bytes(theirs, t)), $"{t.Name} differs");
            compared++;
        }
        Assert.True(compared >= 15, $"only {compared} tensors compared");
        Assert.Equal(theirs.Get<string[]>("tokenizer.ggml.tokens"), ours.Get<string[]>("tokenizer.ggml.tokens"));
    }

    // A Hugging Face folder (rotate-half q/k) exported as F32 GGUF and loaded back computes the same logits.
    [SharedFact("models/hf-tiny/llama/config.json")]
    public void AHuggingFaceFolderRoundTripsThroughGguf()
    {
        using var dir = new TempDirectory();
        using var source = ModelLoader.LoadTransformer(SharedData.PathOf("models/hf-tiny/llama"));
        GgufExporter.Export(source, dir.File("llama.gguf"), GgufExportType.F32);
        using var exported = ModelLoader.LoadTransformer(dir.File("llama.gguf"));
        Assert.Equal(RopeLayout.Interleaved, exported.Config.Rope);
        var tokens = Engine.RandomTokens(3, 12, source.Config.VocabSize);
        var expected = Engine.Logits(source, tokens);
        var actual = Engine.Logits(exported, tokens);
        Assert.True(ReferenceLlama.RelativeL2(expected.Select(r => r.Select(v => (double)v).ToArray()).ToArray(), actual) < 1e-6);
    }

    // Llama 3.x rope scaling goes into the file as llama.cpp's rope_freqs tensor, and comes back out of it:
    // the exported model still matches the float64 reference of the Hugging Face model.
    [SharedFact("models/hf-tiny/llama3-rope-scaling/golden.safetensors")]
    public void Llama3RopeScalingTravelsAsRopeFreqs()
    {
        string folder = SharedData.PathOf("models/hf-tiny/llama3-rope-scaling");
        using var dir = new TempDirectory();
        using (var source = ModelLoader.LoadTransformer(folder))
        {
            Assert.NotNull(source.Config.Llama3Scaling);
            GgufExporter.Export(source, dir.File("llama3.gguf"), GgufExportType.F32);
        }
        using (var g = GgufFile.Open(dir.File("llama3.gguf")))
            Assert.Contains(g.Tensors, t => t.Name == "rope_freqs.weight");
        using var exported = ModelLoader.LoadTransformer(dir.File("llama3.gguf"));
        Assert.Null(exported.Config.Llama3Scaling);
        Assert.NotNull(exported.Config.RopeFrequencyFactors);
        Assert.Contains(exported.Config.RopeFrequencyFactors!, f => f > 1.5f); // the long wavelengths are slowed

        using var golden = SafeTensorsFile.Open(Path.Combine(folder, "golden.safetensors"));
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "golden.json")));
        int[] ids = json.RootElement.GetProperty("input_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        float[] reference = golden.ReadFloats("logits");
        int vocab = exported.Config.VocabSize;
        var expected = Enumerable.Range(0, ids.Length).Select(p => reference.Skip(p * vocab).Take(vocab).Select(v => (double)v).ToArray()).ToArray();
        Assert.True(ReferenceLlama.RelativeL2(expected, Engine.Logits(exported, ids)) < 1e-4);
    }

    // Phi-2's block (LayerNorm and projection biases, parallel attention and GELU MLP, partial rotary)
    // goes out as llama.cpp's "phi2" and comes back computing the same logits.
    [SharedFact("models/hf-tiny/phi/config.json")]
    public void APhiFolderRoundTripsThroughGgufAsPhi2()
    {
        using var dir = new TempDirectory();
        using var source = ModelLoader.LoadTransformer(SharedData.PathOf("models/hf-tiny/phi"));
        GgufExporter.Export(source, dir.File("phi.gguf"), GgufExportType.F32);
        using (var g = GgufFile.Open(dir.File("phi.gguf")))
        {
            Assert.Equal("phi2", g.Get<string>("general.architecture"));
            Assert.Contains(g.Tensors, t => t.Name == "blk.0.attn_q.bias");
            Assert.Contains(g.Tensors, t => t.Name == "output.bias");
        }
        using var exported = ModelLoader.LoadTransformer(dir.File("phi.gguf"));
        Assert.Equal(source.Config.RotaryDim, exported.Config.RotaryDim);
        var tokens = Engine.RandomTokens(3, 12, source.Config.VocabSize);
        var expected = Engine.Logits(source, tokens);
        Assert.True(ReferenceLlama.RelativeL2(expected.Select(r => r.Select(v => (double)v).ToArray()).ToArray(), Engine.Logits(exported, tokens)) < 1e-6);
    }

    [SharedFact("models/hf-tiny/qwen2/config.json")]
    public void ModelsOutsideTheSupportedFamiliesAreRefusedByName()
    {
        using var dir = new TempDirectory();
        using var qwen = ModelLoader.LoadTransformer(SharedData.PathOf("models/hf-tiny/qwen2"));
        var e = Assert.Throws<SlingException>(() => GgufExporter.Export(qwen, dir.File("qwen2.gguf"), GgufExportType.F16));
        Assert.Contains("Llama-family", e.Message);
    }

    [Fact]
    public void AQuantizedExportLoadsBackWithItsTypes()
    {
        using var model = SyntheticModels.Create("stories15m", "f32");
        using var dir = new TempDirectory();
        GgufExporter.Export(model, dir.File("q.gguf"), GgufExportType.Q8_0);
        using var loaded = ModelLoader.LoadTransformer(dir.File("q.gguf"));
        Assert.Equal(["int8_sym"], ModelSummary.Of(loaded).Formats);
        Assert.Equal(model.Config.VocabSize, loaded.Config.VocabSize);
    }

    private static byte[] Bytes(GgufFile file, GgufTensorInfo t)
    {
        using var stream = File.OpenRead(file.Path);
        stream.Position = t.Offset;
        long size = t.ElementCount / 32 * (t.Type == 8 ? 34 : 18);
        var bytes = new byte[size];
        stream.ReadExactly(bytes);
        return bytes;
    }
}
