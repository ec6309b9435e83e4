using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sling.Kernels;

/// <summary>
/// 4-bit weights with one fp16 scale and one 4-bit zero point per group of inputs:
/// w = (code − zero) · scale. Layout (row-major, chosen for the SIMD kernel):
/// <list type="bullet">
/// <item>codes: Cols/2 bytes per row, in blocks of 32 inputs = 16 bytes; byte j of a block holds input j
/// in its low nibble and input j+16 in its high nibble, so one mask and one shift give two runs of 16
/// consecutive codes;</item>
/// <item>scales: Cols/GroupSize fp16 per row;</item>
/// <item>zero points: two groups per byte (even group in the low nibble), (groups+1)/2 bytes per row,
/// or none for symmetric weights, whose codes are stored offset by 8 (zero = 8).</item>
/// </list>
/// The dot product is scale · (Σ code·x − zero · Σ x) per group, with Σ x computed once per call.
/// </summary>
public sealed unsafe partial class Int4GroupMatrix : GroupMatrix
{
    public const int BlockSize = 32;
    public const int SymmetricZero = 8;
    private readonly byte* _codes;
    private readonly byte* _zeros;
    private readonly object? _owner;

    public Int4GroupMatrix(byte* codes, Half* scales, byte* zeros, int rows, int cols, int groupSize, object? owner) : base(scales, rows, cols, groupSize)
    {
        if (groupSize <= 0 || groupSize % BlockSize != 0 || cols % groupSize != 0)
            throw new ArgumentException($"int4 group size {groupSize} must be a multiple of {BlockSize} that divides the row length {cols}");
        _codes = codes;
        _zeros = zeros;
        _owner = owner;
    }

    public bool Symmetric => _zeros == null;
    public static int CodeBytesPerRow(int cols) => cols / 2;
    public static int ZeroBytesPerRow(int groups) => (groups + 1) / 2;

    public override string Format => Symmetric ? "int4_sym" : "int4_asym";
    public override long ByteSize => (long)Rows * (Cols / 2 + Groups * 2 + (Symmetric ? 0 : ZeroBytesPerRow(Groups)));

    internal override byte* RowCodes(int row) => _codes + (long)row * (Cols / 2);

    internal override void ReleaseSource()
    {
        if (_owner is not Formats.IMappedWeights file) return;
        file.Release(_codes, (long)Rows * (Cols / 2));
        file.Release((byte*)_scales, (long)Rows * Groups * sizeof(Half));
        if (_zeros != null) file.Release(_zeros, (long)Rows * (ZeroBytesPerRow(Groups)));
    }

    public override int Zero(int row, int group)
    {
        if (_zeros == null) return SymmetricZero;
        byte b = _zeros[(long)row * ZeroBytesPerRow(Groups) + group / 2];
        return group % 2 == 0 ? b & 0xF : b >> 4;
    }

    public int Code(int row, int col)
    {
        byte b = _codes[(long)row * (Cols / 2) + col / BlockSize * 16 + col % 16];
        return col % BlockSize < 16 ? b & 0xF : b >> 4;
    }


    public override void MultiplyRows(ReadOnlySpan<float> x, Span<float> y, int rowStart, int rowEnd)
    {
        fixed (float* xp = x)
        {
            var sums = GroupSums.Compute(xp, Cols, GroupSize);
            int groups = Groups, zeroBytes = ZeroBytesPerRow(groups);
            for (int r = rowStart; r < rowEnd; r++)
            {
                byte* codes = _codes + (long)r * (Cols / 2);
                Half* scales = _scales + (long)r * groups;
                byte* zeros = _zeros == null ? null : _zeros + (long)r * zeroBytes;
                y[r] = Isa switch
                {
                    KernelIsa.Avx512 => RowDotAvx512(codes, scales, zeros, xp, sums),
                    KernelIsa.Avx2 => RowDotAvx2(codes, scales, zeros, xp, sums),
                    _ => RowDotScalar(codes, scales, zeros, xp, sums),
                };
            }
        }
    }

