using System.Runtime.Intrinsics;

namespace Sling.Kernels;

/// <summary>
/// IEEE half-precision weights read in place, widened to fp32 inside the SIMD dot product, so the
/// model never holds an fp32 copy of its weights.
/// </summary>
public sealed unsafe class F16Matrix : WeightMatrix
{
    private readonly Half* _data;
    private readonly object? _owner;

    public F16Matrix(Half* data, int rows, int cols, object? owner) : base(rows, cols)
    {
        _data = data;
        _owner = owner;
    }

    public override string Format => "f16";
    public override long ByteSize => (long)Rows * Cols * sizeof(Half);

    public override void MultiplyRows(ReadOnlySpan<float> x, Span<float> y, int rowStart, int rowEnd)
    {
        fixed (float* xp = x)
        {
            for (int r = rowStart; r < rowEnd; r++)
                y[r] = Dot((ushort*)(_data + (long)r * Cols), xp, Cols);
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
                acc0 = Vector256.FusedMultiplyAdd(HalfConversion.Widen(lo), Vector256.Load(x + i), acc0);
                acc1 = Vector256.FusedMultiplyAdd(HalfConversion.Widen(hi), Vector256.Load(x + i + 8), acc1);
            }
            sum = Vector256.Sum(acc0 + acc1);
        }
        for (; i < n; i++) sum += (float)BitConverter.UInt16BitsToHalf(w[i]) * x[i];
        return sum;
    }

    public override void ReadRow(int row, Span<float> destination)
        => System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(_data + (long)row * Cols, Cols), destination[..Cols]);

    public override WeightMatrix SliceRows(int start, int count)
    {
        CheckSlice(start, count);
        return new F16Matrix(_data + (long)start * Cols, count, Cols, _owner);
    }
}
