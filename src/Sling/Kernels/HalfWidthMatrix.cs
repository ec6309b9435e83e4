using System.Runtime.Intrinsics;

namespace Sling.Kernels;

/// <summary>How a 16-bit float format widens to fp32, one element or eight at a time (an operator struct, in the style of TensorPrimitives).</summary>
internal interface IHalfWidthFormat
{
    static abstract string Name { get; }
    static abstract float ToSingle(ushort bits);
    /// <summary>Index of the first NaN/Inf value in raw bits, or −1.</summary>
    static abstract long FindNonFinite(ReadOnlySpan<ushort> bits);
    /// <summary>Eight values from their bits sign-extended to 32 bits.</summary>
    static abstract Vector256<float> Widen(Vector256<int> bits);
}

/// <summary>IEEE half precision: exponent re-biased by <see cref="HalfConversion"/>.</summary>
internal readonly struct Fp16Format : IHalfWidthFormat
{
    public static string Name => "f16";
    public static float ToSingle(ushort bits) => (float)BitConverter.UInt16BitsToHalf(bits);
    public static long FindNonFinite(ReadOnlySpan<ushort> bits) => NonFinite.FindHalf(bits);
    public static Vector256<float> Widen(Vector256<int> bits) => HalfConversion.Widen(bits);
}

/// <summary>bfloat16: the top half of an fp32, so widening is a 16-bit shift.</summary>
internal readonly struct Bf16Format : IHalfWidthFormat
{
    public static string Name => "bf16";
    public static float ToSingle(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);
    public static Vector256<float> Widen(Vector256<int> bits) => Vector256.ShiftLeft(bits, 16).AsSingle();
    public static long FindNonFinite(ReadOnlySpan<ushort> bits) => NonFinite.FindBFloat16(bits);
}

/// <summary>
/// 16-bit float weights read in place, widened to fp32 inside the SIMD dot product, so the model never
/// holds an fp32 copy of its weights. One implementation for every 16-bit format.
/// </summary>
internal unsafe class HalfWidthMatrix<TFormat> : WeightMatrix where TFormat : struct, IHalfWidthFormat
{
    private readonly ushort* _data;
    private readonly object? _owner;

    public HalfWidthMatrix(ushort* data, int rows, int cols, object? owner) : base(rows, cols)
    {
        _data = data;
        _owner = owner;
    }

    public override string Format => TFormat.Name;
    public override long ByteSize => (long)Rows * Cols * sizeof(ushort);

    public override long FirstNonFiniteRow() => FirstFlaggedRow(_data, (long)Rows * Cols, Cols, TFormat.FindNonFinite);

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
                var (lo, hi) = Vector256.Widen(Vector256.Load((short*)w + i));
                acc0 = Vector256.FusedMultiplyAdd(TFormat.Widen(lo), Vector256.Load(x + i), acc0);
                acc1 = Vector256.FusedMultiplyAdd(TFormat.Widen(hi), Vector256.Load(x + i + 8), acc1);
            }
            sum = Vector256.Sum(acc0 + acc1);
        }
        for (; i < n; i++) sum += TFormat.ToSingle(w[i]) * x[i];
        return sum;
    }

    public override void ReadRow(int row, Span<float> destination)
    {
        ushort* src = _data + (long)row * Cols;
        int i = 0;
        fixed (float* d = destination)
            if (Vector256.IsHardwareAccelerated)
                for (; i <= Cols - 8; i += 8)
                    TFormat.Widen(Vector256.WidenLower(Vector128.Load((short*)src + i).ToVector256Unsafe())).Store(d + i);
        for (; i < Cols; i++) destination[i] = TFormat.ToSingle(src[i]);
    }

    public override WeightMatrix SliceRows(int start, int count)
    {
        CheckSlice(start, count);
        return new HalfWidthMatrix<TFormat>(_data + (long)start * Cols, count, Cols, _owner);
    }
}

/// <summary>IEEE half-precision weights read in place.</summary>
internal sealed unsafe class F16Matrix(Half* data, int rows, int cols, object? owner) : HalfWidthMatrix<Fp16Format>((ushort*)data, rows, cols, owner);

/// <summary>bfloat16 weights read in place.</summary>
internal sealed unsafe class BF16Matrix(ushort* data, int rows, int cols, object? owner) : HalfWidthMatrix<Bf16Format>(data, rows, cols, owner)
{
    public static float ToSingle(ushort bits) => Bf16Format.ToSingle(bits);
}
