using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sling.Kernels;

/// <summary>
/// Attention of up to 16 query vectors that share one key/value head (a group's heads, for one or
/// several consecutive positions of a sequence) over chunks of cached positions, with the softmax
/// taken online as the chunks go by (flash attention). Scores are a small matrix product: the queries
/// are held transposed, one query per vector lane, so each key value is broadcast once for all 16
/// and no horizontal sum is needed; the weighted values run 4 queries × 64 outputs in registers per
/// pass over the chunk. Each query carries the positions it may see (causal, or a sliding window);
/// keys outside them score −∞. A query's lane is computed alone — masked keys add exact zeros and
/// leave its running maximum untouched — so its result is the same bits in any tile and any tile
/// position, and chunks are cut at the same absolute positions for every tile. Without 512-bit
/// vectors (AVX2) the 16 lanes are two 256-bit halves, each lane computed as in the 512-bit kernels.
/// </summary>
internal sealed unsafe class AttentionTile
{
    public const int Lanes = 16;
    private const int MaxChunk = 128, MaxHeadDim = 256;
    private readonly float* _qt, _p, _o, _max, _sum, _corr;
    private readonly int* _first, _last;
    private int _headDim, _count;
    private float _scale;
    // The chunk under way: its first position, its length, its scores' lane-wise maximum so far, and
    // whether its first run of values has rescaled what was summed before it.
    private int _chunkPosition, _chunkCount;
    private Vector512<float> _chunkMax;
    private Vector256<float> _chunkMaxLow, _chunkMaxHigh; // the same, as two halves (AVX2)
    private bool _rescaled;

    [ThreadStatic] private static AttentionTile? _perThread;

    /// <summary>This thread's tile (made once per thread: its buffers live as long as the thread).</summary>
    public static AttentionTile ForThread() => _perThread ??= new AttentionTile();

    /// <summary>True when head size <paramref name="headDim"/> runs here: whole 16-float vectors, at most 256 floats, on 512-bit or AVX2 vectors.</summary>
    public static bool Supported(int headDim) => (Wide || Vector256.IsHardwareAccelerated && Fma.IsSupported) && headDim % 16 == 0 && headDim is > 0 and <= MaxHeadDim;

    /// <summary>Whether the 16 lanes are one 512-bit vector (else two 256-bit halves).</summary>
    private static bool Wide => Vector512.IsHardwareAccelerated;

    // The buffers: pinned arrays this object keeps alive, each used from its first 64-byte boundary.
    private readonly List<float[]> _arrays = [];

    private AttentionTile()
    {
        _qt = F(MaxHeadDim * Lanes);
        _p = F(MaxChunk * Lanes);
        _o = F(Lanes * MaxHeadDim);
        _max = F(Lanes);
        _sum = F(Lanes);
        _corr = F(Lanes);
        _first = (int*)F(Lanes);
        _last = (int*)F(Lanes);
    }

    private float* F(int n)
    {
        var array = GC.AllocateArray<float>(n + 16, pinned: true);
        _arrays.Add(array);
        nint at = (nint)Unsafe.AsPointer(ref array[0]);
        return (float*)((at + 63) & ~(nint)63);
    }

    /// <summary>Positions per chunk for heads of <paramref name="headDim"/> floats: 16 KiB of keys, a multiple of 8.</summary>
    public static int ChunkPositions(int headDim) => Math.Clamp((16 << 10) / (headDim * sizeof(float)) / 8 * 8, 8, MaxChunk);

    /// <summary>Starts a tile of heads of <paramref name="headDim"/> floats; scores are scale · q · k.</summary>
    public void Begin(int headDim, float scale)
    {
        if (!Supported(headDim)) throw new ArgumentException($"head size {headDim}: whole 16-float vectors up to {MaxHeadDim}");
        _headDim = headDim;
        _scale = scale;
        _count = 0;
        new Span<float>(_qt, headDim * Lanes).Clear();
        new Span<float>(_o, Lanes * headDim).Clear();
        new Span<float>(_sum, Lanes).Clear();
        new Span<float>(_max, Lanes).Fill(float.NegativeInfinity);
        new Span<int>(_first, Lanes).Fill(int.MaxValue);
        new Span<int>(_last, Lanes).Fill(-1);
    }

