using Sling.Formats;
using Sling.Kernels;

namespace Sling.Models;

/// <summary>
/// Loads llama.cpp GGUF model files of the Llama family (general.architecture "llama": Llama 2/3,
/// TinyLlama, Mistral, SmolLM) with tensors in F32, F16, BF16, Q8_0 or Q4_0. Float tensors are read
/// in place; Q8_0 and Q4_0 blocks (fp16 scale + 32 codes) are repacked once into Sling's int8/int4
/// group formats, which hold exactly the same values. llama.cpp's converter stores q/k in the
/// interleaved rotary layout, so that is the layout used here.
/// </summary>
public static class GgufLoader
{
    // ggml tensor types this loader reads.
    public const uint F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 8, BF16 = 30;
    private const int Block = 32;

    public static Transformer Load(string path, ComputePool pool)
    {
        var gguf = GgufFile.Open(path);
        try
        {
            string arch = gguf.GetOrDefault<string>("general.architecture") ?? throw new ModelFormatException(path, "metadata key 'general.architecture' is missing");
            if (arch != "llama")
                throw new ModelFormatException(path, $"GGUF architecture '{arch}' is not supported (supported: llama); Hugging Face folders cover more families");
            var config = ReadConfig(gguf, arch);
            config.Validate(path);
            var tensors = gguf.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
            WeightMatrix Matrix(string name, int rows, int cols) => ReadMatrix(gguf, tensors, name, rows, cols);
            float[] Vector(string name, int length) => ReadVector(gguf, tensors, name, length);
            var embedding = Matrix("token_embd.weight", config.VocabSize, config.Dim);
            var layers = new LayerWeights[config.Layers];
            for (int i = 0; i < config.Layers; i++)
            {
                string p = $"blk.{i}.";
                layers[i] = new LayerWeights
                {
                    AttentionNorm = new NormWeights(Vector(p + "attn_norm.weight", config.Dim), null),
                    MlpNorm = new NormWeights(Vector(p + "ffn_norm.weight", config.Dim), null),
                    Query = new Linear(Matrix(p + "attn_q.weight", config.QDim, config.Dim)),
                    Key = new Linear(Matrix(p + "attn_k.weight", config.KvDim, config.Dim)),
                    Value = new Linear(Matrix(p + "attn_v.weight", config.KvDim, config.Dim)),
                    Output = new Linear(Matrix(p + "attn_output.weight", config.Dim, config.QDim)),
                    Gate = new Linear(Matrix(p + "ffn_gate.weight", config.HiddenDim, config.Dim)),
                    Up = new Linear(Matrix(p + "ffn_up.weight", config.HiddenDim, config.Dim)),
                    Down = new Linear(Matrix(p + "ffn_down.weight", config.Dim, config.HiddenDim)),
                };
            }
            var weights = new TransformerWeights
            {
                Embedding = embedding,
                Layers = layers,
                FinalNorm = new NormWeights(Vector("output_norm.weight", config.Dim), null),
                Classifier = new Linear(tensors.ContainsKey("output.weight") ? Matrix("output.weight", config.VocabSize, config.Dim) : embedding),
            };
            weights.Validate(config, path);
            var transformer = new Transformer(config, weights, pool, gguf);
            // Q8_0 blocks went through copies on their way to the kernels' layout: return that memory.
            if (gguf.Tensors.Where(t => t.Type == Q8_0).Sum(t => t.ElementCount) > 64 << 20) GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            return transformer;
        }
        catch
        {
            gguf.Dispose();
            throw;
        }
    }

    private static TransformerConfig ReadConfig(GgufFile g, string arch)
    {
        int Int(string key, int? fallback = null)
        {
            long? v = g.GetInteger($"{arch}.{key}");
            if (v == null)
                return fallback ?? throw new ModelFormatException(g.Path, $"metadata key '{arch}.{key}' is missing");
            if (v <= 0 || v > int.MaxValue) throw new ModelFormatException(g.Path, $"metadata key '{arch}.{key}' = {v} is not a valid size");
            return (int)v;
        }
        float Float(string key, float fallback) => g.Metadata.TryGetValue($"{arch}.{key}", out var v) && v is float f ? f : fallback;
        int heads = Int("attention.head_count");
        int vocab = g.GetOrDefault<string[]>("tokenizer.ggml.tokens")?.Length ?? Int("vocab_size");
        return new TransformerConfig
        {
            Architecture = $"gguf:{arch}",
            Dim = Int("embedding_length"),
            HiddenDim = Int("feed_forward_length"),
            Layers = Int("block_count"),
            Heads = heads,
            KvHeads = Int("attention.head_count_kv", heads),
            VocabSize = Int("vocab_size", vocab),
            MaxSeqLen = Int("context_length"),
            NormEps = Float("attention.layer_norm_rms_epsilon", 1e-5f),
            RopeTheta = Float("rope.freq_base", 10000f),
            Rope = RopeLayout.Interleaved,
        };
    }

