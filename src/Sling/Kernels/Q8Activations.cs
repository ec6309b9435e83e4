using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Sling.Kernels;

/// <summary>
/// Activation rows quantized for integer dot products (the input format the int4/int8 weight formats
/// declare, like ggml's <c>vec_dot_type</c>): blocks of 32 values, each with its own scale
/// d = max|x| / 127 and codes q = round(x / d) in [−127, 127]. Made once per product and shared by
/// every weight matrix that reads the same input (q/k/v, gate/up). Rows are padded with zero codes to
/// a whole number of blocks.
/// </summary>
internal sealed unsafe class Q8Activations : IParallelJob, IDisposable
{
    private float* _source;
    public const int BlockSize = 32;
    // One table per group size in use (the matrices of one fused product may differ: int4 g128 beside
    // int8 per channel). Filled by PrepareQ8 before the threads start; they only read.
    private readonly List<(int GroupSize, float[] Sums)> _groupSums = [];
    private int _groupSumsValid;
    // Likewise one table of zero · Σq per shared zero point in use (8: Q4_0, 128: Q8_0 and int8) and
    // form: per block, per half block (the K-quants' 16-value groups: 32 for Q6_K, 4 for Q3_K), negated
    // per block as the AVX2 kernels' sums start (32-bit, or 16-bit lanes: the int4 kernels'), or a
    // block's two half sums as 16-bit words (zero 1: the K-quant kernels' half-sum pairs).
    private readonly List<(int Zero, ZeroSumForm Form, NativeArray<int> Sums)> _zeroSums = [];
    private int _zeroSumsValid;

    public Q8Activations(int capacity, int cols)
    {
        Cols = cols;
        Blocks = (cols + BlockSize - 1) / BlockSize;
        Stride = Blocks * BlockSize;
        Codes = new NativeArray<sbyte>(capacity * Stride);
        Wide = new NativeArray<short>(capacity * Stride);
        Scales = new NativeArray<float>(capacity * Blocks);
        ScaledSums = new NativeArray<float>(capacity * Blocks);
        OffsetSums = new NativeArray<int>(capacity * Blocks);
        LaneSums = new NativeArray<int>(capacity * Blocks);
        HalfSums = new NativeArray<int>(capacity * Blocks);
        Lanes = new NativeArray<float>(capacity * Blocks * 8);
    }

    public int Cols { get; }
    public int Blocks { get; }
    /// <summary>Codes per row (a multiple of the block size).</summary>
    public int Stride { get; }
    public int Count { get; private set; }
    /// <summary>Count × Stride codes.</summary>
    public NativeArray<sbyte> Codes { get; }
    /// <summary>The same codes widened to 16 bits (what the int8-weight kernels multiply).</summary>
    public NativeArray<short> Wide { get; }
    /// <summary>Count × Blocks scales d.</summary>
    public NativeArray<float> Scales { get; }
    /// <summary>Count × Blocks values d·Σq: the zero-point term of an asymmetric weight block.</summary>
    public NativeArray<float> ScaledSums { get; }
    /// <summary>
    /// Count × Blocks values 128·Σq: what a block's integer sum gains when the weight codes it
    /// multiplies are offset by 128 to be unsigned (the VNNI kernels' signed and table codes).
    /// </summary>
    public NativeArray<int> OffsetSums { get; }
    /// <summary>
    /// Count × Blocks: a block's Σq split as AVX2's <c>vpmaddubsw</c> splits its products over each 32-bit
    /// lane, the inputs at 4i and 4i+1 in the low 16-bit word and 4i+2, 4i+3 in the high (each at most 16·127).
    /// </summary>
    public NativeArray<int> LaneSums { get; }
    /// <summary>Count × Blocks: the Σq of a block's two 16-input halves as the low and high 16-bit words.</summary>
    public NativeArray<int> HalfSums { get; }
    /// <summary>Each block's scale repeated 8 times, so a kernel loads it as one vector.</summary>
    public NativeArray<float> Lanes { get; }

