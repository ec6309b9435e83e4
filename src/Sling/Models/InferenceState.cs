namespace Sling.Models;

/// <summary>
/// Everything one running sequence needs besides the weights: activation buffers and the key/value
/// cache ([layer][position][kvDim]). Several states can share one <see cref="Transformer"/>.
/// </summary>
public sealed class InferenceState
{
    public InferenceState(TransformerConfig c, int contextLength)
    {
        if (contextLength <= 0 || contextLength > c.MaxSeqLen)
            throw new ArgumentOutOfRangeException(nameof(contextLength), $"context length {contextLength} must be in 1..{c.MaxSeqLen}");
        ContextLength = contextLength;
        X = new float[c.Dim];
        Normed = new float[c.Dim];
        Query = new float[c.QDim];
        Key = new float[c.KvDim];
        Value = new float[c.KvDim];
        AttentionOut = new float[c.QDim];
        Projected = new float[c.Dim];
        Gate = new float[c.HiddenDim];
        Up = new float[c.HiddenDim];
        MlpOut = new float[c.Dim];
        Scores = new float[c.Heads * contextLength];
        Logits = new float[c.VocabSize];
        KeyCache = new float[c.Layers][];
        ValueCache = new float[c.Layers][];
        for (int l = 0; l < c.Layers; l++)
        {
            KeyCache[l] = new float[(long)contextLength * c.KvDim];
            ValueCache[l] = new float[(long)contextLength * c.KvDim];
        }
    }

    /// <summary>Positions this state can hold: the model's context length or less, to bound the cache's memory.</summary>
    public int ContextLength { get; }
    public float[] X { get; }
    public float[] Normed { get; }
    public float[] Query { get; }
    public float[] Key { get; }
    public float[] Value { get; }
    public float[] AttentionOut { get; }
    public float[] Projected { get; }
    public float[] Gate { get; }
    public float[] Up { get; }
    public float[] MlpOut { get; }
    public float[] Scores { get; }
    public float[] Logits { get; }
    public float[][] KeyCache { get; }
    public float[][] ValueCache { get; }
}
