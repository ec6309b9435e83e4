using Sling.Kernels;

namespace Sling.Models;

/// <summary>
/// Everything one running sequence needs besides the weights: the key/value cache
/// ([layer][position][kvDim]) and the activation rows of its own forward passes of up to
/// <see cref="BatchCapacity"/> tokens. Several states share one <see cref="Transformer"/>, one after
/// another or together in a <see cref="DecodeBatch"/>. The rows of a many-token pass (a prompt) are
/// made when one runs and returned as soon as a one-token pass (generation) follows, so a long
/// generation holds only one token's rows besides its cache.
/// </summary>
public sealed class InferenceState : IDisposable
{
    private readonly TransformerConfig _config;
    private ForwardBuffers? _one, _many;
    private bool _disposed;

    /// <summary>Tokens one forward pass takes by default: enough for each weight read to serve many tokens.</summary>
    public const int DefaultBatchCapacity = 256;

    public InferenceState(TransformerConfig c, int contextLength, int batchCapacity = DefaultBatchCapacity, KvCachePrecision cachePrecision = KvCachePrecision.F32)
        : this(c, contextLength, batchCapacity, () => new KvCache(c.Layers, contextLength, c.KvDim, c.HeadDim, cachePrecision))
    {
    }

    /// <summary>A sequence whose cache takes blocks of a shared <paramref name="pool"/> as it reserves positions.</summary>
    internal InferenceState(TransformerConfig c, int contextLength, int batchCapacity, KvBlockPool pool)
        : this(c, contextLength, batchCapacity, () => new KvCache(pool))
    {
    }

    private InferenceState(TransformerConfig c, int contextLength, int batchCapacity, Func<KvCache> cache)
    {
        if (contextLength <= 0 || contextLength > c.MaxSeqLen)
            throw new ArgumentOutOfRangeException(nameof(contextLength), $"context length {contextLength} must be in 1..{c.MaxSeqLen}");
        if (batchCapacity <= 0)
            throw new ArgumentOutOfRangeException(nameof(batchCapacity), $"batch capacity {batchCapacity} must be positive");
        ContextLength = contextLength;
        BatchCapacity = batchCapacity = Math.Min(batchCapacity, contextLength);
        _config = c;
        Logits = new float[c.VocabSize];
        Cache = cache();
    }

    /// <summary>Bytes of the key/value cache.</summary>
    public long CacheBytes => Cache.Bytes;

    /// <summary>Positions this state can hold: the model's context length or less, to bound the cache's memory.</summary>
    public int ContextLength { get; }
    /// <summary>Most tokens one forward pass of this sequence alone takes.</summary>
    public int BatchCapacity { get; }
    /// <summary>Positions whose keys and values the cache holds (the next token goes at this position).</summary>
    public int Length { get; internal set; }
    /// <summary>The next-token logits of this sequence's latest token that asked for them.</summary>
    public float[] Logits { get; }
    /// <summary>The keys and values of every position so far.</summary>
    internal KvCache Cache { get; }

    /// <summary>The <see cref="ForwardBuffers.Pass"/> that last wrote <see cref="Logits"/>.</summary>
    internal int LogitsPass { get; set; } = -1;

    /// <summary>
    /// The activation rows for a pass of <paramref name="tokens"/> of this sequence alone: one row's set,
    /// kept, or the batch capacity's, made on demand and released when a one-token pass comes.
    /// </summary>
    internal ForwardBuffers BuffersFor(int tokens)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (tokens > 1) return _many ??= new ForwardBuffers(_config, BatchCapacity);
        if (_many != null)
        {
            _many.Dispose();
            _many = null;
            Pages.ReturnFreedHeap(); // the small rows came from the C heap, which keeps freed memory otherwise
        }
        return _one ??= new ForwardBuffers(_config, 1);
    }

    /// <summary>Bytes of activation rows held now (both sets, when made).</summary>
    internal long BufferBytes => (_one?.Bytes ?? 0) + (_many?.Bytes ?? 0);

    /// <summary>Returns the activation rows' native memory now (they are otherwise freed when collected).</summary>
    public void Dispose()
    {
        _disposed = true;
        _many?.Dispose();
        _one?.Dispose();
        _many = _one = null;
        Pages.ReturnFreedHeap();
    }
}
