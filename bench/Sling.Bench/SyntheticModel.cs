using Sling.Kernels;
using Sling.Models;

namespace Sling.Bench;

/// <summary>Llama-architecture models with real shapes and random fp32 weights, to measure speed without downloads.</summary>
internal static class SyntheticModel
{
    /// <summary>The library's shapes (<see cref="SyntheticModels"/>); "smollm-135m" is SmolLM2-135M's shape.</summary>
    public static TransformerConfig Shape(string name) => SyntheticModels.Shape(name == "smollm-135m" ? "smollm2-135m" : name);

    /// <summary>Writes the shape as a Hugging Face LlamaForCausalLM folder with F32 weights, one tensor at a time.</summary>
    public static void WriteHuggingFaceFolder(TransformerConfig c, string folder)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "config.json"), System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["architectures"] = new[] { "LlamaForCausalLM" }, ["model_type"] = "llama", ["hidden_size"] = c.Dim,
            ["intermediate_size"] = c.HiddenDim, ["num_hidden_layers"] = c.Layers, ["num_attention_heads"] = c.Heads,
            ["num_key_value_heads"] = c.KvHeads, ["vocab_size"] = c.VocabSize, ["max_position_embeddings"] = c.MaxSeqLen,
            ["rms_norm_eps"] = 1e-5, ["tie_word_embeddings"] = true,
        }));
        using var writer = new Sling.Formats.SafeTensorsWriter(Path.Combine(folder, "model.safetensors"));
        ulong seed = 1;
        void Matrix(string name, int rows, int cols)
        {
            var values = RandomValues(rows * cols, 1f / MathF.Sqrt(cols), ++seed);
            writer.Add<float>(name, Sling.Formats.TensorDType.F32, [rows, cols], values);
        }
        void Ones(string name) => writer.Add<float>(name, Sling.Formats.TensorDType.F32, [c.Dim], Enumerable.Repeat(1f, c.Dim).ToArray());
        Matrix("model.embed_tokens.weight", c.VocabSize, c.Dim);
        for (int i = 0; i < c.Layers; i++)
        {
            string p = $"model.layers.{i}.";
            Ones(p + "input_layernorm.weight");
            Ones(p + "post_attention_layernorm.weight");
            Matrix(p + "self_attn.q_proj.weight", c.QDim, c.Dim);
            Matrix(p + "self_attn.k_proj.weight", c.KvDim, c.Dim);
            Matrix(p + "self_attn.v_proj.weight", c.KvDim, c.Dim);
            Matrix(p + "self_attn.o_proj.weight", c.Dim, c.QDim);
            Matrix(p + "mlp.gate_proj.weight", c.HiddenDim, c.Dim);
            Matrix(p + "mlp.up_proj.weight", c.HiddenDim, c.Dim);
            Matrix(p + "mlp.down_proj.weight", c.Dim, c.HiddenDim);
        }
        Ones("model.norm.weight");
        writer.Complete();
    }

    private static float[] RandomValues(int count, float scale, ulong seed)
    {
        var values = GC.AllocateUninitializedArray<float>(count);
        ulong s = seed * 0x9E3779B97F4A7C15UL;
        for (int i = 0; i < values.Length; i++)
        {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            values[i] = ((s >> 40) / 16777216f * 2 - 1) * scale;
        }
        return values;
    }

    /// <summary>The shape with random fp32 weights, built in memory.</summary>
    public static Transformer Create(string name, int threads) => SyntheticModels.Create(name == "smollm-135m" ? "smollm2-135m" : name, "f32", threads);
}
