using Sling.Formats;

namespace Sling.Tests.Support;

/// <summary>
/// Writes a <see cref="TinyLlama"/> as a GGUF v3 model file (llama architecture, interleaved q/k as
/// llama.cpp stores them) with a llama-style vocabulary, and returns the model the file really holds
/// (weights after the chosen ggml type's rounding).
/// </summary>
public static class TinyLlamaGguf
{
    public const uint F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 8;

    public static TinyLlama Write(string path, TinyLlama m, uint type, Action<Dictionary<string, object>>? editMetadata = null)
    {
        var metadata = new Dictionary<string, object>
        {
            ["general.architecture"] = "llama",
            ["llama.embedding_length"] = (uint)m.Dim,
            ["llama.feed_forward_length"] = (uint)m.Hidden,
            ["llama.block_count"] = (uint)m.Layers,
            ["llama.attention.head_count"] = (uint)m.Heads,
            ["llama.attention.head_count_kv"] = (uint)m.KvHeads,
            ["llama.context_length"] = (uint)m.SeqLen,
            ["llama.attention.layer_norm_rms_epsilon"] = 1e-5f,
            ["llama.rope.freq_base"] = 10000f,
            ["tokenizer.ggml.model"] = "llama",
            ["tokenizer.ggml.tokens"] = Vocabulary(m.Vocab),
            ["tokenizer.ggml.scores"] = Enumerable.Range(0, m.Vocab).Select(i => i < 259 ? 0f : -i).ToArray(),
            ["tokenizer.ggml.token_type"] = Enumerable.Range(0, m.Vocab).Select(i => i < 3 ? 3 : i < 259 ? 6 : 1).ToArray(),
            ["tokenizer.ggml.bos_token_id"] = 1u,
            ["tokenizer.ggml.eos_token_id"] = 2u,
        };
        editMetadata?.Invoke(metadata);

        var stored = m.MapMatrices(x => Round(x, type));
        var tensors = new List<(string Name, long[] Dims, uint Type, byte[] Data)>
        {
            ("token_embd.weight", [m.Dim, m.Vocab], type, Encode(m.Embedding, type)),
        };
        for (int l = 0; l < m.Layers; l++)
        {
            string p = $"blk.{l}.";
            tensors.Add((p + "attn_norm.weight", [m.Dim], F32, Encode([m.AttNorm[l]], F32)));
            tensors.Add((p + "ffn_norm.weight", [m.Dim], F32, Encode([m.FfnNorm[l]], F32)));
            foreach (var (name, weight) in new[] { ("attn_q", m.Wq[l]), ("attn_k", m.Wk[l]), ("attn_v", m.Wv[l]), ("attn_output", m.Wo[l]),
                         ("ffn_gate", m.W1[l]), ("ffn_up", m.W3[l]), ("ffn_down", m.W2[l]) })
                tensors.Add((p + name + ".weight", [weight[0].Length, weight.Length], type, Encode(weight, type)));
        }
        tensors.Add(("output_norm.weight", [m.Dim], F32, Encode([m.FinalNorm], F32)));
        if (m.Classifier != null) tensors.Add(("output.weight", [m.Dim, m.Vocab], type, Encode(m.Classifier, type)));

        using var w = new Sling.Formats.GgufWriter(path);
        foreach (var (key, value) in metadata) w.Set(key, value);
        foreach (var t in tensors) w.AddTensor(t.Name, t.Dims, t.Type, t.Data.Length);
        foreach (var t in tensors) w.WriteData(t.Data);
        w.Complete();
        return stored;
    }

    public static string[] Vocabulary(int size)
    {
        var tokens = new List<string> { "<unk>", "<s>", "</s>" };
        for (int b = 0; b < 256; b++) tokens.Add($"<0x{b:X2}>");
        tokens.Add("\u2581");
        while (tokens.Count < size) tokens.Add($"\u2581t{tokens.Count}");
        return tokens.ToArray();
    }

    /// <summary>Row-major values in the ggml type: Q8_0 / Q4_0 blocks of 32 as llama.cpp's reference quantizers write them.</summary>
    private static byte[] Encode(double[][] rows, uint type)
    {
        var flat = rows.SelectMany(r => r).Select(v => (float)v).ToArray();
        var ms = new MemoryStream();
        var w = new BinaryWriter(ms);
        switch (type)
        {
            case F32: foreach (var v in flat) w.Write(v); break;
            case F16: foreach (var v in flat) w.Write((Half)v); break;
            case Q8_0:
                for (int b = 0; b < flat.Length; b += 32)
                {
                    float amax = flat.Skip(b).Take(32).Max(Math.Abs), d = amax / 127;
                    w.Write((Half)d);
                    for (int j = 0; j < 32; j++) w.Write((sbyte)(d == 0 ? 0 : Math.Round(flat[b + j] / d)));
                }
                break;
            case Q4_0:
                for (int b = 0; b < flat.Length; b += 32)
                {
                    float max = flat.Skip(b).Take(32).OrderByDescending(Math.Abs).First(), d = max / -8;
                    w.Write((Half)d);
                    int Code(float x) => Math.Min(15, (int)(x * (d == 0 ? 0 : 1 / d) + 8.5f));
                    for (int j = 0; j < 16; j++) w.Write((byte)(Code(flat[b + j]) | Code(flat[b + j + 16]) << 4));
                }
                break;
        }
        return ms.ToArray();
    }

    /// <summary>What a matrix holds after being written in <paramref name="type"/>.</summary>
    private static double[][] Round(double[][] rows, uint type)
    {
        int cols = rows[0].Length;
        var flat = rows.SelectMany(r => r).Select(v => (float)v).ToArray();
        var result = new double[flat.Length];
        for (int b = 0; b < flat.Length; b += 32)
        {
            var block = flat.Skip(b).Take(Math.Min(32, flat.Length - b)).ToArray();
            switch (type)
            {
                case F32: for (int j = 0; j < block.Length; j++) result[b + j] = block[j]; break;
                case F16: for (int j = 0; j < block.Length; j++) result[b + j] = (double)(float)(Half)block[j]; break;
                case Q8_0:
                {
                    float d = block.Max(Math.Abs) / 127;
                    for (int j = 0; j < 32; j++) result[b + j] = (d == 0 ? 0 : Math.Round(block[j] / d)) * (double)(float)(Half)d;
                    break;
                }
                case Q4_0:
                {
                    float d = block.OrderByDescending(Math.Abs).First() / -8;
                    for (int j = 0; j < 32; j++) result[b + j] = (Math.Min(15, (int)(block[j] * (d == 0 ? 0 : 1 / d) + 8.5f)) - 8) * (double)(float)(Half)d;
                    break;
                }
            }
        }
        return Enumerable.Range(0, rows.Length).Select(r => result.Skip(r * cols).Take(cols).ToArray()).ToArray();
    }
}
