using System.Numerics.Tensors;
using Sling.Kernels;

namespace Sling.Models;

/// <summary>How the key/value cache stores its numbers.</summary>
public enum KvCachePrecision
{
    /// <summary>fp32: exact (the default; golden-logit tests hold to it).</summary>
    F32,
    /// <summary>IEEE half: half the memory and memory traffic of long contexts, ~1e-3 relative rounding.</summary>
    F16,
    /// <summary>
    /// 8-bit codes with one fp32 scale per position and key/value head (its largest magnitude / 127):
    /// a little over a quarter of fp32's memory; rounding up to 1/254 of each head's largest value.
    /// </summary>
    Int8,
}

/// <summary>
/// One sequence's keys and values in fp32, fp16 or int8, kept in blocks of a <see cref="KvBlockPool"/>:
/// either its own pool of one block as long as the context (a single sequence), or blocks of a pool
/// shared with other sequences (the server), taken as positions are reserved. Within a block each
/// key/value head's positions lie together, [layer][block][head][position][headDim], so attention
/// streams one head's keys contiguously (a position's heads side by side, as first stored, made every
/// read a 1 KiB stride for TinyLlama and generation at depth 10–25 % slower). Attention reads it block
/// by block through <see cref="Attention"/>'s kernels, in the same order of operations either way.
/// </summary>
internal sealed class KvCache
{
    readonly KvBlockPool _pool;
    readonly List<int> _blocks = [];
    readonly bool _shared;
    readonly int _kvDim, _headDim, _blockPositions;
    [ThreadStatic] static float[]? _widened;
    // A layer's fp16 or int8 keys and values at positions _wideFrom.._wideTo as floats, [head][position][headDim]
    // (WidenSpan), so the many tiles of a prompt read them widened once; _wideLayer −1 when stale.
    float[]? _wideKeys, _wideValues;
    int _wideLayer = -1, _wideFrom, _wideTo;

    /// <summary>
    /// The fp16 or int8 keys (or values) of the head at <paramref name="offset"/> at <paramref name="count"/>
    /// positions from <paramref name="position"/> (across block borders) as floats, [position][headDim],
    /// in this thread's buffer.
    /// </summary>
    ReadOnlySpan<float> Widen(int layer, int position, int offset, int count, bool keys)
    {
        if (_widened == null || _widened.Length < count * _headDim) _widened = new float[Math.Max(count * _headDim, 4096)];
        var rows = _widened.AsSpan(0, count * _headDim);
        WidenInto(layer, position, offset, keys, rows);
        return rows;
    }

    /// <summary>
    /// Widens the fp16 or int8 keys (or values) of one head at <paramref name="rows"/>' positions from
    /// <paramref name="position"/> into it, a block's run of positions at a time (they lie together):
    /// int8 codes times their position's scale.
    /// </summary>
    void WidenInto(int layer, int position, int offset, bool keys, Span<float> rows)
    {
        for (int done = 0, count = rows.Length / _headDim, run; done < count; done += run)
        {
            run = Run(position + done, count - done);
            int at = At(position + done, offset);
            var into = rows.Slice(done * _headDim, run * _headDim);
            if (_pool.Keys16 != null)
            {
                Kernels.Emit.HalfWidening.ToSingle((keys ? _pool.Keys16 : _pool.Values16!)[layer].AsSpan(at, into.Length), into);
                continue;
            }
            TensorPrimitives.ConvertChecked<sbyte, float>((keys ? _pool.Keys8! : _pool.Values8!)[layer].AsSpan(at, into.Length), into);
            var scales = (keys ? _pool.KeyScales! : _pool.ValueScales!)[layer].AsSpan(at / _headDim, run);
            for (int i = 0; i < run; i++) TensorPrimitives.Multiply(into.Slice(i * _headDim, _headDim), scales[i], into.Slice(i * _headDim, _headDim));
        }
    }

    /// <summary>A cache of its own for <paramref name="contextLength"/> positions.</summary>
    internal KvCache(int layers, int contextLength, int kvDim, int headDim, KvCachePrecision precision)
    {
        _pool = new KvBlockPool(layers, kvDim, headDim, Math.Max(contextLength, 1), 1, precision);
        _pool.TryAllocate(1, _blocks);
        _kvDim = kvDim;
        _headDim = headDim;
        _blockPositions = _pool.BlockPositions;
    }

    /// <summary>A cache whose blocks come from <paramref name="pool"/> as <see cref="Reserve"/> asks for them.</summary>
    internal KvCache(KvBlockPool pool)
    {
        _pool = pool;
        _shared = true;
        _kvDim = pool.KvDim;
        _headDim = pool.HeadDim;
        _blockPositions = pool.BlockPositions;
    }

    public KvCachePrecision Precision => _pool.Precision;

