using System.Text.Json;
using System.Text.Json.Nodes;
using Sling.Formats;

namespace Sling.Tests.Support;

/// <summary>
/// Writes a <see cref="TinyLlama"/> as a Hugging Face LlamaForCausalLM folder, permuting q/k rows
/// to the rotate-half layout exactly as Hugging Face's llama conversion script does.
/// </summary>
public static class HuggingFaceWriter
{
    public static void WriteLlama(string dir, TinyLlama m, int shards = 1)
    {
        Directory.CreateDirectory(dir);
        var config = new JsonObject
        {
            ["architectures"] = new JsonArray("LlamaForCausalLM"),
            ["model_type"] = "llama",
            ["hidden_size"] = m.Dim,
            ["intermediate_size"] = m.Hidden,
            ["num_hidden_layers"] = m.Layers,
            ["num_attention_heads"] = m.Heads,
            ["num_key_value_heads"] = m.KvHeads,
            ["vocab_size"] = m.Vocab,
            ["max_position_embeddings"] = m.SeqLen,
            ["rms_norm_eps"] = 1e-5,
            ["rope_theta"] = 10000.0,
            ["hidden_act"] = "silu",
            ["tie_word_embeddings"] = m.SharedClassifier,
            ["bos_token_id"] = 1,
            ["eos_token_id"] = 2,
        };
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

        var tensors = new List<(string Name, double[][] Rows)> { ("model.embed_tokens.weight", m.Embedding) };
        for (int l = 0; l < m.Layers; l++)
        {
            string p = $"model.layers.{l}.";
            tensors.Add((p + "input_layernorm.weight", [m.AttNorm[l]]));
            tensors.Add((p + "self_attn.q_proj.weight", PermuteForRotateHalf(m.Wq[l], m.Heads)));
            tensors.Add((p + "self_attn.k_proj.weight", PermuteForRotateHalf(m.Wk[l], m.KvHeads)));
            tensors.Add((p + "self_attn.v_proj.weight", m.Wv[l]));
            tensors.Add((p + "self_attn.o_proj.weight", m.Wo[l]));
            tensors.Add((p + "post_attention_layernorm.weight", [m.FfnNorm[l]]));
            tensors.Add((p + "mlp.gate_proj.weight", m.W1[l]));
            tensors.Add((p + "mlp.up_proj.weight", m.W3[l]));
            tensors.Add((p + "mlp.down_proj.weight", m.W2[l]));
        }
        tensors.Add(("model.norm.weight", [m.FinalNorm]));
        if (m.Classifier != null) tensors.Add(("lm_head.weight", m.Classifier));

        var weightMap = new JsonObject();
        for (int s = 0; s < shards; s++)
        {
            string file = shards == 1 ? "model.safetensors" : $"model-{s + 1:D5}-of-{shards:D5}.safetensors";
            using var w = new SafeTensorsWriter(Path.Combine(dir, file));
            for (int i = s; i < tensors.Count; i += shards)
            {
                var (name, rows) = tensors[i];
                bool vector = name.EndsWith("norm.weight");
                long[] shape = vector ? [rows[0].Length] : [rows.Length, rows[0].Length];
                w.Add<float>(name, TensorDType.F32, shape, rows.SelectMany(r => r.Select(v => (float)v)).ToArray());
                weightMap[name] = file;
            }
            w.Complete();
        }
        if (shards > 1)
            File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"),
                new JsonObject { ["metadata"] = new JsonObject(), ["weight_map"] = weightMap }.ToJsonString());
    }

    /// <summary>Rows (2i, 2i+1) of each head move to (i, i + d/2); <paramref name="inverse"/> moves them back.</summary>
    public static double[][] PermuteForRotateHalf(double[][] w, int heads, bool inverse = false)
    {
        int hd = w.Length / heads;
        var result = new double[w.Length][];
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < hd / 2; i++)
            {
                if (inverse)
                {
                    result[h * hd + 2 * i] = w[h * hd + i];
                    result[h * hd + 2 * i + 1] = w[h * hd + hd / 2 + i];
                }
                else
                {
                    result[h * hd + i] = w[h * hd + 2 * i];
                    result[h * hd + hd / 2 + i] = w[h * hd + 2 * i + 1];
                }
            }
        return result;
    }

    /// <summary>Rewrites config.json through <paramref name="edit"/>.</summary>
    public static void EditConfig(string dir, Action<JsonObject> edit)
    {
        string path = Path.Combine(dir, "config.json");
        var node = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(node);
        File.WriteAllText(path, node.ToJsonString());
    }
}
