using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sling.Kernels;

/// <summary>
/// Symmetric int8 weights with one fp32 scale per group of <see cref="GroupSize"/> consecutive inputs
/// (llama2.c's "Q8_0" export: w ≈ code · scale). Codes and scales are read in place.
/// </summary>
internal sealed unsafe class Q8GroupMatrix : WeightMatrix
{
    private readonly sbyte* _codes;
    private readonly float* _scales;
    private readonly object? _owner;

    public Q8GroupMatrix(sbyte* codes, float* scales, int rows, int cols, int groupSize, object? owner) : base(rows, cols)
    {
        if (groupSize <= 0 || cols % groupSize != 0)
            throw new ArgumentException($"group size {groupSize} does not divide the row length {cols}");
        _codes = codes;
        _scales = scales;
        _owner = owner;
        GroupSize = groupSize;
    }

    public int GroupSize { get; }
    public override string Format => "q8_0";
    public override long FirstNonFiniteRow()
    {
        int groups = Cols / GroupSize;
        long at = NonFinite.Find(new ReadOnlySpan<float>(_scales, checked(Rows * groups)));
        return at < 0 ? -1 : at / groups;
    }

    public override long ByteSize => (long)Rows * Cols + (long)Rows * Cols / GroupSize * sizeof(float);

    public override void MultiplyRows(ReadOnlySpan<float> x, Span<float> y, int rowStart, int rowEnd)
    {
        int groups = Cols / GroupSize;
        fixed (float* xp = x)
        {
            for (int r = rowStart; r < rowEnd; r++)
            {
                sbyte* q = _codes + (long)r * Cols;
                float* s = _scales + (long)r * groups;
                float sum = 0;
                for (int g = 0; g < groups; g++)
                    sum += s[g] * GroupDot(q + g * GroupSize, xp + g * GroupSize, GroupSize);
                y[r] = sum;
            }
        }
    }

    private static float GroupDot(sbyte* q, float* x, int n)
    {
        int i = 0;
        float sum = 0;
        if (Avx2.IsSupported && n >= 8)
        {
            var acc = Vector256<float>.Zero;
            for (; i <= n - 8; i += 8)
            {
                var codes = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(q + i));
                acc = Vector256.FusedMultiplyAdd(codes, Vector256.Load(x + i), acc);
            }
            sum = Vector256.Sum(acc);
        }
        for (; i < n; i++) sum += q[i] * x[i];
        return sum;
    }

    public override void ReadRow(int row, Span<float> destination)
    {
        int groups = Cols / GroupSize;
        sbyte* q = _codes + (long)row * Cols;
        float* s = _scales + (long)row * groups;
        for (int i = 0; i < Cols; i++) destination[i] = q[i] * s[i / GroupSize];
    }

    public override WeightMatrix SliceRows(int start, int count)
    {
        CheckSlice(start, count);
        int groups = Cols / GroupSize;
        return new Q8GroupMatrix(_codes + (long)start * Cols, _scales + (long)start * groups, count, Cols, GroupSize, _owner);
    }
}
