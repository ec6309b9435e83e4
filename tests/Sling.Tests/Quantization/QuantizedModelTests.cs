using System.Text.Json.Nodes;
using Sling.Formats;
using Sling.Kernels;
using Sling.Models;
using Sling.Quantization;
using Sling.Tests.Support;

namespace Sling.Tests.Quantization;

public class QuantizedModelTests
{
    // dim 64 / hidden 128: every linear layer divides into groups of 32 and 64.
    private static TinyLlama Model(int seed = 61) => TinyLlama.Random(seed, dim: 64, hidden: 128, heads: 4, kvHeads: 2, vocab: 96, seqLen: 12, shared: false);

    /// <summary>A float64 copy of what a quantized folder stores, unpacked here independently of the kernels.</summary>
    private static double[][] Dequantize(SafeTensorsFile file, string name, int cols)
    {
        var format = QuantizedTensors.FormatOf(file, name)!;
        var codes = file.RawBytes(file.Info(name)).ToArray();
        var scales = file.ReadFloats(name + ".scale");
        byte[]? zeros = format.Symmetric ? null : file.RawBytes(file.Info(name + ".zero_point")).ToArray();
        int rows = (int)file.Info(name).Shape[0], groups = cols / format.GroupSize;
        int codeBytes = codes.Length / rows, zeroBytes = zeros == null ? 0 : zeros.Length / rows;
        var result = new double[rows][];
        for (int r = 0; r < rows; r++)
        {
            result[r] = new double[cols];
            for (int c = 0; c < cols; c++)
            {
                int g = c / format.GroupSize, code, zero;
                if (format.Bits == 4)
                {
                    int block = c / 32, within = c % 32;
                    byte b = codes[r * codeBytes + block * 16 + within % 16];
                    code = within < 16 ? b & 0xF : b >> 4;
                    zero = zeros == null ? 8 : (g % 2 == 0 ? zeros[r * zeroBytes + g / 2] & 0xF : zeros[r * zeroBytes + g / 2] >> 4);
                }
                else
                {
                    code = codes[r * codeBytes + c];
                    zero = zeros == null ? 128 : zeros[r * zeroBytes + g];
                }
                result[r][c] = (code - zero) * (double)scales[r * groups + g];
            }
        }
        return result;
    }

    private static TinyLlama StoredModel(string folder, TinyLlama original)
    {
        using var f = SafeTensorsFile.Open(Path.Combine(folder, "model.safetensors"));
        double[][] M(string name, double[][] fallback) => QuantizedTensors.FormatOf(f, name) != null
            ? Dequantize(f, name, fallback[0].Length)
            : fallback;
        var m = original.MapMatrices(x => x);
        m.Embedding = M("model.embed_tokens.weight", original.Embedding);
        for (int l = 0; l < m.Layers; l++)
        {
            string p = $"model.layers.{l}.";
            m.Wq[l] = HuggingFaceWriter.PermuteForRotateHalf(M(p + "self_attn.q_proj.weight", HuggingFaceWriter.PermuteForRotateHalf(original.Wq[l], m.Heads)), m.Heads, inverse: true);
            m.Wk[l] = HuggingFaceWriter.PermuteForRotateHalf(M(p + "self_attn.k_proj.weight", HuggingFaceWriter.PermuteForRotateHalf(original.Wk[l], m.KvHeads)), m.KvHeads, inverse: true);
            m.Wv[l] = M(p + "self_attn.v_proj.weight", original.Wv[l]);
            m.Wo[l] = M(p + "self_attn.o_proj.weight", original.Wo[l]);
            m.W1[l] = M(p + "mlp.gate_proj.weight", original.W1[l]);
            m.W3[l] = M(p + "mlp.up_proj.weight", original.W3[l]);
            m.W2[l] = M(p + "mlp.down_proj.weight", original.W2[l]);
        }
        if (original.Classifier != null) m.Classifier = M("lm_head.weight", original.Classifier);
        return m;
    }

    public static TheoryData<int, bool, int, string> Configurations() => new()
    {
        { 4, false, 32, "int8_asym" }, { 4, true, 64, "int8_sym" }, { 4, false, -1, "int8_asym" }, { 8, false, -1, "int8_asym" }, { 8, true, -1, "none" },
    };

