using Sling.Kernels;
using Sling.Models;

namespace Sling.Bench;

/// <summary>Llama-architecture models with real shapes and random fp32 weights, to measure speed without downloads.</summary>
internal static class SyntheticModel
{
    public static TransformerConfig Shape(string name) => name switch
    {
        "stories15m" => Config(288, 768, 6, 6, 6, 32000, 256),
        "smollm-135m" => Config(576, 1536, 30, 9, 3, 49152, 2048),
        "tinyllama-1.1b" => Config(2048, 5632, 22, 32, 4, 32000, 2048),
        _ => throw new ArgumentException($"unknown shape '{name}' (stories15m, smollm-135m, tinyllama-1.1b)"),
    };

    private static TransformerConfig Config(int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int seq) => new()
    {
        Architecture = "synthetic", Dim = dim, HiddenDim = hidden, Layers = layers, Heads = heads, KvHeads = kvHeads,
        VocabSize = vocab, MaxSeqLen = seq,
    };

    public static Transformer Create(TransformerConfig c, int threads)
    {
        ulong seed = 1;
        WeightMatrix Matrix(int rows, int cols)
        {
            var values = GC.AllocateUninitializedArray<float>(rows * cols);
            float scale = 1f / MathF.Sqrt(cols);
            ulong s = ++seed * 0x9E3779B97F4A7C15UL;
            for (int i = 0; i < values.Length; i++)
            {
                s ^= s << 13; s ^= s >> 7; s ^= s << 17;
                values[i] = ((s >> 40) / 16777216f * 2 - 1) * scale;
            }
            return F32Matrix.FromArray(values, rows, cols);
        }
        NormWeights Norm() => new(Enumerable.Repeat(1f, c.Dim).ToArray(), null);
        var embedding = Matrix(c.VocabSize, c.Dim);
        var weights = new TransformerWeights
        {
            Embedding = embedding,
            FinalNorm = Norm(),
            Classifier = new Linear(embedding),
            Layers = Enumerable.Range(0, c.Layers).Select(_ => new LayerWeights
            {
                AttentionNorm = Norm(),
                MlpNorm = Norm(),
                Query = new Linear(Matrix(c.QDim, c.Dim)),
                Key = new Linear(Matrix(c.KvDim, c.Dim)),
                Value = new Linear(Matrix(c.KvDim, c.Dim)),
                Output = new Linear(Matrix(c.Dim, c.QDim)),
                Gate = new Linear(Matrix(c.HiddenDim, c.Dim)),
                Up = new Linear(Matrix(c.HiddenDim, c.Dim)),
                Down = new Linear(Matrix(c.Dim, c.HiddenDim)),
            }).ToArray(),
        };
        return new Transformer(c, weights, new MatVec(threads));
    }
}
