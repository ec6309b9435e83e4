using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sling.Kernels;

/// <summary>
/// Weights in blocks of 16 values, each value s·(c − z) − o with an 8-bit code c, a float scale s,
/// an integer zero z and a float offset o per block: every block format of llama.cpp (Q4_1, Q5_x,
/// the K-quants with their 16- or 32-value sub-blocks and 6-bit scales, IQ4's non-uniform levels)
/// maps onto it exactly, one byte per code instead of float32. The integer product multiplies the
/// codes with int8 activation blocks: Σ value·a = s·Σ c·q − (s·z + o)·Σ q, per block.
/// </summary>
internal sealed unsafe class AffineBlockMatrix : WeightMatrix
{
    public const int Block = 16;

    readonly byte[] _codes;
    readonly float[] _scales, _offsets, _combined; // per block: s, o, and s·z + o for the integer product
    readonly byte[] _zeros;
    readonly int _rowStart; // a view's first row in the arrays (SliceRows)
    readonly string _format;
    // Codes below 16 (Q4_x, Q2_K–Q5_K's low types) are packed two per byte: per 32 values, byte j holds
    // value j (low nibble, first block) and value j + 16 (high nibble, second block).
    readonly bool _packed;

    /// <summary>Takes one code per value; packs them two per byte when every code fits in 4 bits.</summary>
    public AffineBlockMatrix(byte[] codes, float[] scales, byte[] zeros, float[] offsets, int rows, int cols, string format)
        : this(Pack(codes, out bool packed), scales, zeros, offsets, Combine(scales, zeros, offsets), rows, cols, 0, format, packed)
    {
    }

    AffineBlockMatrix(byte[] codes, float[] scales, byte[] zeros, float[] offsets, float[] combined, int rows, int cols, int rowStart, string format, bool packed) : base(rows, cols)
    {
        if (cols % Q8Activations.BlockSize != 0) throw new ArgumentException($"{cols} columns are not whole blocks of {Q8Activations.BlockSize}", nameof(cols));
        _packed = packed;
        _codes = codes;
        _scales = scales;
        _zeros = zeros;
        _offsets = offsets;
        _combined = combined;
        _rowStart = rowStart;
        _format = format;
        IsInt4PerBlockOf32 = packed && PairsShareParameters(scales, zeros, combined, rowStart * BlocksPerRow, rows * BlocksPerRow);
    }

    /// <summary>
    /// True when the codes are 4-bit, without zero point, and each 32 values share one scale and one
    /// offset (Q4_K's and Q4_1's blocks): the interleaved int4 layout then computes s·c − o exactly as
    /// here (<see cref="RowBlockMatrix"/>). (A zero point would move a rounding: (c − z)·s ≠ c·s − z·s.)
    /// </summary>
    public bool IsInt4PerBlockOf32 { get; }

    static bool PairsShareParameters(float[] scales, byte[] zeros, float[] combined, int start, int count)
    {
        for (int b = start; b < start + count; b += 2)
            if (zeros[b] != 0 || zeros[b + 1] != 0 || scales[b] != scales[b + 1] || combined[b] != combined[b + 1]) return false;
        return true;
    }

    /// <summary>This matrix as the input of a repack into the interleaved int4 layout (needs <see cref="IsInt4PerBlockOf32"/>).</summary>
    internal RepackSource AsRepackSource() => new Int4Source(this);

    /// <summary>
    /// This matrix as the input of a repack into the interleaved int8 layout: signed codes c − z (exact
    /// integers, so s·(c − z) − o is what ggml decodes), float scale and offset per 32 values where both
    /// 16-value halves share them (Q5_K, IQ4, Q5_x), else per 16 values (Q6_K, Q3_K, Q2_K).
    /// </summary>
    internal RepackSource AsInt8RepackSource() => new Int8Source(this);

    /// <summary>What both repacks read from this matrix: its rows, the pinned code bytes, one scale and offset per group.</summary>
    abstract class AffineSource : RepackSource
    {
        private protected readonly AffineBlockMatrix M;
        readonly int _perGroup; // 16-value blocks per group
        System.Runtime.InteropServices.GCHandle _pin;

        private protected AffineSource(AffineBlockMatrix m, object codes, int perGroup)
        {
            M = m;
            _perGroup = perGroup;
            _pin = System.Runtime.InteropServices.GCHandle.Alloc(codes, System.Runtime.InteropServices.GCHandleType.Pinned);
        }