    [Theory]
    [MemberData(nameof(Configurations))]
    public void AQuantizedFolderReloadsAndComputesWithWhatItStores(int bits, bool sym, int group, string backup)
    {
        using var dir = new TempDirectory();
        var m = Model();
        string source = Path.Combine(dir.Path, "src"), quantized = Path.Combine(dir.Path, "q"), again = Path.Combine(dir.Path, "q2");
        HuggingFaceWriter.WriteLlama(source, m);
        var config = new WeightQuantizationConfig { Bits = bits, Symmetric = sym, GroupSize = group, Backup = WeightQuantizationConfig.ParseBackup(backup) };
        var report = ModelQuantizer.Quantize(source, quantized, config);
        ModelQuantizer.Quantize(source, again, config);
        Assert.Equal(File.ReadAllBytes(Path.Combine(quantized, "model.safetensors")), File.ReadAllBytes(Path.Combine(again, "model.safetensors")));

        var tokens = Engine.RandomTokens(5, m.SeqLen, m.Vocab);
        using var first = ModelLoader.LoadTransformer(quantized);
        using var second = ModelLoader.LoadTransformer(quantized);
        // Exact float activations: this checks what the folder stores (integer kernels have their own tests).
        first.IntegerActivations = second.IntegerActivations = false;
        var logits = Engine.Logits(first, tokens);
        var reloaded = Engine.Logits(second, tokens);
        for (int p = 0; p < tokens.Length; p++) Assert.Equal(logits[p], reloaded[p]); // bit for bit

        // The engine computes exactly the model the files describe (float64 reference of the stored values).
        var stored = StoredModel(quantized, m);
        Assert.True(ReferenceLlama.RelativeL2(ReferenceLlama.Logits(stored, tokens), logits) < 1e-5);
        // ... which is close to, but not the same as, the original.
        double drift = ReferenceLlama.RelativeL2(ReferenceLlama.Logits(m, tokens), logits);
        Assert.InRange(drift, 1e-6, bits == 4 ? 0.2 : 0.02);

        var formats = ModelSummary.Of(first).Formats;
        Assert.Contains(bits == 4 ? (sym ? "int4_sym" : "int4_asym") : (sym ? "int8_sym" : "int8_asym"), formats);
        Assert.Equal(m.Wq.Length * 7, report.Tensors.Count(t => t.Name.Contains("proj") && t.Precision.StartsWith($"int{bits}")));
        Assert.True(report.BytesAfter < report.BytesBefore / (bits == 4 ? 4 : 2.5));
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(quantized, "config.json")))!["quantization_config"]!;
        Assert.Equal(bits, (int)json["bits"]!);
        Assert.Equal(group, (int)json["group_size"]!);
        Assert.Equal(backup, (string)json["backup_mode"]!);
    }

    [Fact]
    public void EmbeddingsGetTheBackupPrecisionUnlessAllLayers()
    {
        using var dir = new TempDirectory();
        HuggingFaceWriter.WriteLlama(Path.Combine(dir.Path, "src"), Model());
        var normal = ModelQuantizer.Quantize(Path.Combine(dir.Path, "src"), Path.Combine(dir.Path, "a"), new WeightQuantizationConfig { GroupSize = 32 });
        Assert.Equal("int8_asym", normal.Tensors.Single(t => t.Name == "model.embed_tokens.weight").Precision);
        Assert.Equal("int8_asym", normal.Tensors.Single(t => t.Name == "lm_head.weight").Precision);
        var all = ModelQuantizer.Quantize(Path.Combine(dir.Path, "src"), Path.Combine(dir.Path, "b"), new WeightQuantizationConfig { GroupSize = 32, AllLayers = true });
        Assert.Equal("int4_asym g32", all.Tensors.Single(t => t.Name == "model.embed_tokens.weight").Precision);
        var ignored = ModelQuantizer.Quantize(Path.Combine(dir.Path, "src"), Path.Combine(dir.Path, "c"),
            new WeightQuantizationConfig { GroupSize = 32, IgnoredLayers = ["layers.1.mlp"] });
        Assert.All(ignored.Tensors.Where(t => t.Name.Contains("layers.1.mlp")), t => Assert.Equal("f32", t.Precision));
    }

    [Fact]
    public void RatioPicksTheLayersWithTheLargestInt8ErrorByParameterCount()
    {
        using var dir = new TempDirectory();
        var m = Model();
        // Heavy-tailed rows make int8 per-channel error large in exactly these two layers.
        m.W1[0][3][5] *= 40;
        m.Wo[1][7][1] *= 40;
        HuggingFaceWriter.WriteLlama(Path.Combine(dir.Path, "src"), m);
        long linear = 2 * (64L * 64 * 2 + 32L * 64 * 2 + 3 * 64L * 128);
        double ratio = (64.0 * 128 + 64 * 64 + 1) / linear; // room for exactly those two
        var report = ModelQuantizer.Quantize(Path.Combine(dir.Path, "src"), Path.Combine(dir.Path, "q"), new WeightQuantizationConfig { GroupSize = 32, Ratio = ratio });
        var int4 = report.Tensors.Where(t => t.Precision.StartsWith("int4")).Select(t => t.Name).Order().ToArray();
        Assert.Equal(new[] { "model.layers.0.mlp.gate_proj.weight", "model.layers.1.self_attn.o_proj.weight" }, int4);
        Assert.True(report.Int4Parameters / (double)linear < ratio);
    }

    [Fact]
    public void LayersTheGroupSizeDoesNotDivideFallBackWithANote()
    {
        using var dir = new TempDirectory();
        HuggingFaceWriter.WriteLlama(Path.Combine(dir.Path, "src"), TinyLlama.Random(7, dim: 64, hidden: 96, heads: 4, kvHeads: 2, vocab: 96));
        var report = ModelQuantizer.Quantize(Path.Combine(dir.Path, "src"), Path.Combine(dir.Path, "q"), new WeightQuantizationConfig { GroupSize = 64 });
        var down = report.Tensors.Where(t => t.Name.EndsWith("down_proj.weight")).ToList();
        Assert.All(down, t => Assert.Equal("int8_asym", t.Precision));
        Assert.All(down, t => Assert.Contains("96 inputs are not divisible into groups of 64", t.Note));
        using var model = ModelLoader.LoadTransformer(Path.Combine(dir.Path, "q")); // and it loads
    }

    // The README's promise: a layer the group size does not fit takes the backup precision with a
    // note, even when that is every layer; the note names a group size that would fit.
    [Fact]
    public void AGroupSizeThatFitsNoLayerFallsBackWithANoteThatSuggestsOne()
    {
        using var dir = new TempDirectory();
        HuggingFaceWriter.WriteLlama(Path.Combine(dir.Path, "src"), Model());
        var report = ModelQuantizer.Quantize(Path.Combine(dir.Path, "src"), Path.Combine(dir.Path, "q"), new WeightQuantizationConfig { GroupSize = 96 });
        var linears = report.Tensors.Where(t => t.Name.Contains("_proj")).ToList();
        Assert.NotEmpty(linears);
        Assert.All(linears, t => Assert.Equal("int8_asym", t.Precision));
        Assert.All(linears, t => Assert.Contains("group size 96 fits none of the layers' input sizes", t.Note));
        Assert.All(linears, t => Assert.Contains("group size 64 fits the layers with 64, 128 inputs", t.Note));
        using var model = ModelLoader.LoadTransformer(Path.Combine(dir.Path, "q"));
    }

    [Fact]
    public void PerChannelInt4NamesTheBlockRuleNotDivisibility()
    {
        using var dir = new TempDirectory();
        HuggingFaceWriter.WriteLlama(Path.Combine(dir.Path, "src"), TinyLlama.Random(7, dim: 64, hidden: 100, heads: 4, kvHeads: 2, vocab: 96));
        var report = ModelQuantizer.Quantize(Path.Combine(dir.Path, "src"), Path.Combine(dir.Path, "q"), new WeightQuantizationConfig { GroupSize = -1 });
        var down = report.Tensors.Single(t => t.Name == "model.layers.0.mlp.down_proj.weight");
        Assert.Equal("int8_asym", down.Precision);
        Assert.Contains("must be a multiple of 32 inputs and 100 is not", down.Note);
        Assert.DoesNotContain("not divisible", down.Note);
    }

    [Fact]
    public void AQuantizationConfigThatDoesNotMatchTheTensorsIsAnError()
    {
        using var dir = new TempDirectory();
        HuggingFaceWriter.WriteLlama(Path.Combine(dir.Path, "src"), Model());
        string q = Path.Combine(dir.Path, "q");
        ModelQuantizer.Quantize(Path.Combine(dir.Path, "src"), q, new WeightQuantizationConfig { GroupSize = 32 });
        HuggingFaceWriter.EditConfig(q, c => c["quantization_config"]!["group_size"] = 64);
        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.LoadTransformer(q).Dispose());
        Assert.Contains("group_size 64", e.Message);
        Assert.Contains("int4_asym:32", e.Message);
        Assert.Contains("config.json", e.Message);
    }

    [Fact]
    public void TruncatedQuantizedTensorsAreAnError()
    {
        using var dir = new TempDirectory();
        HuggingFaceWriter.WriteLlama(Path.Combine(dir.Path, "src"), Model());
        string q = Path.Combine(dir.Path, "q");
        ModelQuantizer.Quantize(Path.Combine(dir.Path, "src"), q, new WeightQuantizationConfig { GroupSize = 32 });
        HuggingFaceWriter.EditConfig(q, c => c["hidden_size"] = 32);
        Assert.ThrowsAny<SlingException>(() => ModelLoader.LoadTransformer(q).Dispose());
        Assert.Throws<SlingException>(() => ModelQuantizer.Quantize(q, Path.Combine(dir.Path, "again"), new WeightQuantizationConfig()));
    }
}
