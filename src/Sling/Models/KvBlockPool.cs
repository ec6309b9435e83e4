namespace Sling.Models;

/// <summary>
/// Key/value memory shared by many sequences, handed out in blocks of a fixed number of positions
/// (a paged cache, as vLLM's and llama.cpp's servers keep it): a sequence holds only the blocks its
/// positions need, and returns them when it ends, so the memory bound is the pool's, not
/// sequences × context. Storage per layer is one array of blocks × kvDim × positions (each block
/// [head][position][headDim]: see <see cref="KvCache"/>).
/// </summary>
internal sealed class KvBlockPool
{
    readonly Stack<int> _free;
    readonly object _gate = new();

    public KvBlockPool(int layers, int kvDim, int headDim, int blockPositions, int blocks, KvCachePrecision precision)
    {
        if (blockPositions < 1 || blocks < 1) throw new ArgumentOutOfRangeException(nameof(blocks), "a pool needs at least one block of one position");
        if (headDim < 1 || kvDim % headDim != 0) throw new ArgumentOutOfRangeException(nameof(headDim), $"key/value width {kvDim} is not whole heads of {headDim}");
        Layers = layers;
        KvDim = kvDim;
        HeadDim = headDim;
        BlockPositions = blockPositions;
        BlockCount = blocks;
        Precision = precision;
        long length = (long)blocks * blockPositions * kvDim;
        if (precision == KvCachePrecision.F32)
        {
            Keys32 = Enumerable.Range(0, layers).Select(_ => new float[length]).ToArray();
            Values32 = Enumerable.Range(0, layers).Select(_ => new float[length]).ToArray();
        }
        else if (precision == KvCachePrecision.F16)
        {
            Keys16 = Enumerable.Range(0, layers).Select(_ => new Half[length]).ToArray();
            Values16 = Enumerable.Range(0, layers).Select(_ => new Half[length]).ToArray();
        }
        else
        {
            long scales = length / headDim;
            Keys8 = Enumerable.Range(0, layers).Select(_ => new sbyte[length]).ToArray();
            Values8 = Enumerable.Range(0, layers).Select(_ => new sbyte[length]).ToArray();
            KeyScales = Enumerable.Range(0, layers).Select(_ => new float[scales]).ToArray();
            ValueScales = Enumerable.Range(0, layers).Select(_ => new float[scales]).ToArray();
        }
        _free = new Stack<int>(Enumerable.Range(0, blocks).Reverse());
    }

    public int Layers { get; }
    public int KvDim { get; }
    public int BlockPositions { get; }
    public int BlockCount { get; }
    public KvCachePrecision Precision { get; }
    internal float[][]? Keys32 { get; }
    internal float[][]? Values32 { get; }
    internal Half[][]? Keys16 { get; }
    internal Half[][]? Values16 { get; }
    internal sbyte[][]? Keys8 { get; }
    internal sbyte[][]? Values8 { get; }
    /// <summary>int8 codes' scales: one per position and key/value head, at the index of the head's codes / headDim.</summary>
    internal float[][]? KeyScales { get; }
    internal float[][]? ValueScales { get; }
    public int HeadDim { get; }

    /// <summary>Bytes of keys and values one block holds over all layers.</summary>
    public long BlockBytes => 2L * Layers * BlockPositions * Precision switch
    {
        KvCachePrecision.F32 => KvDim * sizeof(float),
        KvCachePrecision.F16 => KvDim * 2,
        _ => KvDim + KvDim / HeadDim * sizeof(float),
    };

    /// <summary>Blocks a sequence of <paramref name="positions"/> positions needs.</summary>
    public int BlocksFor(int positions) => (positions + BlockPositions - 1) / BlockPositions;

    public int FreeBlocks
    {
        get
        {
            lock (_gate) return _free.Count;
        }
    }

    /// <summary>Takes <paramref name="count"/> blocks, or none when fewer are free.</summary>
    public bool TryAllocate(int count, List<int> into)
    {
        lock (_gate)
        {
            if (_free.Count < count) return false;
            for (int i = 0; i < count; i++) into.Add(_free.Pop());
            return true;
        }
    }

    public void Free(IEnumerable<int> blocks)
    {
        lock (_gate)
            foreach (int b in blocks) _free.Push(b);
    }
}
