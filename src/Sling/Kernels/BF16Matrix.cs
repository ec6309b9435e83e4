using System.Runtime.Intrinsics;

namespace Sling.Kernels;

/// <summary>
/// bfloat16 weights read in place. A bfloat16 is the top half of an fp32, so widening is a 16-bit
/// shift; the dot product widens and multiplies in the same SIMD loop.
/// </summary>
public sealed unsafe class BF16Matrix : WeightMatrix
{
    private readonly ushort* _data;
    private readonly object? _owner;

    public BF16Matrix(ushort* data, int rows, int cols, object? owner) : base(rows, cols)
    {
        _data = data;
        _owner = owner;
    }

    public override string Format => "bf16";
    public override long ByteSize => (long)Rows * Cols * sizeof(ushort);

    public static float ToSingle(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    public override void MultiplyRows(ReadOnlySpan<float> x, Span<float> y, int rowStart, int rowEnd)
    {
        fixed (float* xp = x)
        {
            for (int r = rowStart; r < rowEnd; r++)
                y[r] = Dot(_data + (long)r * Cols, xp, Cols);
        }
    }

    private static float Dot(ushort* w, float* x, int n)
    {
        int i = 0;
        float sum = 0;
        if (Vector256.IsHardwareAccelerated && n >= 16)
        {
            var acc0 = Vector256<float>.Zero;
            var acc1 = Vector256<float>.Zero;
            for (; i <= n - 16; i += 16)
            {
                var (lo, hi) = Vector256.Widen(Vector256.Load(w + i));
                acc0 = Vector256.FusedMultiplyAdd(Vector256.ShiftLeft(lo, 16).AsSingle(), Vector256.Load(x + i), acc0);
                acc1 = Vector256.FusedMultiplyAdd(Vector256.ShiftLeft(hi, 16).AsSingle(), Vector256.Load(x + i + 8), acc1);
            }
            sum = Vector256.Sum(acc0 + acc1);
        }
        for (; i < n; i++) sum += ToSingle(w[i]) * x[i];
        return sum;
    }

    public override void ReadRow(int row, Span<float> destination)
    {
        ushort* src = _data + (long)row * Cols;
        for (int i = 0; i < Cols; i++) destination[i] = ToSingle(src[i]);
    }

    public override WeightMatrix SliceRows(int start, int count)
    {
        CheckSlice(start, count);
        return new BF16Matrix(_data + (long)start * Cols, count, Cols, _owner);
    }
}