        private protected byte* Pinned => (byte*)_pin.AddrOfPinnedObject();
        public override int Rows => M.Rows;
        public override int Cols => M.Cols;
        public override int GroupSize => Block * _perGroup;
        public override bool Symmetric => true;
        public override int SymmetricZero => 0;
        public override Half Scale(int row, int group) => throw new NotSupportedException();
        public override int Zero(int row, int group) => 0;
        public override bool Affine => true;
        private protected long Index(int row, int group) => (long)(M._rowStart + row) * M.BlocksPerRow + _perGroup * group;
        public override float AffineScale(int row, int group) => M._scales[Index(row, group)];
        public override string Format => M._format;
        public override AffineBlockMatrix.SuperBlockFactors? Factors => M.Factors;
        public override int FactorRowStart => M._rowStart;
        public override void Release()
        {
            if (_pin.IsAllocated) _pin.Free();
        }
    }

    /// <summary>Signed codes c − z, one byte each, in a copy; the offset o per group.</summary>
    sealed class Int8Source(AffineBlockMatrix m) : AffineSource(m, CodesMinusZeros(m), GroupBlocks(m))
    {
        public override byte* RowCodes(int row) => Pinned + (long)row * M.Cols;
        public override int BlockStride => Q8Activations.BlockSize;
        public override bool SignedCodes => true;
        public override float AffineOffset(int row, int group) => M._offsets[Index(row, group)];

        public override (int Min, int Max)? SignedCodeRange
        {
            get
            {
                var codes = new ReadOnlySpan<sbyte>(Pinned, M.Rows * M.Cols);
                return (System.Numerics.Tensors.TensorPrimitives.Min(codes), System.Numerics.Tensors.TensorPrimitives.Max(codes));
            }
        }

        static int GroupBlocks(AffineBlockMatrix m)
        {
            if (m.Factors is { } f) return f.GroupSize / Block;
            int perRow = m.BlocksPerRow;
            for (long b = (long)m._rowStart * perRow, end = b + (long)m.Rows * perRow; b < end; b += 2)
                if (m._scales[b] != m._scales[b + 1] || m._offsets[b] != m._offsets[b + 1]) return 1;
            return 2;
        }

        static sbyte[] CodesMinusZeros(AffineBlockMatrix m)
        {
            var target = GC.AllocateUninitializedArray<sbyte>(m.Rows * m.Cols, pinned: true);
            int perRow = m.BlocksPerRow;
            fixed (byte* codes = m._codes)
            {
                byte* source = codes;
                System.Threading.Tasks.Parallel.For(0, m.Rows, r =>
                {
                    byte* w = source + (long)(m._rowStart + r) * m.RowBytes;
                    long block = (long)(m._rowStart + r) * perRow;
                    for (int c = 0; c < m.Cols; c++) target[(long)r * m.Cols + c] = (sbyte)(Code(w, c, m._packed) - m._zeros[block + c / Block]);
                });
            }
            return target;
        }
    }

    /// <summary>Packed 4-bit codes (byte j of 32 values: codes j and j + 16, the layout Q4_0 stores), per 32 values s and s·z + o.</summary>
    sealed class Int4Source(AffineBlockMatrix m) : AffineSource(m, m._codes, 2)
    {
        public override byte* RowCodes(int row) => Pinned + (long)(M._rowStart + row) * M.RowBytes;
        public override int BlockStride => Q8Activations.BlockSize / 2;
        public override float AffineOffset(int row, int group) => M._combined[Index(row, group)];
    }

    static byte[] Pack(byte[] codes, out bool packed)
    {
        packed = codes.Length % 32 == 0 && System.Numerics.Tensors.TensorPrimitives.Max<byte>(codes) < 16;
        if (!packed) return codes;
        var result = new byte[codes.Length / 2];
        for (int b = 0; b < codes.Length / 32; b++)
            for (int j = 0; j < 16; j++) result[b * 16 + j] = (byte)(codes[b * 32 + j] | codes[b * 32 + 16 + j] << 4);
        return result;
    }

    /// <summary>Bytes of codes per row.</summary>
    int RowBytes => _packed ? Cols / 2 : Cols;

    static int Code(byte* w, int c, bool packed) => !packed ? w[c] : (c & 31) < 16 ? w[c / 32 * 16 + (c & 15)] & 0x0F : w[c / 32 * 16 + (c & 15)] >> 4;

