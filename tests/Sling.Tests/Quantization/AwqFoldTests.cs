using Sling.Evaluation;
using Sling.Formats;
using Sling.Models;
using Sling.Models.Architectures;
using Sling.Quantization;
using Sling.Tests.Support;

namespace Sling.Tests.Quantization;

/// <summary>
/// AWQ's folds keep the model's function: scaling a layer's input channels while the producer of that
/// input (a norm with its bias, a projection with its bias) divides by the same scale. Checked on a
/// Qwen2 (q/k/v biases: the v fold scales a bias too) and on a Phi model (LayerNorm bias, parallel
/// block) written with 64-wide layers that int4 groups of 32 can hold: the AWQ model stays as close to
/// the float model as plain int4 is (a wrong fold would move it far away).
/// </summary>
public class AwqFoldTests
{
    const string Vocab = "models/gguf/arch/{0}/model-f32.gguf";

    [SharedTheory("models/hf-tiny/qwen2/config.json", "models/gguf/arch/qwen2/model-f32.gguf", "models/gguf/arch/phi/model-f32.gguf")]
    [InlineData("qwen2")]
    [InlineData("phi")]
    public void ScaledAndFoldedModelsStayAsCloseAsPlainInt4(string family)
    {
        using var dir = new TempDirectory();
        string folder = Path.Combine(dir.Path, "model");
        if (family == "qwen2") CopyFolder(SharedData.PathOf("models/hf-tiny/qwen2"), folder);
        else WritePhi(folder);
        // The family's 384-token vocabulary (a GGUF vocabulary, found beside the model as tokenizer.bin).
        File.Copy(SharedData.PathOf(string.Format(Vocab, family)), Path.Combine(folder, "tokenizer.bin"));

        var calibration = new CalibrationOptions { Dataset = "self:16", SampleLength = 64, Seed = 3 };
        string plainDir = Path.Combine(dir.Path, "plain"), awqDir = Path.Combine(dir.Path, "awq");
        ModelQuantizer.Quantize(folder, plainDir, new WeightQuantizationConfig { Bits = 4, GroupSize = 32 });
        var report = ModelQuantizer.Quantize(folder, awqDir, new WeightQuantizationConfig { Bits = 4, GroupSize = 32, Awq = true, Calibration = calibration });
        Assert.Contains(report.Tensors, t => t.Note?.Contains("AWQ-scaled") == true && t.Name.Contains("v_proj"));

        using var reference = ModelLoader.Load(folder);
        using var plain = ModelLoader.Load(plainDir);
        using var awq = ModelLoader.Load(awqDir);
        plain.Transformer.IntegerActivations = awq.Transformer.IntegerActivations = false;
        var tokens = Engine.RandomTokens(11, 60, reference.Config.VocabSize);
        double klPlain = ModelComparison.Compare(plain.Transformer, reference.Transformer, tokens, 128, 64).MeanKlDivergence;
        double klAwq = ModelComparison.Compare(awq.Transformer, reference.Transformer, tokens, 128, 64).MeanKlDivergence;
        Assert.True(klAwq < 1.5 * klPlain + 1e-4, $"{family}: KL {klAwq:E3} with AWQ vs {klPlain:E3} plain");
    }

    // Exactly: the float model with AWQ's scaled layers and folded producers (nothing quantized)
    // computes the same logits as the original.
    [SharedTheory("models/hf-tiny/qwen2/config.json", "models/gguf/arch/qwen2/model-f32.gguf", "models/gguf/arch/phi/model-f32.gguf")]
    [InlineData("qwen2")]
    [InlineData("phi")]
    public void TheFoldsKeepTheFloatModelsFunction(string family)
    {
        using var dir = new TempDirectory();
        string folder = Path.Combine(dir.Path, "model"), folded = Path.Combine(dir.Path, "folded");
        if (family == "qwen2") CopyFolder(SharedData.PathOf("models/hf-tiny/qwen2"), folder);
        else WritePhi(folder);
        File.Copy(SharedData.PathOf(string.Format(Vocab, family)), Path.Combine(folder, "tokenizer.bin"));

        var hf = HuggingFaceConfig.Read(Path.Combine(folder, "config.json"));
        var architecture = ArchitectureRegistry.Find(hf);
        Dictionary<string, ActivationStatistics> stats;
        using (var model = ModelLoader.Load(folder))
            stats = Calibration.Collect(model, architecture.Names, new CalibrationOptions { Dataset = "self:8", SampleLength = 64, Seed = 1 });
        var overrides = new Dictionary<string, float[]>();
        using (var tensors = TensorSet.Open(folder))
        {
            var matrices = tensors.Tensors.Where(t => t.Shape.Length == 2).ToList();
            var notes = ModelQuantizer.ApplyAwq(tensors, architecture, hf, stats, matrices.Select(t => t.Name).ToHashSet(),
                t => new QuantizedFormat(4, false, 32), overrides, new Dictionary<string, double[]>());
            Assert.Contains(notes.Keys, k => k.Contains("v_proj"));
            Directory.CreateDirectory(folded);
            using var w = new SafeTensorsWriter(Path.Combine(folded, "model.safetensors"));
            foreach (var t in tensors.Tensors)
                w.Add<float>(t.Name, TensorDType.F32, t.Shape, overrides.TryGetValue(t.Name, out var changed) ? changed : tensors.Floats(t.Name));
            w.Complete();
        }
        Assert.Contains(overrides.Keys, k => k.EndsWith("v_proj.bias", StringComparison.Ordinal));
        File.Copy(Path.Combine(folder, "config.json"), Path.Combine(folded, "config.json"));
        File.Copy(Path.Combine(folder, "tokenizer.bin"), Path.Combine(folded, "tokenizer.bin"));

        using var original = ModelLoader.LoadTransformer(folder);
        using var scaled = ModelLoader.LoadTransformer(folded);
        var tokens = Engine.RandomTokens(4, 20, original.Config.VocabSize);
        var expected = Engine.Logits(original, tokens);
        Assert.True(ReferenceLlama.RelativeL2(expected.Select(r => r.Select(v => (double)v).ToArray()).ToArray(), Engine.Logits(scaled, tokens)) < 1e-5);
    }

