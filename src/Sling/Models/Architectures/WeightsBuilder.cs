namespace Sling.Models.Architectures;

/// <summary>
/// The one mapping from tensors to the engine's weights, for every loader: norms (with a bias for
/// LayerNorm), attention projections (separate or one fused q/k/v tensor split as views), the MLP
/// (gated: separate or fused gate‖up; GELU: up and down), biases where present, and the classifier
/// (its own tensor, or the embedding when tied). Block shapes compose these pieces, as llama.cpp's
/// build_norm / build_attn / build_ffn do.
/// </summary>
internal static class WeightsBuilder
{
    public static TransformerWeights Build(TransformerConfig c, ITensorSource s)
    {
        var embedding = s.Matrix(TensorRole.Embedding, -1, c.VocabSize, c.Dim);
        var layers = new LayerWeights[c.Layers];
        for (int i = 0; i < c.Layers; i++)
        {
            var (query, key, value) = Attention(c, s, i);
            var (gate, up) = MlpIn(c, s, i);
            layers[i] = new LayerWeights
            {
                AttentionNorm = Norm(c, s, TensorRole.AttentionNorm, i),
                MlpNorm = c.ParallelResidual ? null : Norm(c, s, TensorRole.MlpNorm, i), // parallel blocks share the attention's norm
                Query = query,
                Key = key,
                Value = value,
                Output = Projection(s, TensorRole.AttentionOutput, i, c.Dim, c.QDim),
                Gate = gate,
                Up = up,
                Down = Projection(s, TensorRole.Down, i, c.Dim, c.HiddenDim),
            };
        }
        float[]? outputBias = Bias(s, TensorRole.Output, -1, c.VocabSize);
        return new TransformerWeights
        {
            Embedding = embedding,
            Layers = layers,
            FinalNorm = Norm(c, s, TensorRole.FinalNorm, -1),
            Classifier = s.TiedOutput ? new Linear(embedding, outputBias) : new Linear(s.Matrix(TensorRole.Output, -1, c.VocabSize, c.Dim), outputBias),
        };
    }

    static NormWeights Norm(TransformerConfig c, ITensorSource s, TensorRole role, int layer) =>
        new(s.Vector(role, layer, c.Dim), c.Norm == NormKind.LayerNorm ? s.Vector(role, layer, c.Dim, bias: true) : null);

    static float[]? Bias(ITensorSource s, TensorRole role, int layer, int rows) =>
        s.RequiredBiases.Contains(role) || s.Has(role, layer, bias: true) ? s.Vector(role, layer, rows, bias: true) : null;

    static Linear Projection(ITensorSource s, TensorRole role, int layer, int rows, int cols) =>
        new(s.Matrix(role, layer, rows, cols), Bias(s, role, layer, rows));

    static (Linear Query, Linear Key, Linear Value) Attention(TransformerConfig c, ITensorSource s, int i)
    {
        if (!s.Has(TensorRole.QueryKeyValue, i))
            return (Projection(s, TensorRole.Query, i, c.QDim, c.Dim), Projection(s, TensorRole.Key, i, c.KvDim, c.Dim),
                Projection(s, TensorRole.Value, i, c.KvDim, c.Dim));
        int rows = c.QDim + 2 * c.KvDim;
        var qkv = s.Matrix(TensorRole.QueryKeyValue, i, rows, c.Dim, fused: true);
        var bias = Bias(s, TensorRole.QueryKeyValue, i, rows);
        return (new Linear(qkv.SliceRows(0, c.QDim), bias?[..c.QDim]),
            new Linear(qkv.SliceRows(c.QDim, c.KvDim), bias?[c.QDim..(c.QDim + c.KvDim)]),
            new Linear(qkv.SliceRows(c.QDim + c.KvDim, c.KvDim), bias?[(c.QDim + c.KvDim)..]));
    }

    static (Linear? Gate, Linear Up) MlpIn(TransformerConfig c, ITensorSource s, int i)
    {
        if (c.Mlp == MlpKind.Gelu) return (null, Projection(s, TensorRole.Up, i, c.HiddenDim, c.Dim));
        if (s.Has(TensorRole.Gate, i)) return (Projection(s, TensorRole.Gate, i, c.HiddenDim, c.Dim), Projection(s, TensorRole.Up, i, c.HiddenDim, c.Dim));
        var gateUp = s.Matrix(TensorRole.GateUp, i, 2 * c.HiddenDim, c.Dim, fused: true);
        return (new Linear(gateUp.SliceRows(0, c.HiddenDim)), new Linear(gateUp.SliceRows(c.HiddenDim, c.HiddenDim)));
    }
}