    static float[] Combine(float[] s, byte[] z, float[] o)
    {
        var c = new float[s.Length];
        for (int i = 0; i < c.Length; i++) c[i] = s[i] * z[i] + o[i];
        return c;
    }

    /// <summary>
    /// A K-quant matrix's scales as the file factors them: per row and 256-value super-block a float
    /// (d, and dmin when there are offsets), per group of <paramref name="GroupSize"/> values a byte
    /// (Q4_K: 6-bit scale and min per 32, value = d·sc·q − dmin·m; Q6_K: signed scale per 16, value =
    /// d·sc·(q − 32)). The interleaved layout then keeps the file's size: 4.75 bits per weight for Q4_K.
    /// </summary>
    internal sealed record SuperBlockFactors(float[] D, float[]? DMin, byte[] Scale, byte[]? Min, int GroupSize, bool SignedScale)
    {
        public const int SuperBlock = 256;
        public int GroupsPerSuperBlock => SuperBlock / GroupSize;
    }

    /// <summary>The factored scales, when the file had them (Q4_K, Q6_K); null otherwise.</summary>
    internal SuperBlockFactors? Factors { get; init; }

    /// <summary>The first row of this matrix (a view) in <see cref="Factors"/>' arrays.</summary>
    internal int FactorRowStart => _rowStart;

    /// <summary>Forces the portable loop (tests check it against the vector paths).</summary>
    internal bool ForceScalar { get; set; }


    int BlocksPerRow => Cols / Block;

    public override string Format => _format;

    public override long ByteSize => (long)Rows * RowBytes + (long)Rows * BlocksPerRow * (sizeof(float) * 2 + 1);

    public override long FirstNonFiniteRow()
    {
        int per = BlocksPerRow;
        for (long b = (long)_rowStart * per, end = b + (long)Rows * per; b < end; b++)
            if (!float.IsFinite(_scales[b]) || !float.IsFinite(_offsets[b]) || !float.IsFinite(_combined[b])) return b / per - _rowStart;
        return -1;
    }

    public override void ReadRow(int row, Span<float> destination)
    {
        long block = (long)(_rowStart + row) * BlocksPerRow;
        fixed (byte* codes = _codes)
        {
            byte* w = codes + (long)(_rowStart + row) * RowBytes;
            for (int c = 0; c < Cols; c++)
            {
                long b = block + c / Block;
                destination[c] = (Code(w, c, _packed) - _zeros[b]) * _scales[b] - _offsets[b];
            }
        }
    }

    public override void MultiplyRows(ReadOnlySpan<float> x, Span<float> y, int rowStart, int rowEnd) => MultiplyDecodedRows(x, y, rowStart, rowEnd);

    internal override void MultiplyRows(ReadOnlySpan<float> x, int count, Span<float> y, int ldy, int rowStart, int rowEnd)
        => MultiplyDecodedRows(x, count, y, ldy, rowStart, rowEnd);

    public override WeightMatrix SliceRows(int start, int count)
    {
        if (start < 0 || count <= 0 || start + count > Rows) throw new ArgumentOutOfRangeException(nameof(start));
        return new AffineBlockMatrix(_codes, _scales, _zeros, _offsets, _combined, count, Cols, _rowStart + start, _format, _packed) { Factors = Factors };
    }

    internal override bool TakesQ8 => true;

    internal override void MultiplyRows(Q8Activations input, Span<float> y, int ldy, int rowStart, int rowEnd)
    {
        int n = input.Count, blocks = BlocksPerRow, stride = input.Stride;
        // Per activation row and 16-value block: d·Σq (the offsets' term), shared by every weight row.
        var sums = Scratch.Get(n * blocks); // this thread's buffer: a new array per product allocated on every token
        fixed (short* wide = input.Wide)
        fixed (float* d = input.Scales)
        {
            for (int t = 0; t < n; t++)
                for (int k = 0; k < blocks; k++)
                {
                    short* q = wide + (long)t * stride + k * Block;
                    int s = 0;
                    for (int j = 0; j < Block; j++) s += q[j];
                    sums[t * blocks + k] = s * d[t * input.Blocks + k / 2];
                }
            bool vector = Avx2.IsSupported && !ForceScalar;
            float* dots = stackalloc float[4];
            fixed (byte* codes = _codes)
            fixed (float* scales = _scales)
                for (int r = rowStart; r < rowEnd; r++)
                {
                    byte* w = codes + (long)(_rowStart + r) * RowBytes;
                    float* s = scales + (long)(_rowStart + r) * blocks;
                    var combined = new ReadOnlySpan<float>(_combined, (_rowStart + r) * blocks, blocks);
                    int t = 0;
                    // Four activation rows share each load of the weight codes (prompts, batches).
                    if (vector)
                        for (; t + 4 <= n; t += 4)
                        {
                            Dot4Avx2(w, s, wide + (long)t * stride, stride, d + t * input.Blocks, input.Blocks, blocks, dots, _packed);
                            for (int k = 0; k < 4; k++)
                                y[(t + k) * ldy + r] = dots[k] - TensorPrimitives.Dot(combined, new ReadOnlySpan<float>(sums, (t + k) * blocks, blocks));
                        }
                    for (; t < n; t++)
                    {
                        short* q = wide + (long)t * stride;
                        float* dt = d + t * input.Blocks;
                        float dot = vector ? DotAvx2(w, s, q, dt, blocks, _packed) : DotScalar(w, s, q, dt, blocks, _packed);
                        y[t * ldy + r] = dot - TensorPrimitives.Dot(combined, new ReadOnlySpan<float>(sums, t * blocks, blocks));
                    }
                }
        }
    }

