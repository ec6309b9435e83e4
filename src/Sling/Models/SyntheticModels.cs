using Sling.Kernels;
using Sling.Quantization;

namespace Sling.Models;

/// <summary>
/// Real model shapes with random weights in a chosen storage format, built in memory: what
/// <c>sling bench --synthetic</c> measures when no model file is at hand. Speed depends on the shape
/// and the format, not on the values.
/// </summary>
internal static class SyntheticModels
{
    public static IReadOnlyList<string> ShapeNames { get; } = ["tinyllama-1.1b", "phi-2", "qwen2.5-0.5b", "smollm2-135m", "stories15m"];

    /// <summary>Weight formats: float ones, llama.cpp's Q8_0/Q4_0 layouts, and the seed's int4/int8 settings.</summary>
    public static IReadOnlyList<string> FormatNames { get; } = ["f32", "f16", "bf16", "q8_0", "q4_0", "int8", "int4", "q4_k"];

    public static TransformerConfig Shape(string name) => name switch
    {
        "tinyllama-1.1b" => Llama(name, 2048, 5632, 22, 32, 4, 32000, 2048),
        "smollm2-135m" => Llama(name, 576, 1536, 30, 9, 3, 49152, 2048),
        "qwen2.5-0.5b" => Llama(name, 896, 4864, 24, 14, 2, 151936, 32768) with { RopeTheta = 1000000 },
        "stories15m" => Llama(name, 288, 768, 6, 6, 6, 32000, 256),
        "phi-2" => Llama(name, 2560, 10240, 32, 32, 32, 51200, 2048) with
        {
            Norm = NormKind.LayerNorm, Mlp = MlpKind.Gelu, ParallelResidual = true, RotaryDimOverride = 32,
        },
        _ => throw new SlingException($"unknown shape '{name}' (known: {string.Join(", ", ShapeNames)})"),
    };

    private static TransformerConfig Llama(string name, int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int seq) => new()
    {
        Architecture = $"synthetic:{name}", Dim = dim, HiddenDim = hidden, Layers = layers, Heads = heads, KvHeads = kvHeads,
        VocabSize = vocab, MaxSeqLen = seq,
    };

    /// <summary>
    /// The shape with random weights stored as <paramref name="format"/>. Quantized formats keep the
    /// output layer at 8 bits (q8_0, or int8 per channel for int4), as llama.cpp's and NNCF's defaults do.
    /// </summary>
    public static Transformer Create(string shape, string format, int threads = 0, int seed = 1, int? layers = null)
    {
        var c = Shape(shape);
        if (layers is int count) c = c with { Layers = count }; // fewer layers of the same shape (tests)
        if (!FormatNames.Contains(format))
            throw new SlingException($"unknown weight format '{format}' (known: {string.Join(", ", FormatNames)})");
        bool phi = c.Norm == NormKind.LayerNorm, qwen = shape.StartsWith("qwen", StringComparison.Ordinal);
        int next = seed;
        WeightMatrix Matrix(int rows, int cols, bool output = false) => SyntheticModels.Matrix(rows, cols, output && format is "q4_0" or "int4" or "q4_k" ? (format == "int4" ? "int8" : "q8_0") : format, ++next);
        float[]? Bias(int n, bool present) => present ? RandomRow(n, 0.02f, ++next) : null;
        NormWeights Norm() => new(Enumerable.Repeat(1f, c.Dim).ToArray(), phi ? new float[c.Dim] : null);
        var embedding = Matrix(c.VocabSize, c.Dim);
        bool tied = shape is "qwen2.5-0.5b" or "smollm2-135m" or "stories15m";
        var weights = new TransformerWeights
        {
            Embedding = embedding,
            FinalNorm = Norm(),
            Classifier = tied ? new Linear(embedding) : new Linear(Matrix(c.VocabSize, c.Dim, output: true), Bias(c.VocabSize, phi)),
            Layers = Enumerable.Range(0, c.Layers).Select(_ => new LayerWeights
            {
                AttentionNorm = Norm(),
                MlpNorm = phi ? null : Norm(),
                Query = new Linear(Matrix(c.QDim, c.Dim), Bias(c.QDim, phi || qwen)),
                Key = new Linear(Matrix(c.KvDim, c.Dim), Bias(c.KvDim, phi || qwen)),
                Value = new Linear(Matrix(c.KvDim, c.Dim), Bias(c.KvDim, phi || qwen)),
                Output = new Linear(Matrix(c.Dim, c.QDim), Bias(c.Dim, phi)),
                Gate = phi ? null : new Linear(Matrix(c.HiddenDim, c.Dim)),
                Up = new Linear(Matrix(c.HiddenDim, c.Dim), Bias(c.HiddenDim, phi)),
                Down = new Linear(Matrix(c.Dim, c.HiddenDim), Bias(c.Dim, phi)),
            }).ToArray(),
        };
        return new Transformer(c, weights, ComputePool.Get(threads));
    }