    private static int ZeroOf(byte* zeros, int g) => zeros == null ? SymmetricZero : g % 2 == 0 ? zeros[g / 2] & 0xF : zeros[g / 2] >> 4;

    // One vector accumulator per row: each group's Σ code·x is scaled into it; the zero-point term
    // scale · zero · Σx is a scalar. One horizontal sum per row instead of one per group.
    private float RowDotAvx2(byte* codes, Half* scales, byte* zeros, float* x, Span<float> sums)
    {
        var acc = Vector256<float>.Zero;
        var mask = Vector128.Create((byte)0xF);
        float offset = 0;
        for (int g = 0; g < sums.Length; g++)
        {
            float scale = (float)scales[g];
            offset += scale * ZeroOf(zeros, g) * sums[g];
            var dot = Vector256<float>.Zero;
            int start = g * GroupSize;
            for (int b = start; b < start + GroupSize; b += BlockSize)
            {
                var packed = Sse2.LoadVector128(codes + b / 2);
                dot = Fma(packed & mask, x + b, dot);
                dot = Fma(Sse2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & mask, x + b + 16, dot);
            }
            acc = Vector256.FusedMultiplyAdd(dot, Vector256.Create(scale), acc);
        }
        return Vector256.Sum(acc) - offset;
    }

    // The same arithmetic 16 lanes wide: each run of 16 codes is one widen, one convert, one FMA.
    private float RowDotAvx512(byte* codes, Half* scales, byte* zeros, float* x, Span<float> sums)
    {
        var acc = Vector512<float>.Zero;
        var mask = Vector128.Create((byte)0xF);
        float offset = 0;
        for (int g = 0; g < sums.Length; g++)
        {
            float scale = (float)scales[g];
            offset += scale * ZeroOf(zeros, g) * sums[g];
            var dot = Vector512<float>.Zero;
            int start = g * GroupSize;
            for (int b = start; b < start + GroupSize; b += BlockSize)
            {
                var packed = Sse2.LoadVector128(codes + b / 2);
                var low = Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(packed & mask));
                var high = Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Sse2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & mask));
                dot = Vector512.FusedMultiplyAdd(low, Vector512.Load(x + b), dot);
                dot = Vector512.FusedMultiplyAdd(high, Vector512.Load(x + b + 16), dot);
            }
            acc = Vector512.FusedMultiplyAdd(dot, Vector512.Create(scale), acc);
        }
        return Vector512.Sum(acc) - offset;
    }

    private float RowDotScalar(byte* codes, Half* scales, byte* zeros, float* x, Span<float> sums)
    {
        float total = 0;
        for (int g = 0; g < sums.Length; g++)
        {
            float dot = 0;
            for (int b = g * GroupSize; b < (g + 1) * GroupSize; b += BlockSize)
                for (int j = 0; j < 16; j++)
                {
                    byte v = codes[b / 2 + j];
                    dot += (v & 0xF) * x[b + j] + (v >> 4) * x[b + j + 16];
                }
            total += (float)scales[g] * (dot - ZeroOf(zeros, g) * sums[g]);
        }
        return total;
    }

    private static Vector256<float> Fma(Vector128<byte> sixteenCodes, float* x, Vector256<float> acc)
    {
        var first = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(sixteenCodes));
        var second = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(Sse2.ShiftRightLogical128BitLane(sixteenCodes, 8)));
        acc = Vector256.FusedMultiplyAdd(first, Vector256.Load(x), acc);
        return Vector256.FusedMultiplyAdd(second, Vector256.Load(x + 8), acc);
    }

    public override void ReadRow(int row, Span<float> destination)
    {
        for (int c = 0; c < Cols; c++)
        {
            int g = c / GroupSize;
            destination[c] = (Code(row, c) - Zero(row, g)) * Scale(row, g);
        }
    }

    public override WeightMatrix SliceRows(int start, int count)
    {
        CheckSlice(start, count);
        return new Int4GroupMatrix(_codes + (long)start * (Cols / 2), _scales + (long)start * Groups,
            _zeros == null ? null : _zeros + (long)start * ZeroBytesPerRow(Groups), count, Cols, GroupSize, _owner) { Isa = Isa };
    }
}