    /// <summary>Quantizes <paramref name="count"/> rows of <paramref name="source"/> (row length <see cref="Cols"/>), rows spread over <paramref name="pool"/>.</summary>
    public void Quantize(ReadOnlySpan<float> source, int count, ComputePool? pool = null)
    {
        if (source.Length < count * Cols) throw new ArgumentException($"{source.Length} values for {count} rows of {Cols}");
        if (count > Codes.Length / Stride) throw new ArgumentException($"{count} rows for a capacity of {Codes.Length / Stride}");
        Count = count;
        _groupSumsValid = 0;
        _zeroSumsValid = 0;
        fixed (float* s = source)
        {
            _source = s;
            try
            {
                if (pool != null && count > 1 && (long)count * Cols >= 1 << 16) pool.Run(count, this);
                else for (int t = 0; t < count; t++) Execute(t);
            }
            finally
            {
                _source = null;
            }
        }
    }

    public long Bytes => Codes.Length + Wide.Length * 2L + (Scales.Length + ScaledSums.Length + OffsetSums.Length + LaneSums.Length + HalfSums.Length + Lanes.Length + _zeroSums.Sum(z => (long)z.Sums.Length)) * 4L;

    public void Dispose()
    {
        Codes.Dispose();
        Wide.Dispose();
        Scales.Dispose();
        ScaledSums.Dispose();
        OffsetSums.Dispose();
        LaneSums.Dispose();
        HalfSums.Dispose();
        Lanes.Dispose();
        foreach (var (_, _, sums) in _zeroSums) sums.Dispose();
    }

    void IParallelJob.Execute(int row) => Execute(row);

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private void Execute(int t)
    {
        sbyte* codes = Codes.Pointer;
        short* wide = Wide.Pointer;
        float* scales = Scales.Pointer, scaledSums = ScaledSums.Pointer, lanes = Lanes.Pointer;
        int* offsetSums = OffsetSums.Pointer, laneSums = LaneSums.Pointer, halfSums = HalfSums.Pointer;
        {
            float* row = _source + (long)t * Cols;
            float* block = stackalloc float[BlockSize];
            for (int b = 0; b < Blocks; b++)
            {
                int start = b * BlockSize, n = Math.Min(BlockSize, Cols - start);
                float* x = row + start;
                if (n < BlockSize) // the last, partial block: zero-padded
                {
                    new Span<float>(block, BlockSize).Clear();
                    new ReadOnlySpan<float>(x, n).CopyTo(new Span<float>(block, BlockSize));
                    x = block;
                }
                int k = t * Blocks + b;
                float d = QuantizeBlock(x, codes + (long)t * Stride + start, wide + (long)t * Stride + start, out int sum, out laneSums[k], out halfSums[k]);
                scales[k] = d;
                scaledSums[k] = d * sum;
                offsetSums[k] = 128 * sum;
                Vector256.Create(d).Store(lanes + k * 8);
            }
        }
    }