    static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
    }

    /// <summary>A Phi-2-shaped model (hidden 64, 4 heads, MLP 128) with random weights, named as transformers names them.</summary>
    static void WritePhi(string folder)
    {
        Directory.CreateDirectory(folder);
        const int hidden = 64, mlp = 128, vocab = 384, layers = 2;
        var rng = new Random(5);
        float[] Random(int n, double scale, double center = 0) => Enumerable.Range(0, n).Select(_ => (float)(center + (rng.NextDouble() * 2 - 1) * scale)).ToArray();
        var n = TensorNames.Phi;
        using (var w = new SafeTensorsWriter(Path.Combine(folder, "model.safetensors")))
        {
            void Matrix(string name, int rows, int cols) => w.Add<float>(name, TensorDType.F32, [rows, cols], Random(rows * cols, 1 / Math.Sqrt(cols)));
            void Vector(string name, int length, double scale, double center = 0) => w.Add<float>(name, TensorDType.F32, [length], Random(length, scale, center));
            Matrix(n.HuggingFace(TensorRole.Embedding) + ".weight", vocab, hidden);
            for (int i = 0; i < layers; i++)
            {
                Vector(n.HuggingFace(TensorRole.AttentionNorm, i) + ".weight", hidden, 0.2, 1);
                Vector(n.HuggingFace(TensorRole.AttentionNorm, i) + ".bias", hidden, 0.2);
                foreach (var role in new[] { TensorRole.Query, TensorRole.Key, TensorRole.Value, TensorRole.AttentionOutput })
                {
                    Matrix(n.HuggingFace(role, i) + ".weight", hidden, hidden);
                    Vector(n.HuggingFace(role, i) + ".bias", hidden, 0.1);
                }
                Matrix(n.HuggingFace(TensorRole.Up, i) + ".weight", mlp, hidden);
                Vector(n.HuggingFace(TensorRole.Up, i) + ".bias", mlp, 0.1);
                Matrix(n.HuggingFace(TensorRole.Down, i) + ".weight", hidden, mlp);
                Vector(n.HuggingFace(TensorRole.Down, i) + ".bias", hidden, 0.1);
            }
            Vector(n.HuggingFace(TensorRole.FinalNorm) + ".weight", hidden, 0.2, 1);
            Vector(n.HuggingFace(TensorRole.FinalNorm) + ".bias", hidden, 0.2);
            Matrix(n.HuggingFace(TensorRole.Output) + ".weight", vocab, hidden);
            Vector(n.HuggingFace(TensorRole.Output) + ".bias", vocab, 0.1);
            w.Complete();
        }
        File.WriteAllText(Path.Combine(folder, "config.json"), $$"""
            {"architectures": ["PhiForCausalLM"], "model_type": "phi", "hidden_size": {{hidden}}, "intermediate_size": {{mlp}},
             "num_attention_heads": 4, "num_key_value_heads": 4, "num_hidden_layers": {{layers}}, "vocab_size": {{vocab}},
             "max_position_embeddings": 256, "rope_theta": 10000.0, "hidden_act": "gelu_new", "partial_rotary_factor": 0.5,
             "layer_norm_eps": 1e-05, "tie_word_embeddings": false, "bos_token_id": 1, "eos_token_id": 2}
            """);
    }
}
