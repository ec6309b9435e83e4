using Sling.Kernels;

namespace Sling.Models;

/// <summary>
/// Everything one running sequence needs besides the weights: the key/value cache
/// ([layer][position][kvDim]), its rotary tables and the activation rows of a batch of up to
/// <see cref="BatchCapacity"/> tokens. Several states can share one <see cref="Transformer"/>.
/// </summary>
public sealed class InferenceState
{
    /// <summary>Tokens one forward pass takes by default: enough for each weight read to serve many tokens.</summary>
    public const int DefaultBatchCapacity = 256;

    private float[]? _allLogits;

    public InferenceState(TransformerConfig c, int contextLength, int batchCapacity = DefaultBatchCapacity, KvCachePrecision cachePrecision = KvCachePrecision.F32)
    {
        if (contextLength <= 0 || contextLength > c.MaxSeqLen)
            throw new ArgumentOutOfRangeException(nameof(contextLength), $"context length {contextLength} must be in 1..{c.MaxSeqLen}");
        if (batchCapacity <= 0)
            throw new ArgumentOutOfRangeException(nameof(batchCapacity), $"batch capacity {batchCapacity} must be positive");
        ContextLength = contextLength;
        BatchCapacity = batchCapacity = Math.Min(batchCapacity, contextLength);
        X = new ActivationRows(batchCapacity, c.Dim);
        Normed = new ActivationRows(batchCapacity, c.Dim);
        Query = new ActivationRows(batchCapacity, c.QDim);
        Key = new ActivationRows(batchCapacity, c.KvDim);
        Value = new ActivationRows(batchCapacity, c.KvDim);
        AttentionOut = new ActivationRows(batchCapacity, c.QDim);
        Projected = new ActivationRows(batchCapacity, c.Dim);
        Gate = new ActivationRows(batchCapacity, c.HiddenDim);
        Up = new ActivationRows(batchCapacity, c.HiddenDim);
        MlpOut = new ActivationRows(batchCapacity, c.Dim);
        int pairs = c.RotaryDim / 2;
        Cos = new float[batchCapacity * pairs];
        Sin = new float[batchCapacity * pairs];
        Logits = new float[c.VocabSize];
        Cache = new KvCache(c.Layers, contextLength, c.KvDim, cachePrecision);
    }

    /// <summary>Bytes of the key/value cache.</summary>
    public long CacheBytes => Cache.Bytes;

    /// <summary>Positions this state can hold: the model's context length or less, to bound the cache's memory.</summary>
    public int ContextLength { get; }
    /// <summary>Most tokens one forward pass takes.</summary>
    public int BatchCapacity { get; }
    /// <summary>Positions whose keys and values the cache holds (the next token goes at this position).</summary>
    public int Length { get; internal set; }
    /// <summary>The next-token logits of the last token of the latest forward pass.</summary>
    public float[] Logits { get; }
    /// <summary>The keys and values of every position so far.</summary>
    public KvCache Cache { get; }

    internal ActivationRows X { get; }
    internal ActivationRows Normed { get; }
    internal ActivationRows Query { get; }
    internal ActivationRows Key { get; }
    internal ActivationRows Value { get; }
    internal ActivationRows AttentionOut { get; }
    internal ActivationRows Projected { get; }
    internal ActivationRows Gate { get; }
    internal ActivationRows Up { get; }
    internal ActivationRows MlpOut { get; }
    internal float[] Cos { get; }
    internal float[] Sin { get; }
    internal MatMul MatMul { get; } = new();
    private readonly (WeightMatrix, float[])[][] _products = [[], new (WeightMatrix, float[])[1], new (WeightMatrix, float[])[2], new (WeightMatrix, float[])[3]];
    /// <summary>A reused list of (weights, output) pairs for one fused product.</summary>
    internal (WeightMatrix, float[])[] Products(int count) => _products[count];

    /// <summary>Logits of every token of a batch (rows × vocabulary), grown on first use.</summary>
    internal float[] AllLogits(int rows, int vocab)
    {
        if (_allLogits == null || _allLogits.Length < rows * vocab) _allLogits = new float[BatchCapacity * vocab];
        return _allLogits;
    }
}