    private static unsafe WeightMatrix ReadMatrix(GgufFile g, Dictionary<string, GgufTensorInfo> tensors, string name, int rows, int cols)
    {
        if (!tensors.TryGetValue(name, out var t)) throw new ModelFormatException(g.Path, $"tensor '{name}' is missing");
        // GGUF lists dimensions fastest-varying first: a [rows, cols] matrix is stored as [cols, rows].
        if (t.Dimensions.Length != 2 || t.Dimensions[0] != cols || t.Dimensions[1] != rows)
            throw new ModelFormatException(g.Path, $"tensor '{name}' has dimensions [{string.Join(", ", t.Dimensions)}], expected [{cols}, {rows}] from the metadata");
        long count = (long)rows * cols;
        switch (t.Type)
        {
            case F32: return new F32Matrix((float*)g.File.Pointer(t.Offset, count * 4, name), rows, cols, g);
            case F16: return new F16Matrix((Half*)g.File.Pointer(t.Offset, count * 2, name), rows, cols, g);
            case BF16: return new BF16Matrix((ushort*)g.File.Pointer(t.Offset, count * 2, name), rows, cols, g);
            case Q8_0:
            case Q4_0:
            {
                if (cols % Block != 0) throw new ModelFormatException(g.Path, $"tensor '{name}': {cols} columns are not whole blocks of {Block}");
                bool four = t.Type == Q4_0;
                int blockBytes = four ? 18 : 34;
                long blocks = count / Block;
                byte* src = g.File.Pointer(t.Offset, blocks * blockBytes, name);
                // Q4_0 goes straight from the file's blocks into the kernel's interleaved layout.
                if (four && RowBlockMatrix.CanRepack(rows, cols)) return new Int4RowBlockMatrix(new Q4_0Source(src, rows, cols, g.File));
                int codeBytes = four ? cols / 2 : cols;
                var codes = GC.AllocateUninitializedArray<byte>((int)(rows * (long)codeBytes), pinned: true);
                var scales = GC.AllocateUninitializedArray<Half>((int)blocks, pinned: true);
                int perRow = cols / Block;
                System.Threading.Tasks.Parallel.For(0, rows, [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)] (row) =>
                {
                    for (long b = (long)row * perRow, end = b + perRow; b < end; b++)
                    {
                        byte* block = src + b * blockBytes;
                        scales[b] = *(Half*)block;
                        if (four) // same nibble order as Int4GroupMatrix: codes j and j+16 share byte j
                            new ReadOnlySpan<byte>(block + 2, 16).CopyTo(codes.AsSpan((int)(b * 16), 16));
                        else // int8 codes stored offset by 128, as Int8GroupMatrix's symmetric codes are
                            for (int j = 0; j < Block; j++) codes[b * Block + j] = (byte)(((sbyte*)(block + 2))[j] + 128);
                    }
                });
                g.File.Release(src, blocks * blockBytes); // copied: the file's pages need not stay resident
                var owner = (codes, scales);
                GroupMatrix m;
                fixed (byte* c = codes)
                fixed (Half* s = scales)
                    m = four
                        ? new Int4GroupMatrix(c, s, null, rows, cols, Block, owner)
                        : new Int8GroupMatrix(c, s, null, rows, cols, Block, owner);
                // Repacked tensor by tensor, so at most one tensor exists twice while loading.
                return RowBlockMatrix.CanRepack(m) ? RowBlockMatrix.Repack(m) : m;
            }
            default:
                throw new ModelFormatException(g.Path, $"tensor '{name}' has ggml type {t.Type}; supported: F32, F16, BF16, Q8_0, Q4_0");
        }
    }

    private static unsafe float[] ReadVector(GgufFile g, Dictionary<string, GgufTensorInfo> tensors, string name, int length)
    {
        if (!tensors.TryGetValue(name, out var t)) throw new ModelFormatException(g.Path, $"tensor '{name}' is missing");
        if (t.Dimensions.Length != 1 || t.Dimensions[0] != length)
            throw new ModelFormatException(g.Path, $"tensor '{name}' has dimensions [{string.Join(", ", t.Dimensions)}], expected [{length}]");
        return t.Type switch
        {
            F32 => new ReadOnlySpan<float>(g.File.Pointer(t.Offset, length * 4L, name), length).ToArray(),
            F16 => new ReadOnlySpan<Half>(g.File.Pointer(t.Offset, length * 2L, name), length).ToArray().Select(h => (float)h).ToArray(),
            _ => throw new ModelFormatException(g.Path, $"tensor '{name}' has ggml type {t.Type}; norms must be F32 or F16"),
        };
    }
}