    /// <summary>One [rows, cols] matrix of random weights stored as <paramref name="format"/> (one of <see cref="FormatNames"/>), in the file layout (not yet repacked).</summary>
    public static unsafe WeightMatrix Matrix(int rows, int cols, string format, int seed = 1)
    {
        if (!FormatNames.Contains(format))
            throw new SlingException($"unknown weight format '{format}' (known: {string.Join(", ", FormatNames)})");
        float scale = 1f / MathF.Sqrt(cols);
        float[] Row(int r) => RandomRow(cols, scale, seed * 1_000_003L + r);
        switch (format)
        {
            case "q8_0": return QuantizedTensors.Quantize(Row, rows, cols, new QuantizedFormat(8, true, 32));
            case "q4_0": return QuantizedTensors.Quantize(Row, rows, cols, new QuantizedFormat(4, true, 32));
            case "int8": return QuantizedTensors.Quantize(Row, rows, cols, new QuantizedFormat(8, false, cols));
            case "int4": return QuantizedTensors.Quantize(Row, rows, cols, new QuantizedFormat(4, false, cols % 128 == 0 ? 128 : 64));
            case "q4_k" when cols % 256 != 0:
                // Rows that are not whole 256-value super-blocks (Qwen2.5-0.5B's 896) cannot be Q4_K;
                // llama-quantize falls back to a 32-value block type for them (Q5_0), here Q4_0.
                return Matrix(rows, cols, "q4_0", seed);
            case "q4_k":
            {
                // llama.cpp's Q4_K as Sling holds it: 4-bit codes; per 256 values d and dmin, per 32 a 6-bit
                // scale and min (value = d·sc·q − dmin·m). Random values of a typical magnitude; speed does
                // not depend on them.
                var rng = new Random(seed);
                int blocks = rows * (cols / AffineBlockMatrix.Block), subs = rows * (cols / 32), supers = rows * (cols / 256);
                var codes = new byte[rows * cols];
                rng.NextBytes(codes);
                for (int i = 0; i < codes.Length; i++) codes[i] &= 0xF;
                var factors = new AffineBlockMatrix.SuperBlockFactors(
                    Enumerable.Range(0, supers).Select(_ => scale / 256 * (float)(0.5 + rng.NextDouble())).ToArray(),
                    Enumerable.Range(0, supers).Select(_ => scale / 32 * (float)(0.5 + rng.NextDouble())).ToArray(),
                    Enumerable.Range(0, subs).Select(_ => (byte)rng.Next(64)).ToArray(),
                    Enumerable.Range(0, subs).Select(_ => (byte)rng.Next(64)).ToArray(), 32, SignedScale: false);
                var scales = new float[blocks];
                var offsets = new float[blocks];
                for (int b = 0; b < blocks; b++)
                {
                    int sub = b / 2, super = b / 16;
                    scales[b] = factors.D[super] * factors.Scale[sub];
                    offsets[b] = factors.DMin![super] * factors.Min![sub];
                }
                return new AffineBlockMatrix(codes, scales, new byte[blocks], offsets, rows, cols, "q4_k") { Factors = factors };
            }
        }
        var values = GC.AllocateUninitializedArray<float>(rows * cols, pinned: format == "f32");
        Parallel.For(0, rows, r => Row(r).CopyTo(values, (long)r * cols));
        if (format == "f32") return F32Matrix.FromArray(values, rows, cols);
        if (format == "f16")
        {
            var half = GC.AllocateUninitializedArray<Half>(values.Length, pinned: true);
            System.Numerics.Tensors.TensorPrimitives.ConvertToHalf(values, half);
            return new F16Matrix((Half*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref half[0]), rows, cols, half);
        }
        var bf16 = GC.AllocateUninitializedArray<ushort>(values.Length, pinned: true);
        for (long i = 0; i < values.Length; i++) bf16[i] = (ushort)(BitConverter.SingleToUInt32Bits(values[i]) >> 16);
        return new BF16Matrix((ushort*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref bf16[0]), rows, cols, bf16);
    }

    private static float[] RandomRow(int count, float scale, long seed)
    {
        var values = new float[count];
        ulong s = (ulong)seed * 0x9E3779B97F4A7C15UL | 1;
        for (int i = 0; i < values.Length; i++)
        {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            values[i] = ((s >> 40) / 16777216f * 2 - 1) * scale;
        }
        return values;
    }
}