    /// <summary>Bytes of the blocks this sequence holds.</summary>
    public long Bytes => _blocks.Count * _pool.BlockBytes;

    /// <summary>Positions the held blocks cover.</summary>
    public int Capacity => _blocks.Count * _blockPositions;

    /// <summary>Holds blocks for positions [0, <paramref name="positions"/>); false (and nothing taken) when the pool has too few free.</summary>
    internal bool Reserve(int positions)
    {
        int missing = _pool.BlocksFor(positions) - _blocks.Count;
        return missing <= 0 || _pool.TryAllocate(missing, _blocks);
    }

    /// <summary>Returns a shared pool's blocks (the sequence ended).</summary>
    internal void Release()
    {
        if (!_shared) return;
        _pool.Free(_blocks);
        _blocks.Clear();
    }

    /// <summary>
    /// Element index in the layer arrays of the key/value head at <paramref name="offset"/> (head · headDim)
    /// at <paramref name="position"/>. A block holds each head's positions together, [head][position][headDim],
    /// so one head's keys are one contiguous stream.
    /// </summary>
    int At(int position, int offset)
    {
        int block = position / _blockPositions;
        if (block >= _blocks.Count)
            throw new InvalidOperationException($"position {position} has no cache block (the sequence reserved {Capacity} positions)");
        return _blocks[block] * _blockPositions * _kvDim + offset * _blockPositions + position % _blockPositions * _headDim;
    }

    /// <summary>Stores the keys and values of consecutive positions from <paramref name="position"/>.</summary>
    internal void Write(int layer, int position, ReadOnlySpan<float> keys, ReadOnlySpan<float> values)
    {
        if (layer == _wideLayer) _wideLayer = -1;
        for (int done = 0; done < keys.Length; done += _headDim)
        {
            int offset = done % _kvDim, at = At(position + done / _kvDim, offset);
            var k = keys.Slice(done, _headDim);
            var v = values.Slice(done, _headDim);
            if (_pool.Keys32 != null)
            {
                k.CopyTo(_pool.Keys32[layer].AsSpan(at));
                v.CopyTo(_pool.Values32![layer].AsSpan(at));
            }
            else if (_pool.Keys16 != null)
            {
                TensorPrimitives.ConvertToHalf(k, _pool.Keys16[layer].AsSpan(at, _headDim));
                TensorPrimitives.ConvertToHalf(v, _pool.Values16![layer].AsSpan(at, _headDim));
            }
            else
            {
                Quantize(k, _pool.Keys8![layer].AsSpan(at, _headDim), ref _pool.KeyScales![layer][at / _headDim]);
                Quantize(v, _pool.Values8![layer].AsSpan(at, _headDim), ref _pool.ValueScales![layer][at / _headDim]);
            }
        }
    }

    /// <summary>One head's values as int8 codes of its largest magnitude / 127 (rounded to nearest).</summary>
    static void Quantize(ReadOnlySpan<float> head, Span<sbyte> codes, ref float scale)
    {
        float max = MathF.Abs(TensorPrimitives.MaxMagnitude(head));
        float inverse = max > 0 ? 127f / max : 0f;
        scale = max / 127f;
        for (int i = 0; i < head.Length; i++) codes[i] = (sbyte)MathF.Round(head[i] * inverse);
    }

    /// <summary>How many positions from <paramref name="position"/> (at most <paramref name="left"/>) lie together in its block.</summary>
    int Run(int position, int left) => Math.Min(left, _blockPositions - position % _blockPositions);

    // Positions whose keys (or values) of one head fill 16 KiB: a chunk of them stays in L1 while every
    // query head of the group reads it (64 positions of a 64-float head), where a head at a time
    // streamed the whole span from L2 once per query head. Kept a multiple of 8, the score kernel's step.
    int ChunkPositions => Math.Max(8, (16 << 10) / (_headDim * sizeof(float)) / 8 * 8);

    /// <summary>
    /// Widens a layer's fp16 or int8 keys and values at positions <paramref name="from"/>..<paramref name="to"/>
    /// (every key/value head) to floats once, for the tiles of a prompt that all read them
    /// (<see cref="Attend"/>); without it each tile widens every chunk it reads. Nothing for fp32.
    /// </summary>
    internal void WidenSpan(int layer, int from, int to)
    {
        if (_pool.Keys32 != null || to < from) return;
        int n = to - from + 1;
        if (_wideKeys == null || _wideKeys.Length < n * _kvDim)
        {
            _wideKeys = new float[n * _kvDim];
            _wideValues = new float[n * _kvDim];
        }
        for (int offset = 0; offset < _kvDim; offset += _headDim)
        {
            WidenInto(layer, from, offset, keys: true, _wideKeys.AsSpan(offset * n, n * _headDim));
            WidenInto(layer, from, offset, keys: false, _wideValues!.AsSpan(offset * n, n * _headDim));
        }
        (_wideLayer, _wideFrom, _wideTo) = (layer, from, to);
    }