    // d = max|x| / 127 and q = round(x / d), ties to even as llama.cpp's SIMD quantizers round. Inlined
    // into Execute, which is compiled optimized at once: called from there, it ran its unoptimized
    // first tier for the first thousands of blocks (10 µs a 2048-value row instead of 2).
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static float QuantizeBlock(float* x, sbyte* codes, short* wide, out int sum, out int laneSums, out int halfSums)
    {
        var v0 = Vector256.Load(x);
        var v1 = Vector256.Load(x + 8);
        var v2 = Vector256.Load(x + 16);
        var v3 = Vector256.Load(x + 24);
        // max|x| as the largest of the values' bits without the sign: integers order non-negative floats
        // as the floats, and a NaN's bits exceed every other's, so it still comes out NaN (one integer max
        // where the float max, NaN-aware, took eight operations).
        var magnitude = Vector256.Create(0x7FFFFFFF);
        var bits = Vector256.Max(Vector256.Max(v0.AsInt32() & magnitude, v1.AsInt32() & magnitude), Vector256.Max(v2.AsInt32() & magnitude, v3.AsInt32() & magnitude));
        var b4 = Vector128.Max(bits.GetLower(), bits.GetUpper());
        var b2 = Vector128.Max(b4, Vector128.Shuffle(b4, Vector128.Create(2, 3, 0, 1)));
        float amax = BitConverter.Int32BitsToSingle(Math.Max(b2[0], b2[1]));
        float d = amax / 127f;
        var inverse = Vector256.Create(d == 0 ? 0 : 1f / d);
        var q0 = Integers(v0 * inverse);
        var q1 = Integers(v1 * inverse);
        var q2 = Integers(v2 * inverse);
        var q3 = Integers(v3 * inverse);
        // Lane j of these sums holds the inputs at j mod 8: j = 0, 1, 4, 5 go to the low word, 2, 3, 6, 7 to the high.
        var firstHalf = q0 + q1;
        var secondHalf = q2 + q3;
        var all = firstHalf + secondHalf;
        var pairs = all.GetLower() + all.GetUpper();
        laneSums = Words(pairs[0] + pairs[1], pairs[2] + pairs[3]);
        int first = Vector256.Sum(firstHalf), second = Vector256.Sum(secondHalf);
        sum = first + second;
        halfSums = Words(first, second);
        var w0 = Vector256.Narrow(q0, q1);
        var w1 = Vector256.Narrow(q2, q3);
        w0.Store(wide);
        w1.Store(wide + 16);
        Vector256.Narrow(w0, w1).AsSByte().Store(codes);
        return d;
    }

    // Scaled values (within ±127.5 when finite) to integers, ties to even: one vcvtps2dq under the default
    // rounding mode where there is AVX (the same integers as rounding first; no saturation step, which
    // only non-finite values would need: their block's scale is not finite either).
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Integers(Vector256<float> scaled) =>
        System.Runtime.Intrinsics.X86.Avx.IsSupported ? System.Runtime.Intrinsics.X86.Avx.ConvertToVector256Int32(scaled) : Vector256.ConvertToInt32Native(Vector256.Round(scaled));

    /// <summary>
    /// Σ of <see cref="ScaledSums"/> over each group of <paramref name="groupSize"/> inputs, per row
    /// (Count × groups): what a weight group's zero point multiplies. Computed once per group size.
    /// A group size of 16 (half a block, as llama.cpp's 16-value sub-blocks) sums the codes of each half.
    /// </summary>
    public ReadOnlySpan<float> GroupSums(int groupSize)
    {
        if (groupSize != BlockSize / 2 && (groupSize < BlockSize || groupSize % BlockSize != 0) && groupSize < Cols)
            throw new ArgumentException($"group size {groupSize} is neither 16 nor whole blocks of {BlockSize}", nameof(groupSize));
        int perGroup = groupSize >= Cols ? Blocks : groupSize / BlockSize, groups = perGroup > 0 ? Blocks / perGroup : Blocks * 2;
        for (int i = 0; i < _groupSumsValid; i++)
            if (_groupSums[i].GroupSize == groupSize) return _groupSums[i].Sums.AsSpan(0, Count * groups);
        if (_groupSumsValid == _groupSums.Count) _groupSums.Add((groupSize, []));
        var sums = _groupSums[_groupSumsValid].Sums;
        if (sums.Length < Count * groups) sums = new float[Count * groups];
        for (int t = 0; t < Count; t++)
            for (int g = 0; g < groups; g++)
                sums[t * groups + g] = perGroup > 0
                    ? TensorPrimitives.Sum(ScaledSums.AsSpan(t * Blocks + g * perGroup, perGroup))
                    : Scales[t * Blocks + g / 2] * (g % 2 == 0 ? Low(HalfSums[t * Blocks + g / 2]) : High(HalfSums[t * Blocks + g / 2]));
        _groupSums[_groupSumsValid] = (groupSize, sums);
        _groupSumsValid++; // published last: a reader on another thread never sees a half-filled table
        return sums.AsSpan(0, Count * groups);
    }

    /// <summary>
    /// zero · Σq per row and block (Count × Blocks): what a block's integer sum of code·q loses when its
    /// weights share one zero point, taken out in integers before the sum becomes a float (exact, where a
    /// float fold cancels two large terms). Computed once per zero point; 128 is <see cref="OffsetSums"/>.
    /// </summary>
    public int* ZeroSums(int zero) => zero == 128 ? OffsetSums.Pointer : ZeroSums(zero, ZeroSumForm.Blocks);

