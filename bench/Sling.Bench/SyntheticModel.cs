using Sling.Kernels;
using Sling.Models;

namespace Sling.Bench;

/// <summary>Models with real shapes (Llama, or Phi for the Phi-2 shape) and random fp32 weights, to measure speed without downloads.</summary>
internal static class SyntheticModel
{
    /// <summary>The library's shapes (<see cref="SyntheticModels"/>); "smollm-135m" is SmolLM2-135M's shape.</summary>
    public static TransformerConfig Shape(string name) => SyntheticModels.Shape(name == "smollm-135m" ? "smollm2-135m" : name);

    /// <summary>
    /// Writes the shape as a Hugging Face folder with F32 weights, one tensor at a time: a
    /// PhiForCausalLM (LayerNorm with biases, parallel block, partial rotary, fc1/fc2, untied lm_head
    /// with bias) for the Phi-2 shape, a LlamaForCausalLM (tied embeddings) otherwise. Tensor names
    /// come from the family's name table, as the loaders read them.
    /// </summary>
    public static void WriteHuggingFaceFolder(TransformerConfig c, string folder)
    {
        bool phi = c.Norm == NormKind.LayerNorm && c.Mlp == MlpKind.Gelu && c.ParallelResidual;
        var names = phi ? Sling.Models.Architectures.TensorNames.Phi : Sling.Models.Architectures.TensorNames.Llama;
        Directory.CreateDirectory(folder);
        var config = new Dictionary<string, object>
        {
            ["architectures"] = new[] { phi ? "PhiForCausalLM" : "LlamaForCausalLM" }, ["model_type"] = phi ? "phi" : "llama", ["hidden_size"] = c.Dim,
            ["intermediate_size"] = c.HiddenDim, ["num_hidden_layers"] = c.Layers, ["num_attention_heads"] = c.Heads,
            ["num_key_value_heads"] = c.KvHeads, ["vocab_size"] = c.VocabSize, ["max_position_embeddings"] = c.MaxSeqLen,
            ["tie_word_embeddings"] = !phi,
        };
        if (phi)
        {
            config["layer_norm_eps"] = 1e-5;
            config["hidden_act"] = "gelu_new";
            config["partial_rotary_factor"] = (double)c.RotaryDim / c.HeadDim;
        }
        else config["rms_norm_eps"] = 1e-5;
        File.WriteAllText(Path.Combine(folder, "config.json"), System.Text.Json.JsonSerializer.Serialize(config));
        using var writer = new Sling.Formats.SafeTensorsWriter(Path.Combine(folder, "model.safetensors"));
        ulong seed = 1;
        void Matrix(Sling.Models.Architectures.TensorRole role, int layer, int rows, int cols)
        {
            string name = names.HuggingFace(role, layer);
            writer.Add<float>(name + ".weight", Sling.Formats.TensorDType.F32, [rows, cols], RandomValues(rows * cols, 1f / MathF.Sqrt(cols), ++seed));
            if (phi) writer.Add<float>(name + ".bias", Sling.Formats.TensorDType.F32, [rows], RandomValues(rows, 0.02f, ++seed));
        }
        void Norm(Sling.Models.Architectures.TensorRole role, int layer)
        {
            string name = names.HuggingFace(role, layer);
            writer.Add<float>(name + ".weight", Sling.Formats.TensorDType.F32, [c.Dim], Enumerable.Repeat(1f, c.Dim).ToArray());
            if (phi) writer.Add<float>(name + ".bias", Sling.Formats.TensorDType.F32, [c.Dim], new float[c.Dim]);
        }
        writer.Add<float>(names.HuggingFace(Sling.Models.Architectures.TensorRole.Embedding) + ".weight", Sling.Formats.TensorDType.F32,
            [c.VocabSize, c.Dim], RandomValues(c.VocabSize * c.Dim, 1f / MathF.Sqrt(c.Dim), ++seed));
        for (int i = 0; i < c.Layers; i++)
        {
            Norm(Sling.Models.Architectures.TensorRole.AttentionNorm, i);
            if (!phi) Norm(Sling.Models.Architectures.TensorRole.MlpNorm, i);
            Matrix(Sling.Models.Architectures.TensorRole.Query, i, c.QDim, c.Dim);
            Matrix(Sling.Models.Architectures.TensorRole.Key, i, c.KvDim, c.Dim);
            Matrix(Sling.Models.Architectures.TensorRole.Value, i, c.KvDim, c.Dim);
            Matrix(Sling.Models.Architectures.TensorRole.AttentionOutput, i, c.Dim, c.QDim);
            if (!phi) Matrix(Sling.Models.Architectures.TensorRole.Gate, i, c.HiddenDim, c.Dim);
            Matrix(Sling.Models.Architectures.TensorRole.Up, i, c.HiddenDim, c.Dim);
            Matrix(Sling.Models.Architectures.TensorRole.Down, i, c.Dim, c.HiddenDim);
        }
        Norm(Sling.Models.Architectures.TensorRole.FinalNorm, -1);
        if (phi) Matrix(Sling.Models.Architectures.TensorRole.Output, -1, c.VocabSize, c.Dim);
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