    /// <summary>Adds a query that sees the positions first..last (inclusive); returns its lane.</summary>
    public int Add(ReadOnlySpan<float> query, int first, int last)
    {
        if (_count == Lanes) throw new InvalidOperationException($"a tile holds {Lanes} queries");
        if (query.Length != _headDim) throw new ArgumentException($"a query of {query.Length} floats in a tile of {_headDim}-float heads");
        int j = _count++;
        for (int d = 0; d < _headDim; d++) _qt[d * Lanes + j] = query[d];
        _first[j] = first;
        _last[j] = last;
        return j;
    }

    /// <summary>
    /// Starts a chunk of <paramref name="count"/> consecutive positions from <paramref name="position"/>;
    /// its keys come in one or more runs (<see cref="Keys"/>), then <see cref="Softmax"/>, then its
    /// values in the same runs (<see cref="Values"/>). A chunk's result does not depend on how it is cut
    /// into runs (a paged cache's blocks).
    /// </summary>
    public void BeginChunk(int position, int count)
    {
        if (count is < 1 or > MaxChunk) throw new ArgumentOutOfRangeException(nameof(count), $"a chunk of {count} positions (1..{MaxChunk})");
        _chunkPosition = position;
        _chunkCount = count;
        if (Wide) _chunkMax = Vector512.Create(float.NegativeInfinity);
        else _chunkMaxLow = _chunkMaxHigh = Vector256.Create(float.NegativeInfinity);
    }

    /// <summary>The keys of the chunk's positions at..at + count − 1: key i at keys + i·stride (floats).</summary>
    public void Keys(float* keys, int stride, int at, int count)
    {
        if (at < 0 || count < 1 || at + count > _chunkCount) throw new ArgumentOutOfRangeException(nameof(count), $"positions {at}..{at + count - 1} of a chunk of {_chunkCount}");
        if (Wide) _chunkMax = Vector512.Max(_chunkMax, Scores(keys, stride, at, count));
        else Scores256(keys, stride, at, count);
    }

    /// <summary>The chunk's scores become weights: the running maximum moves, what was summed so far is rescaled.</summary>
    public void Softmax()
    {
        if (!Wide)
        {
            Softmax256(0, _chunkMaxLow);
            Softmax256(8, _chunkMaxHigh);
            _rescaled = false;
            return;
        }
        // A lane that has seen no key yet keeps −∞ and subtracts 0 instead (its weights stay exactly 0).
        var negative = Vector512.Create(float.NegativeInfinity);
        var old = Vector512.Load(_max);
        var max = Vector512.Max(old, _chunkMax);
        var shift = Vector512.ConditionalSelect(Vector512.Equals(max, negative), Vector512<float>.Zero, max);
        var corr = VectorExp.Exp(old - shift);
        var sum = Vector512<float>.Zero;
        for (int k = 0; k < _chunkCount; k++)
        {
            var p = VectorExp.Exp(Vector512.Load(_p + k * Lanes) - shift);
            p.Store(_p + k * Lanes);
            sum += p;
        }
        (Vector512.Load(_sum) * corr + sum).Store(_sum);
        max.Store(_max);
        corr.Store(_corr);
        _rescaled = false;
    }

    /// <summary>The values of the chunk's positions at..at + count − 1, in the runs the keys came in.</summary>
    public void Values(float* values, int stride, int at, int count)
    {
        if (at < 0 || count < 1 || at + count > _chunkCount) throw new ArgumentOutOfRangeException(nameof(count), $"positions {at}..{at + count - 1} of a chunk of {_chunkCount}");
        // The first run rescales what was summed before the chunk; later runs multiply by exactly 1.
        float* corr = _rescaled ? null : _corr;
        if (Wide) WeightedValues(values, stride, _p + at * Lanes, count, corr);
        else WeightedValues256(values, stride, _p + at * Lanes, count, corr);
        _rescaled = true;
    }