    /// <summary>zero · Σq per row and half block of 16 inputs (Count × 2·Blocks), as <see cref="ZeroSums(int)"/>.</summary>
    public int* HalfZeroSums(int zero) => ZeroSums(zero, ZeroSumForm.HalfBlocks);

    /// <summary>
    /// −zero · Σq per row and block (Count × Blocks): where the AVX2 kernels start a block's 32-bit sums
    /// so that they end without the shared zero point (one broadcast per block, no step after it).
    /// </summary>
    public int* ZeroStarts(int zero) => ZeroSums(zero, ZeroSumForm.Starts);

    /// <summary>
    /// Per row and block (Count × Blocks), −zero · Σq split over one int's two 16-bit words as AVX2's
    /// <c>vpmaddubsw</c> splits a block's products over each 32-bit lane: the low word over the inputs
    /// at 4i and 4i+1, the high word over 4i+2 and 4i+3. A block's 16-bit sums that start there end at
    /// Σ (code − zero)·q per word, which stays within 16 bits for 4-bit codes (16 products of at most
    /// 15·127), so <c>vpmaddwd</c> widens the exact Σ (code − zero)·q with no step per block for the zero point.
    /// </summary>
    public int* ZeroLaneStarts(int zero) => ZeroSums(zero, ZeroSumForm.LaneStarts);

    /// <summary>
    /// Per row and block (Count × Blocks), the Σq of its two 16-input halves as the low and high 16-bit
    /// words of one int (each at most 16·127 in size): one <c>vpmaddwd</c> of it by a row's two
    /// half-block scale words (times a zero point) gives Σ over both halves of scale · zero · Σq.
    /// Made once per input, before the threads start (as the other tables).
    /// </summary>
    public int* HalfSumPairs() => ZeroSums(1, ZeroSumForm.HalfPairs);

    private enum ZeroSumForm { Blocks, HalfBlocks, Starts, LaneStarts, HalfPairs }

    // Two 16-bit words in one int: what vpmaddwd multiplies as a pair.
    private static int Words(int low, int high) => (low & 0xFFFF) | high << 16;
    private static int Low(int words) => (short)words;
    private static int High(int words) => words >> 16;

    private int* ZeroSums(int zero, ZeroSumForm form)
    {
        for (int i = 0; i < _zeroSumsValid; i++)
            if (_zeroSums[i].Zero == zero && _zeroSums[i].Form == form) return _zeroSums[i].Sums.Pointer;
        if (_zeroSumsValid == _zeroSums.Count) _zeroSums.Add((zero, form, new NativeArray<int>(2 * OffsetSums.Length)));
        var sums = _zeroSums[_zeroSumsValid].Sums;
        int* offset = OffsetSums.Pointer, target = sums.Pointer;
        if (form is ZeroSumForm.Blocks or ZeroSumForm.Starts)
            for (int k = 0; k < Count * Blocks; k++) target[k] = offset[k] / 128 * (form == ZeroSumForm.Starts ? -zero : zero);
        else if (form == ZeroSumForm.HalfBlocks)
            for (int k = 0; k < Count * Blocks; k++)
            {
                target[2 * k] = Low(HalfSums[k]) * zero;
                target[2 * k + 1] = High(HalfSums[k]) * zero;
            }
        else
        {
            // Both word forms: each word of a block's stored sums times the factor, the words kept apart.
            int* words = form == ZeroSumForm.HalfPairs ? HalfSums.Pointer : LaneSums.Pointer;
            int factor = form == ZeroSumForm.HalfPairs ? zero : -zero;
            for (int k = 0; k < Count * Blocks; k++) target[k] = Words(Low(words[k]) * factor, High(words[k]) * factor);
        }
        _zeroSums[_zeroSumsValid] = (zero, form, sums);
        _zeroSumsValid++; // published last, as the group sums
        return target;
    }
}
