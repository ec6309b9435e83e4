using Sling.Kernels;

namespace Sling.Models;

/// <summary>Scale (and, for LayerNorm, shift) of a normalization. Small, so always held as fp32.</summary>
internal sealed record NormWeights(float[] Weight, float[]? Bias);

/// <summary>y = W x (+ b). The matrix may be float, half or quantized.</summary>
internal sealed class Linear
{
    public Linear(WeightMatrix weight, float[]? bias = null)
    {
        if (bias != null && bias.Length != weight.Rows)
            throw new ArgumentException($"bias of {bias.Length} for a matrix with {weight.Rows} outputs");
        Weight = weight;
        Bias = bias;
    }

    public WeightMatrix Weight { get; internal set; }
    public float[]? Bias { get; }
    public int Outputs => Weight.Rows;
    public int Inputs => Weight.Cols;
}

internal sealed class LayerWeights
{
    public required NormWeights AttentionNorm { get; init; }
    /// <summary>Null for parallel-residual blocks, where the MLP reads the attention's normed input.</summary>
    public NormWeights? MlpNorm { get; init; }
    public required Linear Query { get; init; }
    public required Linear Key { get; init; }
    public required Linear Value { get; init; }
    public required Linear Output { get; init; }
    /// <summary>The gate of a gated MLP; null for a plain two-layer MLP.</summary>
    public Linear? Gate { get; init; }
    public required Linear Up { get; init; }
    public required Linear Down { get; init; }

    public IEnumerable<(string Name, Linear Linear)> Linears()
    {
        yield return ("q", Query);
        yield return ("k", Key);
        yield return ("v", Value);
        yield return ("o", Output);
        if (Gate != null) yield return ("gate", Gate);
        yield return ("up", Up);
        yield return ("down", Down);
    }
}

internal sealed class TransformerWeights
{
    public required WeightMatrix Embedding { get; init; }
    public required LayerWeights[] Layers { get; init; }
    public required NormWeights FinalNorm { get; init; }
    /// <summary>The classifier; shares its matrix with <see cref="Embedding"/> when the model ties them.</summary>
    public required Linear Classifier { get; init; }

    /// <summary>Throws when a tensor's shape does not fit the configuration.</summary>
    public void Validate(TransformerConfig c, string source)
    {
        void Shape(string name, WeightMatrix w, int rows, int cols)
        {
            if (w.Rows != rows || w.Cols != cols)
                throw new Formats.ModelFormatException(source, $"{name} has shape [{w.Rows}, {w.Cols}], expected [{rows}, {cols}] from the configuration");
            // NaN or infinite values are reported here, not discovered later as NaN logits.
            if (w.FirstNonFiniteRow() is var row and >= 0)
                throw new Formats.ModelFormatException(source, $"{name} ({w.Format}) holds a NaN or infinite {(w is GroupMatrix or RowBlockMatrix or Q8GroupMatrix ? "scale" : "weight")} in row {row}");
        }
        void Vector(string name, float[]? v, int length)
        {
            if (v != null && v.Length != length)
                throw new Formats.ModelFormatException(source, $"{name} has {v.Length} elements, expected {length} from the configuration");
            if (v != null && NonFinite.Find(v) is var at and >= 0)
                throw new Formats.ModelFormatException(source, $"{name} holds a NaN or infinite value at {at}");
        }
        Shape("embedding", Embedding, c.VocabSize, c.Dim);
        Shape("classifier", Classifier.Weight, c.VocabSize, c.Dim);
        Vector("final norm", FinalNorm.Weight, c.Dim);
        Vector("final norm bias", FinalNorm.Bias, c.Dim);
        Vector("classifier bias", Classifier.Bias, c.VocabSize);
        for (int i = 0; i < Layers.Length; i++)
        {
            var l = Layers[i];
            string p = $"layer {i} ";
            Vector(p + "attention norm", l.AttentionNorm.Weight, c.Dim);
            Vector(p + "attention norm bias", l.AttentionNorm.Bias, c.Dim);
            if (l.MlpNorm != null) Vector(p + "mlp norm", l.MlpNorm.Weight, c.Dim);
            foreach (var (name, linear) in l.Linears()) Vector($"{p}{name} bias", linear.Bias, linear.Outputs);
            Shape(p + "query", l.Query.Weight, c.QDim, c.Dim);
            Shape(p + "key", l.Key.Weight, c.KvDim, c.Dim);
            Shape(p + "value", l.Value.Weight, c.KvDim, c.Dim);
            Shape(p + "output", l.Output.Weight, c.Dim, c.QDim);
            if (l.Gate != null) Shape(p + "gate", l.Gate.Weight, c.HiddenDim, c.Dim);
            Shape(p + "up", l.Up.Weight, c.HiddenDim, c.Dim);
            Shape(p + "down", l.Down.Weight, c.Dim, c.HiddenDim);
        }
        if (Layers.Length != c.Layers)
            throw new Formats.ModelFormatException(source, $"{Layers.Length} layers of weights, expected {c.Layers}");
    }
}