    // Scaled, masked scores of the chunk into _p (position-major, 16 lanes each); their lane-wise maximum.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private Vector512<float> Scores(float* keys, int stride, int at, int count)
    {
        int position = _chunkPosition + at;
        float* qt = _qt;
        int dim = _headDim;
        var scale = Vector512.Create(_scale);
        var first = Vector512.Load(_first);
        var last = Vector512.Load(_last);
        var negative = Vector512.Create(float.NegativeInfinity);
        var chunkMax = negative;
        int k = 0;
        // Eight keys at a time: eight independent chains hide the multiply-adds' latency.
        for (; k + 8 <= count; k += 8)
        {
            float* k0 = keys + (long)k * stride, k1 = k0 + stride, k2 = k1 + stride, k3 = k2 + stride;
            float* k4 = k3 + stride, k5 = k4 + stride, k6 = k5 + stride, k7 = k6 + stride;
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
            for (int d = 0; d < dim; d++)
            {
                var q = Vector512.Load(qt + d * Lanes);
                a0 = Vector512.FusedMultiplyAdd(q, Vector512.Create(k0[d]), a0);
                a1 = Vector512.FusedMultiplyAdd(q, Vector512.Create(k1[d]), a1);
                a2 = Vector512.FusedMultiplyAdd(q, Vector512.Create(k2[d]), a2);
                a3 = Vector512.FusedMultiplyAdd(q, Vector512.Create(k3[d]), a3);
                a4 = Vector512.FusedMultiplyAdd(q, Vector512.Create(k4[d]), a4);
                a5 = Vector512.FusedMultiplyAdd(q, Vector512.Create(k5[d]), a5);
                a6 = Vector512.FusedMultiplyAdd(q, Vector512.Create(k6[d]), a6);
                a7 = Vector512.FusedMultiplyAdd(q, Vector512.Create(k7[d]), a7);
            }
            chunkMax = Vector512.Max(chunkMax, Masked(a0 * scale, position + k, first, last, at + k));
            chunkMax = Vector512.Max(chunkMax, Masked(a1 * scale, position + k + 1, first, last, at + k + 1));
            chunkMax = Vector512.Max(chunkMax, Masked(a2 * scale, position + k + 2, first, last, at + k + 2));
            chunkMax = Vector512.Max(chunkMax, Masked(a3 * scale, position + k + 3, first, last, at + k + 3));
            chunkMax = Vector512.Max(chunkMax, Masked(a4 * scale, position + k + 4, first, last, at + k + 4));
            chunkMax = Vector512.Max(chunkMax, Masked(a5 * scale, position + k + 5, first, last, at + k + 5));
            chunkMax = Vector512.Max(chunkMax, Masked(a6 * scale, position + k + 6, first, last, at + k + 6));
            chunkMax = Vector512.Max(chunkMax, Masked(a7 * scale, position + k + 7, first, last, at + k + 7));
        }
        for (; k < count; k++)
        {
            float* key = keys + (long)k * stride;
            Vector512<float> a = default;
            for (int d = 0; d < dim; d++) a = Vector512.FusedMultiplyAdd(Vector512.Load(qt + d * Lanes), Vector512.Create(key[d]), a);
            chunkMax = Vector512.Max(chunkMax, Masked(a * scale, position + k, first, last, at + k));
        }
        return chunkMax;
    }

    // A key's scores with −∞ in the lanes whose queries may not see its position; stored at row k.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Vector512<float> Masked(Vector512<float> score, int position, Vector512<int> first, Vector512<int> last, int k)
    {
        var at = Vector512.Create(position);
        var seen = Vector512.GreaterThanOrEqual(at, first) & Vector512.LessThanOrEqual(at, last);
        var s = Vector512.ConditionalSelect(seen.AsSingle(), score, Vector512.Create(float.NegativeInfinity));
        s.Store(_p + k * Lanes);
        return s;
    }