    /// <summary>Σ_k s_k · d_(k/2) · Σ_j c·q over the row's 16-value blocks.</summary>
    static float DotScalar(byte* w, float* s, short* q, float* d, int blocks, bool packed)
    {
        float total = 0;
        for (int k = 0; k < blocks; k++)
        {
            int dot = 0;
            for (int j = 0; j < Block; j++) dot += Code(w, k * Block + j, packed) * q[k * Block + j];
            total += dot * (s[k] * d[k / 2]);
        }
        return total;
    }

    // Four activation rows per load of the codes, with each row's operations in exactly the order the
    // one-row kernels use, so a batch computes bit for bit what tokens one at a time compute.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Dot4Avx2(byte* w, float* s, short* q, int stride, float* d, int dStride, int blocks, float* dots, bool packed)
    {
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        for (int k = 0; k < blocks; k += 2)
        {
            var (first, second) = Codes(w, k, packed);
            int o = k * Block, b = k / 2;
            acc0 = Step(first, second, q + o, s[k] * d[b], s[k + 1] * d[b], acc0);
            acc1 = Step(first, second, q + stride + o, s[k] * d[dStride + b], s[k + 1] * d[dStride + b], acc1);
            acc2 = Step(first, second, q + 2 * stride + o, s[k] * d[2 * dStride + b], s[k + 1] * d[2 * dStride + b], acc2);
            acc3 = Step(first, second, q + 3 * stride + o, s[k] * d[3 * dStride + b], s[k + 1] * d[3 * dStride + b], acc3);
        }
        dots[0] = Vector256.Sum(acc0);
        dots[1] = Vector256.Sum(acc1);
        dots[2] = Vector256.Sum(acc2);
        dots[3] = Vector256.Sum(acc3);
    }

    /// <summary>Blocks k and k + 1 of a row's codes, widened to 16 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (Vector256<short> First, Vector256<short> Second) Codes(byte* w, int k, bool packed)
    {
        if (!packed)
            return (Avx2.ConvertToVector256Int16(Vector128.Load(w + k * Block)), Avx2.ConvertToVector256Int16(Vector128.Load(w + (k + 1) * Block)));
        var bytes = Vector128.Load(w + k * 8);
        var low = Vector128.Create((byte)0x0F);
        return (Avx2.ConvertToVector256Int16(bytes & low), Avx2.ConvertToVector256Int16(Vector128.ShiftRightLogical(bytes.AsUInt16(), 4).AsByte() & low));
    }

    /// <summary>Two 16-value blocks of one activation row: acc += (Σ c·q) · scale, block by block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Step(Vector256<short> first, Vector256<short> second, short* q, float scale0, float scale1, Vector256<float> acc)
    {
        acc = Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(first, Vector256.Load(q))), Vector256.Create(scale0), acc);
        return Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(second, Vector256.Load(q + Block))), Vector256.Create(scale1), acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float DotAvx2(byte* w, float* s, short* q, float* d, int blocks, bool packed)
    {
        var acc = Vector256<float>.Zero;
        for (int k = 0; k < blocks; k += 2)
        {
            var (first, second) = Codes(w, k, packed);
            float dk = d[k / 2];
            acc = Step(first, second, q + k * Block, s[k] * dk, s[k + 1] * dk, acc);
        }
        return Vector256.Sum(acc);
    }
}
