using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sling.Kernels;

/// <summary>
/// 8-bit weights with one fp16 scale and one 8-bit zero point per group of inputs (a group of a
/// whole row = per output channel): w = (code − zero) · scale. Codes are unsigned bytes, row-major;
/// symmetric weights store no zero points and their codes offset by 128 (zero = 128).
/// </summary>
public sealed unsafe partial class Int8GroupMatrix : GroupMatrix
{
    public const int SymmetricZero = 128;
    private readonly byte* _codes;
    private readonly byte* _zeros;
    private readonly object? _owner;

    public Int8GroupMatrix(byte* codes, Half* scales, byte* zeros, int rows, int cols, int groupSize, object? owner) : base(scales, rows, cols, groupSize)
    {
        if (groupSize <= 0 || cols % groupSize != 0)
            throw new ArgumentException($"int8 group size {groupSize} does not divide the row length {cols}");
        _codes = codes;
        _zeros = zeros;
        _owner = owner;
    }

    public bool Symmetric => _zeros == null;

    public override string Format => Symmetric ? "int8_sym" : "int8_asym";
    public override long ByteSize => (long)Rows * (Cols + Groups * 2 + (Symmetric ? 0 : Groups));

    internal override byte* RowCodes(int row) => _codes + (long)row * (Cols);

    internal override void ReleaseSource()
    {
        if (_owner is not Formats.IMappedWeights file) return;
        file.Release(_codes, (long)Rows * (Cols));
        file.Release((byte*)_scales, (long)Rows * Groups * sizeof(Half));
        if (_zeros != null) file.Release(_zeros, (long)Rows * (Groups));
    }

    public override int Zero(int row, int group) => _zeros == null ? SymmetricZero : _zeros[(long)row * Groups + group];
    public int Code(int row, int col) => _codes[(long)row * Cols + col];

    public override void MultiplyRows(ReadOnlySpan<float> x, Span<float> y, int rowStart, int rowEnd)
    {
        fixed (float* xp = x)
        {
            var sums = GroupSums.Compute(xp, Cols, GroupSize);
            int groups = Groups;
            for (int r = rowStart; r < rowEnd; r++)
            {
                byte* codes = _codes + (long)r * Cols;
                Half* scales = _scales + (long)r * groups;
                byte* zeros = _zeros == null ? null : _zeros + (long)r * groups;
                float offset = 0;
                var acc = Vector256<float>.Zero;
                float tail = 0;
                for (int g = 0; g < groups; g++)
                {
                    float scale = (float)scales[g];
                    offset += scale * (zeros == null ? SymmetricZero : zeros[g]) * sums[g];
                    var (dot, rest) = CodeDot(codes + g * GroupSize, xp + g * GroupSize, GroupSize, Isa);
                    acc = Vector256.FusedMultiplyAdd(dot, Vector256.Create(scale), acc);
                    tail += scale * rest;
                }
                y[r] = Vector256.Sum(acc) + tail - offset;
            }
        }
    }

    // Σ code·x as a vector (whole runs of 8, or 16 with AVX-512) plus a scalar for the remainder.
    private static (Vector256<float> Dot, float Remainder) CodeDot(byte* codes, float* x, int n, KernelIsa isa)
    {
        int i = 0;
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        if (isa == KernelIsa.Avx512 && n >= 16)
        {
            var wide = Vector512<float>.Zero;
            for (; i <= n - 16; i += 16)
                wide = Vector512.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Sse2.LoadVector128(codes + i))), Vector512.Load(x + i), wide);
            acc0 = wide.GetLower() + wide.GetUpper();
        }
        if (isa >= KernelIsa.Avx2)
        {
            for (; i <= n - 16; i += 16)
            {
                acc0 = Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(codes + i)), Vector256.Load(x + i), acc0);
                acc1 = Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(codes + i + 8)), Vector256.Load(x + i + 8), acc1);
            }
            for (; i <= n - 8; i += 8)
                acc0 = Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(codes + i)), Vector256.Load(x + i), acc0);
        }
        float rest = 0;
        for (; i < n; i++) rest += codes[i] * x[i];
        return (acc0 + acc1, rest);
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
        return new Int8GroupMatrix(_codes + (long)start * Cols, _scales + (long)start * Groups,
            _zeros == null ? null : _zeros + (long)start * Groups, count, Cols, GroupSize, _owner) { Isa = Isa };
    }
}