    // o_j ← o_j · corr_j + Σ_k p_kj · value_k (corr null: 1), 4 queries at a time, 64 outputs (or 16) per pass.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WeightedValues(float* values, int stride, float* weights, int count, float* corr)
    {
        int dim = _headDim, queries = (_count + 3) & ~3;
        for (int j = 0; j < queries; j += 4)
        {
            float* p = weights + j;
            float c0 = 1, c1 = 1, c2 = 1, c3 = 1;
            if (corr != null) (c0, c1, c2, c3) = (corr[j], corr[j + 1], corr[j + 2], corr[j + 3]);
            int v = 0;
            for (; v + 64 <= dim; v += 64) Pass4(values + v, stride, count, p, _o + j * dim + v, dim, c0, c1, c2, c3);
            for (; v < dim; v += 16) Pass1(values + v, stride, count, p, _o + j * dim + v, dim, c0, c1, c2, c3);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Pass4(float* values, int stride, int count, float* p, float* o, int dim, float c0, float c1, float c2, float c3)
    {
        float* o1 = o + dim, o2 = o1 + dim, o3 = o2 + dim;
        Load4(o, c0, out var x0, out var x1, out var x2, out var x3);
        Load4(o1, c1, out var y0, out var y1, out var y2, out var y3);
        Load4(o2, c2, out var z0, out var z1, out var z2, out var z3);
        Load4(o3, c3, out var w0, out var w1, out var w2, out var w3);
        for (int k = 0; k < count; k++, values += stride, p += Lanes)
        {
            var v0 = Vector512.Load(values); var v1 = Vector512.Load(values + 16);
            var v2 = Vector512.Load(values + 32); var v3 = Vector512.Load(values + 48);
            Add4(p[0], v0, v1, v2, v3, ref x0, ref x1, ref x2, ref x3);
            Add4(p[1], v0, v1, v2, v3, ref y0, ref y1, ref y2, ref y3);
            Add4(p[2], v0, v1, v2, v3, ref z0, ref z1, ref z2, ref z3);
            Add4(p[3], v0, v1, v2, v3, ref w0, ref w1, ref w2, ref w3);
        }
        Store4(o, x0, x1, x2, x3);
        Store4(o1, y0, y1, y2, y3);
        Store4(o2, z0, z1, z2, z3);
        Store4(o3, w0, w1, w2, w3);
    }

    // One query's 64 outputs: loaded times its rescaling factor, one weighted value added, stored.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Load4(float* o, float c, out Vector512<float> a0, out Vector512<float> a1, out Vector512<float> a2, out Vector512<float> a3)
    {
        a0 = Vector512.Load(o) * c;
        a1 = Vector512.Load(o + 16) * c;
        a2 = Vector512.Load(o + 32) * c;
        a3 = Vector512.Load(o + 48) * c;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Add4(float weight, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3,
        ref Vector512<float> a0, ref Vector512<float> a1, ref Vector512<float> a2, ref Vector512<float> a3)
    {
        var p = Vector512.Create(weight);
        a0 = Vector512.FusedMultiplyAdd(p, v0, a0);
        a1 = Vector512.FusedMultiplyAdd(p, v1, a1);
        a2 = Vector512.FusedMultiplyAdd(p, v2, a2);
        a3 = Vector512.FusedMultiplyAdd(p, v3, a3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store4(float* o, Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, Vector512<float> a3)
    {
        a0.Store(o);
        a1.Store(o + 16);
        a2.Store(o + 32);
        a3.Store(o + 48);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Pass1(float* values, int stride, int count, float* p, float* o, int dim, float c0, float c1, float c2, float c3)
    {
        float* o1 = o + dim, o2 = o1 + dim, o3 = o2 + dim;
        Vector512<float> x = Vector512.Load(o) * c0, y = Vector512.Load(o1) * c1, z = Vector512.Load(o2) * c2, w = Vector512.Load(o3) * c3;
        for (int k = 0; k < count; k++, values += stride, p += Lanes)
        {
            var v = Vector512.Load(values);
            x = Vector512.FusedMultiplyAdd(Vector512.Create(p[0]), v, x);
            y = Vector512.FusedMultiplyAdd(Vector512.Create(p[1]), v, y);
            z = Vector512.FusedMultiplyAdd(Vector512.Create(p[2]), v, z);
            w = Vector512.FusedMultiplyAdd(Vector512.Create(p[3]), v, w);
        }
        x.Store(o); y.Store(o1); z.Store(o2); w.Store(o3);
    }

    // AVX2: the 16 lanes as two 8-lane halves (lanes 0–7 at +0, 8–15 at +8 of every 16-float row),
    // each lane's operations the 512-bit kernels' in the same order.

    // Scores256: Scores for both halves, four keys at a time (8 sums, 2 query halves: the registers hold them).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Scores256(float* keys, int stride, int at, int count)
    {
        int position = _chunkPosition + at;
        float* qt = _qt;
        int dim = _headDim;
        var low = _chunkMaxLow;
        var high = _chunkMaxHigh;
        var bounds = new LaneBounds(_first, _last);
        int k = 0;
        for (; k + 4 <= count; k += 4)
        {
            float* k0 = keys + (long)k * stride, k1 = k0 + stride, k2 = k1 + stride, k3 = k2 + stride;
            Vector256<float> a0 = default, b0 = default, a1 = default, b1 = default, a2 = default, b2 = default, a3 = default, b3 = default;
            for (int d = 0; d < dim; d++)
            {
                var qLow = Vector256.Load(qt + d * Lanes);
                var qHigh = Vector256.Load(qt + d * Lanes + 8);
                var x = Vector256.Create(k0[d]);
                a0 = Vector256.FusedMultiplyAdd(qLow, x, a0);
                b0 = Vector256.FusedMultiplyAdd(qHigh, x, b0);
                x = Vector256.Create(k1[d]);
                a1 = Vector256.FusedMultiplyAdd(qLow, x, a1);
                b1 = Vector256.FusedMultiplyAdd(qHigh, x, b1);
                x = Vector256.Create(k2[d]);
                a2 = Vector256.FusedMultiplyAdd(qLow, x, a2);
                b2 = Vector256.FusedMultiplyAdd(qHigh, x, b2);
                x = Vector256.Create(k3[d]);
                a3 = Vector256.FusedMultiplyAdd(qLow, x, a3);
                b3 = Vector256.FusedMultiplyAdd(qHigh, x, b3);
            }
            Masked256(a0, b0, position + k, at + k, bounds, ref low, ref high);
            Masked256(a1, b1, position + k + 1, at + k + 1, bounds, ref low, ref high);
            Masked256(a2, b2, position + k + 2, at + k + 2, bounds, ref low, ref high);
            Masked256(a3, b3, position + k + 3, at + k + 3, bounds, ref low, ref high);
        }
        for (; k < count; k++)
        {
            float* key = keys + (long)k * stride;
            Vector256<float> a = default, b = default;
            for (int d = 0; d < dim; d++)
            {
                var x = Vector256.Create(key[d]);
                a = Vector256.FusedMultiplyAdd(Vector256.Load(qt + d * Lanes), x, a);
                b = Vector256.FusedMultiplyAdd(Vector256.Load(qt + d * Lanes + 8), x, b);
            }
            Masked256(a, b, position + k, at + k, bounds, ref low, ref high);
        }
        _chunkMaxLow = low;
        _chunkMaxHigh = high;
    }

    // The positions each lane's query sees, first..last, loaded once per run of keys (two halves).
    private readonly struct LaneBounds(int* first, int* last)
    {
        public readonly Vector256<int> FirstLow = Vector256.Load(first), FirstHigh = Vector256.Load(first + 8);
        public readonly Vector256<int> LastLow = Vector256.Load(last), LastHigh = Vector256.Load(last + 8);
    }

    // One key's scaled scores, −∞ where a lane's query may not see its position, stored at row k; into the halves' maxima.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Masked256(Vector256<float> low, Vector256<float> high, int position, int k, in LaneBounds bounds, ref Vector256<float> maxLow, ref Vector256<float> maxHigh)
    {
        var scale = Vector256.Create(_scale);
        var at = Vector256.Create(position);
        var negative = Vector256.Create(float.NegativeInfinity);
        var seenLow = Vector256.GreaterThanOrEqual(at, bounds.FirstLow) & Vector256.LessThanOrEqual(at, bounds.LastLow);
        var seenHigh = Vector256.GreaterThanOrEqual(at, bounds.FirstHigh) & Vector256.LessThanOrEqual(at, bounds.LastHigh);
        var sLow = Vector256.ConditionalSelect(seenLow.AsSingle(), low * scale, negative);
        var sHigh = Vector256.ConditionalSelect(seenHigh.AsSingle(), high * scale, negative);
        sLow.Store(_p + k * Lanes);
        sHigh.Store(_p + k * Lanes + 8);
        maxLow = Vector256.Max(maxLow, sLow);
        maxHigh = Vector256.Max(maxHigh, sHigh);
    }

    // Softmax for the 8 lanes from lane: as Softmax, for one half.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Softmax256(int lane, Vector256<float> chunkMax)
    {
        var negative = Vector256.Create(float.NegativeInfinity);
        var old = Vector256.Load(_max + lane);
        var max = Vector256.Max(old, chunkMax);
        var shift = Vector256.ConditionalSelect(Vector256.Equals(max, negative), Vector256<float>.Zero, max);
        var corr = VectorExp.Exp(old - shift);
        var sum = Vector256<float>.Zero;
        for (int k = 0; k < _chunkCount; k++)
        {
            var p = VectorExp.Exp(Vector256.Load(_p + k * Lanes + lane) - shift);
            p.Store(_p + k * Lanes + lane);
            sum += p;
        }
        (Vector256.Load(_sum + lane) * corr + sum).Store(_sum + lane);
        max.Store(_max + lane);
        corr.Store(_corr + lane);
    }

    // WeightedValues on AVX2: 4 queries × 16 outputs in registers per pass over the chunk.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WeightedValues256(float* values, int stride, float* weights, int count, float* corr)
    {
        int dim = _headDim, queries = (_count + 3) & ~3;
        for (int j = 0; j < queries; j += 4)
        {
            float c0 = 1, c1 = 1, c2 = 1, c3 = 1;
            if (corr != null) (c0, c1, c2, c3) = (corr[j], corr[j + 1], corr[j + 2], corr[j + 3]);
            for (int v = 0; v < dim; v += 16) Pass256(values + v, stride, count, weights + j, _o + j * dim + v, dim, c0, c1, c2, c3);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Pass256(float* values, int stride, int count, float* p, float* o, int dim, float c0, float c1, float c2, float c3)
    {
        float* o1 = o + dim, o2 = o1 + dim, o3 = o2 + dim;
        Vector256<float> x0 = Vector256.Load(o) * c0, x1 = Vector256.Load(o + 8) * c0;
        Vector256<float> y0 = Vector256.Load(o1) * c1, y1 = Vector256.Load(o1 + 8) * c1;
        Vector256<float> z0 = Vector256.Load(o2) * c2, z1 = Vector256.Load(o2 + 8) * c2;
        Vector256<float> w0 = Vector256.Load(o3) * c3, w1 = Vector256.Load(o3 + 8) * c3;
        for (int k = 0; k < count; k++, values += stride, p += Lanes)
        {
            var v0 = Vector256.Load(values);
            var v1 = Vector256.Load(values + 8);
            var weight = Vector256.Create(p[0]);
            x0 = Vector256.FusedMultiplyAdd(weight, v0, x0);
            x1 = Vector256.FusedMultiplyAdd(weight, v1, x1);
            weight = Vector256.Create(p[1]);
            y0 = Vector256.FusedMultiplyAdd(weight, v0, y0);
            y1 = Vector256.FusedMultiplyAdd(weight, v1, y1);
            weight = Vector256.Create(p[2]);
            z0 = Vector256.FusedMultiplyAdd(weight, v0, z0);
            z1 = Vector256.FusedMultiplyAdd(weight, v1, z1);
            weight = Vector256.Create(p[3]);
            w0 = Vector256.FusedMultiplyAdd(weight, v0, w0);
            w1 = Vector256.FusedMultiplyAdd(weight, v1, w1);
        }
        x0.Store(o); x1.Store(o + 8);
        y0.Store(o1); y1.Store(o1 + 8);
        z0.Store(o2); z1.Store(o2 + 8);
        w0.Store(o3); w1.Store(o3 + 8);
    }

    /// <summary>Query <paramref name="lane"/>'s attention output: its weighted values over its softmax's sum.</summary>
    public void Output(int lane, Span<float> output)
    {
        if ((uint)lane >= (uint)_count) throw new ArgumentOutOfRangeException(nameof(lane));
        if (output.Length != _headDim) throw new ArgumentException($"an output of {output.Length} floats for {_headDim}-float heads");
        System.Numerics.Tensors.TensorPrimitives.Divide(new ReadOnlySpan<float>(_o + lane * _headDim, _headDim), _sum[lane], output);
    }
}
