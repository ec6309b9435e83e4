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

    public AffineBlockMatrix(byte[] codes, float[] scales, byte[] zeros, float[] offsets, int rows, int cols, string format)
        : this(codes, scales, zeros, offsets, Combine(scales, zeros, offsets), rows, cols, 0, format)
    {
    }

    AffineBlockMatrix(byte[] codes, float[] scales, byte[] zeros, float[] offsets, float[] combined, int rows, int cols, int rowStart, string format) : base(rows, cols)
    {
        if (cols % Q8Activations.BlockSize != 0) throw new ArgumentException($"{cols} columns are not whole blocks of {Q8Activations.BlockSize}", nameof(cols));
        _codes = codes;
        _scales = scales;
        _zeros = zeros;
        _offsets = offsets;
        _combined = combined;
        _rowStart = rowStart;
        _format = format;
    }

    static float[] Combine(float[] s, byte[] z, float[] o)
    {
        var c = new float[s.Length];
        for (int i = 0; i < c.Length; i++) c[i] = s[i] * z[i] + o[i];
        return c;
    }

    /// <summary>Forces the portable loop (tests check it against the vector path).</summary>
    internal bool ForceScalar { get; set; }

    int BlocksPerRow => Cols / Block;

    public override string Format => _format;

    public override long ByteSize => (long)Rows * Cols + (long)Rows * BlocksPerRow * (sizeof(float) * 2 + 1);

    public override long FirstNonFiniteRow()
    {
        int per = BlocksPerRow;
        for (long b = (long)_rowStart * per, end = b + (long)Rows * per; b < end; b++)
            if (!float.IsFinite(_scales[b]) || !float.IsFinite(_offsets[b]) || !float.IsFinite(_combined[b])) return b / per - _rowStart;
        return -1;
    }

    public override void ReadRow(int row, Span<float> destination)
    {
        long at = (long)(_rowStart + row) * Cols, block = (long)(_rowStart + row) * BlocksPerRow;
        for (int c = 0; c < Cols; c++)
        {
            long b = block + c / Block;
            destination[c] = (_codes[at + c] - _zeros[b]) * _scales[b] - _offsets[b];
        }
    }

    public override void MultiplyRows(ReadOnlySpan<float> x, Span<float> y, int rowStart, int rowEnd) => MultiplyDecodedRows(x, y, rowStart, rowEnd);

    public override WeightMatrix SliceRows(int start, int count)
    {
        if (start < 0 || count <= 0 || start + count > Rows) throw new ArgumentOutOfRangeException(nameof(start));
        return new AffineBlockMatrix(_codes, _scales, _zeros, _offsets, _combined, count, Cols, _rowStart + start, _format);
    }

    internal override bool TakesQ8 => true;

    internal override void MultiplyRows(Q8Activations input, Span<float> y, int ldy, int rowStart, int rowEnd)
    {
        int n = input.Count, blocks = BlocksPerRow, stride = input.Stride;
        // Per activation row and 16-value block: d·Σq (the offsets' term), shared by every weight row.
        var sums = new float[n * blocks];
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
            fixed (byte* codes = _codes)
            fixed (float* scales = _scales)
                for (int r = rowStart; r < rowEnd; r++)
                {
                    byte* w = codes + (long)(_rowStart + r) * Cols;
                    float* s = scales + (long)(_rowStart + r) * blocks;
                    var combined = new ReadOnlySpan<float>(_combined, (_rowStart + r) * blocks, blocks);
                    for (int t = 0; t < n; t++)
                    {
                        short* q = wide + (long)t * stride;
                        float* dt = d + t * input.Blocks;
                        float dot = vector ? DotAvx2(w, s, q, dt, blocks) : DotScalar(w, s, q, dt, blocks);
                        y[t * ldy + r] = dot - TensorPrimitives.Dot(combined, new ReadOnlySpan<float>(sums, t * blocks, blocks));
                    }
                }
        }
    }

    /// <summary>Σ_k s_k · d_(k/2) · Σ_j c·q over the row's 16-value blocks.</summary>
    static float DotScalar(byte* w, float* s, short* q, float* d, int blocks)
    {
        float total = 0;
        for (int k = 0; k < blocks; k++)
        {
            int dot = 0;
            for (int j = 0; j < Block; j++) dot += w[k * Block + j] * q[k * Block + j];
            total += dot * (s[k] * d[k / 2]);
        }
        return total;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float DotAvx2(byte* w, float* s, short* q, float* d, int blocks)
    {
        var acc = Vector256<float>.Zero;
        for (int k = 0; k < blocks; k++)
        {
            var codes = Avx2.ConvertToVector256Int16(Vector128.Load(w + k * Block));
            var products = Avx2.MultiplyAddAdjacent(codes, Vector256.Load(q + k * Block));
            acc = Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(products), Vector256.Create(s[k] * d[k / 2]), acc);
        }
        return Vector256.Sum(acc);
    }
}
