using Sling.Formats;
using Sling.Kernels;

namespace Sling.Models;

/// <summary>
/// Loads llama.cpp GGUF model files of architectures llama (Llama 2/3, TinyLlama, Mistral, SmolLM),
/// qwen2, phi2 and phi3 with tensors in F32, F16, BF16, Q8_0 or Q4_0. Float tensors are read
/// in place; Q8_0 and Q4_0 blocks (fp16 scale + 32 codes) are repacked once into Sling's int8/int4
/// group formats, which hold exactly the same values. llama.cpp's converter stores q/k in the
/// interleaved rotary layout, so that is the layout used here.
/// </summary>
public static class GgufLoader
{
    // ggml tensor types this loader reads.
    public const uint F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 8, BF16 = 30;
    private const int Block = 32;

    /// <summary>The GGUF architectures this loader reads.</summary>
    public static IReadOnlyList<string> Architectures { get; } = ["llama", "qwen2", "phi2", "phi3"];

    internal static Transformer Load(string path, ComputePool pool, LoadOptions? options = null)
    {
        options ??= new LoadOptions();
        var gguf = GgufFile.Open(path);
        try
        {
            string arch = gguf.GetOrDefault<string>("general.architecture") ?? throw new ModelFormatException(path, "metadata key 'general.architecture' is missing");
            if (!Architectures.Contains(arch))
                throw new ModelFormatException(path, $"GGUF architecture '{arch}' is not supported (supported: {string.Join(", ", Architectures)}); Hugging Face folders cover more families");
            var config = ReadConfig(gguf, arch);
            var tensors = gguf.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
            // Llama 3.x files carry their rope scaling as per-pair frequency divisors.
            if (tensors.ContainsKey("rope_freqs.weight"))
                config = config with { RopeFrequencyFactors = ReadVector(gguf, tensors, "rope_freqs.weight", config.RotaryDim / 2) };
            config.Validate(path);
            Sling.Models.Architectures.ITensorSource source = new GgufSource(gguf, tensors, NamesOf(arch));
            var layout = KernelLayoutCache.Open(Path.GetDirectoryName(Path.GetFullPath(path))!, [path], options);
            var weights = Sling.Models.Architectures.WeightsBuilder.Build(config, layout?.Wrap(source) ?? source);
            weights.Validate(config, path);
            var transformer = new Transformer(config, weights, pool, gguf);
            gguf.File.ReleaseAll();
            layout?.Keep();
            // Q8_0 blocks went through copies on their way to the kernels' layout: return that memory.
            if (layout?.Hit != true && gguf.Tensors.Where(t => t.Type == Q8_0).Sum(t => t.ElementCount) > 64 << 20) GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
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
        int dim = Int("embedding_length");
        int vocab = g.GetOrDefault<string[]>("tokenizer.ggml.tokens")?.Length ?? Int("vocab_size");
        int context = Int("context_length");
        int rotary = Int("rope.dimension_count", dim / heads);
        bool phi2 = arch == "phi2";
        int window = arch == "phi3" ? Int("attention.sliding_window", 0 + context) : 0;
        return new TransformerConfig
        {
            Architecture = $"gguf:{arch}",
            Dim = dim,
            HiddenDim = Int("feed_forward_length"),
            Layers = Int("block_count"),
            Heads = heads,
            KvHeads = Int("attention.head_count_kv", heads),
            VocabSize = Int("vocab_size", vocab),
            MaxSeqLen = context,
            Norm = phi2 ? NormKind.LayerNorm : NormKind.RmsNorm,
            NormEps = phi2 ? Float("attention.layer_norm_epsilon", 1e-5f) : Float("attention.layer_norm_rms_epsilon", 1e-5f),
            Mlp = phi2 ? MlpKind.Gelu : MlpKind.GatedSilu,
            ParallelResidual = phi2,
            RopeTheta = Float("rope.freq_base", 10000f),
            RotaryDimOverride = rotary == dim / heads ? null : rotary,
            // llama.cpp's converter permutes llama q/k rows into interleaved pairs; the NEOX-rope
            // families (qwen2, phi2, phi3) keep Hugging Face's rotate-half order.
            Rope = arch == "llama" ? RopeLayout.Interleaved : RopeLayout.RotateHalf,
            SlidingWindow = window >= context ? 0 : window,
        };
    }

    /// <summary>The name table of a GGUF architecture.</summary>
    internal static Sling.Models.Architectures.TensorNames NamesOf(string arch) => arch switch
    {
        "phi2" => Sling.Models.Architectures.TensorNames.Phi,
        "phi3" => Sling.Models.Architectures.TensorNames.Phi3,
        _ => Sling.Models.Architectures.TensorNames.Llama,
    };

    /// <summary>A GGUF file's tensors, found through a family's name table (GGUF names).</summary>
    private sealed class GgufSource(GgufFile g, Dictionary<string, GgufTensorInfo> tensors, Sling.Models.Architectures.TensorNames names) : Sling.Models.Architectures.ITensorSource
    {
        static string Name(Sling.Models.Architectures.TensorNames n, Sling.Models.Architectures.TensorRole role, int layer, bool bias) => n.Gguf(role, layer) + (bias ? ".bias" : ".weight");

        public bool Has(Sling.Models.Architectures.TensorRole role, int layer = -1, bool bias = false) =>
            names.Knows(role) && tensors.ContainsKey(Name(names, role, layer, bias));

        // A fused tensor is split into views before the kernels' layout is chosen, so it is read as stored.
        public WeightMatrix Matrix(Sling.Models.Architectures.TensorRole role, int layer, int rows, int cols, bool fused = false) =>
            ReadMatrix(g, tensors, Name(names, role, layer, false), rows, cols, repack: !fused);

        public float[] Vector(Sling.Models.Architectures.TensorRole role, int layer, int length, bool bias = false) =>
            ReadVector(g, tensors, Name(names, role, layer, bias), length);

        // Without an output tensor the classifier is the embedding (qwen2's tied weights).
        public bool TiedOutput => !Has(Sling.Models.Architectures.TensorRole.Output);

        public IReadOnlyCollection<Sling.Models.Architectures.TensorRole> RequiredBiases => names.RequiredBiases;
    }

    internal static unsafe WeightMatrix ReadMatrix(GgufFile g, Dictionary<string, GgufTensorInfo> tensors, string name, int rows, int cols, bool repack = true)
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
            case GgmlBlocks.Q5_0: // as Q8_0: codes q − 16 in a byte, the fp16 scale (8.5 bits per weight, not 10 as affine blocks)
            {
                if (cols % Block != 0) throw new ModelFormatException(g.Path, $"tensor '{name}': {cols} columns are not whole blocks of {Block}");
                bool four = t.Type == Q4_0, five = t.Type == GgmlBlocks.Q5_0;
                int blockBytes = four ? 18 : five ? 22 : 34;
                long blocks = count / Block;
                byte* src = g.File.Pointer(t.Offset, blocks * blockBytes, name);
                // Q4_0 goes straight from the file's blocks into the kernel's interleaved layout.
                if (repack && four && RowBlockMatrix.CanRepack(rows, cols)) return new Int4RowBlockMatrix(new Q4_0Source(src, rows, cols, g.File));
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
                        else if (five)
                            GgmlBlocks.Q5_0AsInt8(block, codes.AsSpan((int)(b * Block), Block));
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
                return repack && RowBlockMatrix.CanRepack(m) ? RowBlockMatrix.Repack(m) : m;
            }
            default:
            {
                // The other block types (Q4_1, Q5_1, K-quants, IQ4) become 16-value affine blocks (an 8-bit
                // code per value, scale/zero/offset per block) holding exactly the values ggml decodes,
                // multiplied with int8 activation blocks like the other integer formats.
                if (GgmlBlocks.Layout(t.Type) is not var (values, bytes))
                    throw new ModelFormatException(g.Path, $"tensor '{name}' has ggml type {t.Type} ({GgufFile.TypeName(t.Type)}); supported: F32, F16, BF16, " +
                        "Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS");
                if (cols % values != 0) throw new ModelFormatException(g.Path, $"tensor '{name}': {cols} columns are not whole blocks of {values} ({GgufFile.TypeName(t.Type)})");
                long rowBytes = (long)cols / values * bytes;
                byte* src = g.File.Pointer(t.Offset, rows * rowBytes, name);
                // IQ4_NL and IQ4_XS: their 4-bit level indices go straight into the int4 layout, whose
                // kernel looks the levels up.
                if (repack && t.Type == GgmlBlocks.IQ4_NL && RowBlockMatrix.CanRepack(rows, cols))
                    return new Int4RowBlockMatrix(new Q4_0Source(src, rows, cols, g.File, iq4: true));
                if (repack && t.Type == GgmlBlocks.IQ4_XS && RowBlockMatrix.CanRepack(rows, cols))
                    return new Int4RowBlockMatrix(new Iq4XsSource(src, rows, cols, Factors(t.Type, src, rows, cols, rowBytes)!, g.File));
                // Q4_K goes straight from the file's blocks into the kernel's interleaved layout.
                if (repack && t.Type == GgmlBlocks.Q4_K && RowBlockMatrix.CanRepack(rows, cols))
                    return new Int4RowBlockMatrix(new Q4KSource(src, rows, cols, Factors(t.Type, src, rows, cols, rowBytes)!, g.File));
                // Q2_K, Q3_K, Q5_K and Q6_K into the 6-bit one (codes decoded row by row, scales factored as stored).
                if (repack && t.Type is GgmlBlocks.Q2_K or GgmlBlocks.Q3_K or GgmlBlocks.Q5_K or GgmlBlocks.Q6_K && RowBlockMatrix.CanRepack(rows, cols))
                    return new Int6RowBlockMatrix(new KQuantInt8Source(t.Type, src, rows, cols, Factors(t.Type, src, rows, cols, rowBytes)!, g.File));
                int blocksPerRow = cols / AffineBlockMatrix.Block;
                var codes = GC.AllocateUninitializedArray<byte>(checked((int)count));
                var scales = new float[(long)rows * blocksPerRow];
                var zeros = new byte[(long)rows * blocksPerRow];
                var offsets = new float[(long)rows * blocksPerRow];
                System.Threading.Tasks.Parallel.For(0, rows, [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)] (row) => GgmlBlocks.ToAffine(t.Type, src + row * rowBytes,
                    codes.AsSpan((int)((long)row * cols), cols), scales.AsSpan(row * blocksPerRow, blocksPerRow),
                    zeros.AsSpan(row * blocksPerRow, blocksPerRow), offsets.AsSpan(row * blocksPerRow, blocksPerRow)));
                var factors = Factors(t.Type, src, rows, cols, rowBytes);
                g.File.Release(src, rows * rowBytes);
                var affine = new AffineBlockMatrix(codes, scales, zeros, offsets, rows, cols, GgufFile.TypeName(t.Type).ToLowerInvariant()) { Factors = factors };
                // Q4_K and Q4_1 (4-bit codes, one scale and offset per 32 values) take the interleaved int4 kernels.
                return repack && RowBlockMatrix.CanRepack(affine) ? RowBlockMatrix.Repack(affine) : affine;
            }
        }
    }

    // K-quants keep their scales factored as the file stores them (super-block float × group byte),
    // so the interleaved layout is as compact as the file.
    internal static unsafe AffineBlockMatrix.SuperBlockFactors? Factors(uint type, byte* src, int rows, int cols, long rowBytes)
    {
        if (GgmlBlocks.FactorLayout(type) is not var (groupSize, mins, signedScale, read)) return null;
        int supers = cols / AffineBlockMatrix.SuperBlockFactors.SuperBlock, subs = cols / groupSize;
        var f = new AffineBlockMatrix.SuperBlockFactors(new float[(long)rows * supers], mins ? new float[(long)rows * supers] : null,
            new byte[(long)rows * subs], mins ? new byte[(long)rows * subs] : null, groupSize, signedScale);
        System.Threading.Tasks.Parallel.For(0, rows, [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)] (row) =>
            read(src + row * rowBytes, supers, f.D.AsSpan(row * supers, supers), mins ? f.DMin!.AsSpan(row * supers, supers) : default,
                f.Scale.AsSpan(row * subs, subs), mins ? f.Min!.AsSpan(row * subs, subs) : default));
        return f;
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
