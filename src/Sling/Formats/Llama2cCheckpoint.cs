using Sling.Kernels;
using Sling.Models;
using Sling.Models.Architectures;

namespace Sling.Formats;

/// <summary>
/// Reads llama2.c model checkpoints:
/// <list type="bullet">
/// <item>legacy ("v0"): 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size — negative
/// when the classifier is separate —, seq_len), then fp32 tensors in llama2.c's order, including the
/// obsolete RoPE tables;</item>
/// <item>versioned: magic "ak42", version 1 (fp32) or 2 (int8 "Q8_0" groups with fp32 scales),
/// 256-byte header, tensors grouped by kind.</item>
/// </list>
/// Weights are used in place from a memory map. llama2.c rotates interleaved pairs of q/k dimensions.
/// </summary>
public static class Llama2cCheckpoint
{
    public const uint Magic = 0x616b3432; // "ak42" as a little-endian uint32
    private const int VersionedHeaderSize = 256;
    private const int MaxDimension = 1 << 20;

    internal static Transformer Load(string path, ComputePool pool)
    {
        var file = MappedFile.Open(path);
        try
        {
            return Read(file, pool);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static Transformer Read(MappedFile file, ComputePool pool)
    {
        if (file.Length < 28)
            throw new ModelFormatException(file.Path, $"only {file.Length} bytes, too short for a llama2.c header");

        uint magic = file.Read<uint>(0, "magic");
        TransformerConfig config;
        TransformerWeights weights;
        if (magic == Magic)
        {
            int version = file.Read<int>(4, "version");
            if (file.Length < VersionedHeaderSize)
                throw new ModelFormatException(file.Path, $"only {file.Length} bytes, too short for the 256-byte llama2.c v{version} header");
            var h = ReadHeader(file, 8);
            bool shared = file.Read<byte>(36, "shared classifier flag") != 0;
            config = ToConfig(h, file.Path);
            (config, weights) = version switch
            {
                1 => (config, ReadVersion1(file, config, shared)),
                2 => (config, ReadVersion2(file, config, shared, file.Read<int>(37, "group size"))),
                _ => throw new ModelFormatException(file.Path, $"llama2.c checkpoint version {version} is not supported (1 = fp32, 2 = int8)"),
            };
        }
        else
        {
            var h = ReadHeader(file, 0);
            bool shared = h[5] > 0;
            h[5] = Math.Abs(h[5]);
            config = ToConfig(h, file.Path);
            weights = ReadLegacy(file, config, shared);
        }
        weights.Validate(config, file.Path);
        return new Transformer(config, weights, pool, file);
    }

    private static int[] ReadHeader(MappedFile file, long offset)
    {
        var h = new int[7];
        for (int i = 0; i < 7; i++) h[i] = file.Read<int>(offset + 4 * i, "header");
        return h;
    }

    private static TransformerConfig ToConfig(int[] h, string path)
    {
        string[] names = ["dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"];
        for (int i = 0; i < 7; i++)
            if (h[i] <= 0 || h[i] > MaxDimension)
                throw new ModelFormatException(path, $"header field {names[i]} = {h[i]} is not a plausible size; not a llama2.c checkpoint?");
        var config = new TransformerConfig
        {
            Architecture = "llama2.c",
            Dim = h[0],
            HiddenDim = h[1],
            Layers = h[2],
            Heads = h[3],
            KvHeads = h[4],
            VocabSize = h[5],
            MaxSeqLen = h[6],
            Rope = RopeLayout.Interleaved,
            NormEps = 1e-5f,
        };
        config.Validate(path);
        return config;
    }

    private static long WeightCount(TransformerConfig c, bool shared, bool withRopeTables)
    {
        long d = c.Dim, l = c.Layers;
        long n = (long)c.VocabSize * d                // embedding
                 + 2 * l * d                          // the two norms per layer
                 + l * d * (c.QDim + 2L * c.KvDim)    // q, k, v
                 + l * c.QDim * d                     // o
                 + 3 * l * d * c.HiddenDim            // w1, w2, w3
                 + d;                                 // final norm
        if (withRopeTables) n += (long)c.MaxSeqLen * c.HeadDim; // freq_cis_real + freq_cis_imag
        if (!shared) n += (long)c.VocabSize * d;
        return n;
    }

    private static void CheckLength(MappedFile file, long expected)
    {
        if (file.Length != expected)
            throw new ModelFormatException(file.Path,
                $"the header describes a model of {expected} bytes but the file has {file.Length} ({(file.Length < expected ? "truncated" : "trailing data or wrong header")})");
    }

    private static TransformerWeights ReadLegacy(MappedFile file, TransformerConfig c, bool shared)
    {
        CheckLength(file, 28 + 4 * WeightCount(c, shared, withRopeTables: true));
        var r = new TensorCursor(file, 28);
        int L = c.Layers;
        var embedding = r.F32(c.VocabSize, c.Dim, "token_embedding_table");
        var attNorm = Repeat(L, i => r.Vector(c.Dim, $"rms_att_weight[{i}]"));
        var wq = Repeat(L, i => r.F32(c.QDim, c.Dim, $"wq[{i}]"));
        var wk = Repeat(L, i => r.F32(c.KvDim, c.Dim, $"wk[{i}]"));
        var wv = Repeat(L, i => r.F32(c.KvDim, c.Dim, $"wv[{i}]"));
        var wo = Repeat(L, i => r.F32(c.Dim, c.QDim, $"wo[{i}]"));
        var ffnNorm = Repeat(L, i => r.Vector(c.Dim, $"rms_ffn_weight[{i}]"));
        var w1 = Repeat(L, i => r.F32(c.HiddenDim, c.Dim, $"w1[{i}]"));
        var w2 = Repeat(L, i => r.F32(c.Dim, c.HiddenDim, $"w2[{i}]"));
        var w3 = Repeat(L, i => r.F32(c.HiddenDim, c.Dim, $"w3[{i}]"));
        var finalNorm = r.Vector(c.Dim, "rms_final_weight");
        r.Skip((long)c.MaxSeqLen * c.HeadDim * sizeof(float), "freq_cis tables"); // RoPE is recomputed
        WeightMatrix classifier = shared ? embedding : r.F32(c.VocabSize, c.Dim, "wcls");
        return Assemble(c, embedding, attNorm, ffnNorm, finalNorm, wq, wk, wv, wo, w1, w2, w3, classifier);
    }

    private static TransformerWeights ReadVersion1(MappedFile file, TransformerConfig c, bool shared)
    {
        CheckLength(file, VersionedHeaderSize + 4 * WeightCount(c, shared, withRopeTables: false));
        var r = new TensorCursor(file, VersionedHeaderSize);
        int L = c.Layers;
        var attNorm = Repeat(L, i => r.Vector(c.Dim, $"attention_norm[{i}]"));
        var ffnNorm = Repeat(L, i => r.Vector(c.Dim, $"ffn_norm[{i}]"));
        var finalNorm = r.Vector(c.Dim, "norm");
        var embedding = r.F32(c.VocabSize, c.Dim, "tok_embeddings");
        var wq = Repeat(L, i => r.F32(c.QDim, c.Dim, $"wq[{i}]"));
        var wk = Repeat(L, i => r.F32(c.KvDim, c.Dim, $"wk[{i}]"));
        var wv = Repeat(L, i => r.F32(c.KvDim, c.Dim, $"wv[{i}]"));
        var wo = Repeat(L, i => r.F32(c.Dim, c.QDim, $"wo[{i}]"));
        var w1 = Repeat(L, i => r.F32(c.HiddenDim, c.Dim, $"w1[{i}]"));
        var w2 = Repeat(L, i => r.F32(c.Dim, c.HiddenDim, $"w2[{i}]"));
        var w3 = Repeat(L, i => r.F32(c.HiddenDim, c.Dim, $"w3[{i}]"));
        WeightMatrix classifier = shared ? embedding : r.F32(c.VocabSize, c.Dim, "output");
        return Assemble(c, embedding, attNorm, ffnNorm, finalNorm, wq, wk, wv, wo, w1, w2, w3, classifier);
    }

    private static TransformerWeights ReadVersion2(MappedFile file, TransformerConfig c, bool shared, int groupSize)
    {
        if (groupSize <= 0 || c.Dim % groupSize != 0 || c.HiddenDim % groupSize != 0 || c.QDim % groupSize != 0)
            throw new ModelFormatException(file.Path, $"group size {groupSize} does not divide the model's dimensions ({c.Dim}, {c.HiddenDim})");
        long floats = (2L * c.Layers + 1) * c.Dim;
        long quantized = WeightCount(c, shared, withRopeTables: false) - floats;
        CheckLength(file, VersionedHeaderSize + 4 * floats + quantized + 4 * (quantized / groupSize));
        var r = new TensorCursor(file, VersionedHeaderSize);
        int L = c.Layers, g = groupSize;
        var attNorm = Repeat(L, i => r.Vector(c.Dim, $"attention_norm[{i}]"));
        var ffnNorm = Repeat(L, i => r.Vector(c.Dim, $"ffn_norm[{i}]"));
        var finalNorm = r.Vector(c.Dim, "norm");
        var embedding = r.Q8(c.VocabSize, c.Dim, g, "tok_embeddings");
        var wq = Repeat(L, i => r.Q8(c.QDim, c.Dim, g, $"wq[{i}]"));
        var wk = Repeat(L, i => r.Q8(c.KvDim, c.Dim, g, $"wk[{i}]"));
        var wv = Repeat(L, i => r.Q8(c.KvDim, c.Dim, g, $"wv[{i}]"));
        var wo = Repeat(L, i => r.Q8(c.Dim, c.QDim, g, $"wo[{i}]"));
        var w1 = Repeat(L, i => r.Q8(c.HiddenDim, c.Dim, g, $"w1[{i}]"));
        var w2 = Repeat(L, i => r.Q8(c.Dim, c.HiddenDim, g, $"w2[{i}]"));
        var w3 = Repeat(L, i => r.Q8(c.HiddenDim, c.Dim, g, $"w3[{i}]"));
        WeightMatrix classifier = shared ? embedding : r.Q8(c.VocabSize, c.Dim, g, "output");
        return Assemble(c, embedding, attNorm, ffnNorm, finalNorm, wq, wk, wv, wo, w1, w2, w3, classifier);
    }

    private static T[] Repeat<T>(int count, Func<int, T> read)
    {
        var result = new T[count];
        for (int i = 0; i < count; i++) result[i] = read(i); // in file order
        return result;
    }

    // llama2.c stores tensors by position, not name: each goes to its role (w1 = gate, w3 = up, w2 = down),
    // then the shared builder assembles the weights as it does for every format.
    private static TransformerWeights Assemble(TransformerConfig c, WeightMatrix embedding, float[][] attNorm, float[][] ffnNorm, float[] finalNorm,
        WeightMatrix[] wq, WeightMatrix[] wk, WeightMatrix[] wv, WeightMatrix[] wo,
        WeightMatrix[] w1, WeightMatrix[] w2, WeightMatrix[] w3, WeightMatrix classifier)
    {
        var source = new MemorySource(tiedOutput: ReferenceEquals(classifier, embedding));
        source.Add(TensorRole.Embedding, -1, embedding);
        source.Add(TensorRole.FinalNorm, -1, finalNorm);
        source.Add(TensorRole.Output, -1, classifier);
        for (int i = 0; i < wq.Length; i++)
        {
            source.Add(TensorRole.AttentionNorm, i, attNorm[i]);
            source.Add(TensorRole.MlpNorm, i, ffnNorm[i]);
            source.Add(TensorRole.Query, i, wq[i]);
            source.Add(TensorRole.Key, i, wk[i]);
            source.Add(TensorRole.Value, i, wv[i]);
            source.Add(TensorRole.AttentionOutput, i, wo[i]);
            source.Add(TensorRole.Gate, i, w1[i]);
            source.Add(TensorRole.Up, i, w3[i]);
            source.Add(TensorRole.Down, i, w2[i]);
        }
        return WeightsBuilder.Build(c, source);
    }
}