    /// <summary>
    /// Runs <paramref name="tile"/>'s queries over positions <paramref name="from"/>..<paramref name="to"/>
    /// of the key/value head <paramref name="offset"/> selects, in chunks cut at the same absolute
    /// positions for every tile (multiples of the chunk size and the cache's block borders): fp32 keys and
    /// values are read in place, fp16 and int8 ones from <see cref="WidenSpan"/>'s floats where it covers
    /// them, else converted a chunk at a time.
    /// </summary>
    internal unsafe void Attend(int layer, int offset, AttentionTile tile, int from, int to)
    {
        int chunk = AttentionTile.ChunkPositions(_headDim);
        for (int position = from, count; position <= to; position += count)
        {
            count = Math.Min(chunk - position % chunk, to - position + 1);
            tile.BeginChunk(position, count);
            if (_pool.Keys32 != null)
            {
                // The chunk's runs of positions within one block each, keys then values.
                for (int at = 0, run; at < count; at += run)
                {
                    run = Run(position + at, count - at);
                    fixed (float* keys = &_pool.Keys32[layer][At(position + at, offset)]) tile.Keys(keys, _headDim, at, run);
                }
                tile.Softmax();
                for (int at = 0, run; at < count; at += run)
                {
                    run = Run(position + at, count - at);
                    fixed (float* values = &_pool.Values32![layer][At(position + at, offset)]) tile.Values(values, _headDim, at, run);
                }
                continue;
            }
            if (layer == _wideLayer && position >= _wideFrom && position + count - 1 <= _wideTo)
            {
                int at = offset * (_wideTo - _wideFrom + 1) + (position - _wideFrom) * _headDim;
                fixed (float* keys = &_wideKeys![at], values = &_wideValues![at])
                {
                    tile.Keys(keys, _headDim, 0, count);
                    tile.Softmax();
                    tile.Values(values, _headDim, 0, count);
                }
                continue;
            }
            // Not widened for the span: this chunk's keys, then its values, through this thread's buffer.
            fixed (float* keys = Widen(layer, position, offset, count, keys: true)) tile.Keys(keys, _headDim, 0, count);
            tile.Softmax();
            fixed (float* values = Widen(layer, position, offset, count, keys: false)) tile.Values(values, _headDim, 0, count);
        }
    }

    /// <summary>
    /// scores[j·span + i] = scale · q_j · key(first + i) for the query heads q_j (consecutive in
    /// <paramref name="queries"/>) that share the key/value head <paramref name="offset"/> selects within a
    /// position. Each score is what one head's own pass would give, bit for bit.
    /// </summary>
    internal void Scores(int layer, int first, int offset, ReadOnlySpan<float> queries, int span, Span<float> scores, float scale)
    {
        int heads = queries.Length / _headDim, chunk = ChunkPositions;
        for (int done = 0, count; done < span; done += count)
        {
            count = Math.Min(chunk, Run(first + done, span - done));
            int start = At(first + done, offset);
            // fp16 and int8 keys widened to floats once per chunk for all the group's heads.
            var widened = _pool.Keys32 == null ? Widen(layer, first + done, offset, count, keys: true) : default;
            for (int j = 0; j < heads; j++)
            {
                var q = queries.Slice(j * _headDim, _headDim);
                var part = scores.Slice(j * span + done, count);
                if (_pool.Keys32 != null) Attention.Scores(q, _pool.Keys32[layer].AsSpan(start), _headDim, part, scale);
                else Attention.Scores(q, widened, _headDim, part, scale);
            }
        }
    }

    /// <summary>
    /// output_j = Σ_i weights[j·span + i] · value(first + i) for the query heads j sharing one key/value
    /// head (outputs consecutive in <paramref name="output"/>), each in one head's own order of operations.
    /// </summary>
    internal void WeightedSum(int layer, int first, int offset, ReadOnlySpan<float> weights, int span, Span<float> output)
    {
        int heads = output.Length / _headDim, chunk = ChunkPositions;
        for (int done = 0, count; done < span; done += count)
        {
            count = Math.Min(chunk, Run(first + done, span - done));
            int start = At(first + done, offset);
            var widened = _pool.Values32 == null ? Widen(layer, first + done, offset, count, keys: false) : default;
            for (int j = 0; j < heads; j++)
            {
                var part = weights.Slice(j * span + done, count);
                var o = output.Slice(j * _headDim, _headDim);
                if (_pool.Values32 != null) Attention.WeightedSum(part, _pool.Values32[layer].AsSpan(start), _headDim, o, accumulate: done > 0);
                else Attention.WeightedSum(part, widened, _headDim, o, accumulate: done > 0);
            }
        }
    }
}
