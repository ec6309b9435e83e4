using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Sling.Kernels;

/// <summary>How a cache element type loads as floats, eight at a time (an operator struct).</summary>
internal interface IKvElement<T> where T : unmanaged
{
    static abstract Vector256<float> Load8(ref T at);
    static abstract float ToSingle(T value);
}

internal readonly struct Fp32Element : IKvElement<float>
{
    public static Vector256<float> Load8(ref float at) => Vector256.LoadUnsafe(ref at);
    public static float ToSingle(float value) => value;
}

internal readonly struct Fp16Element : IKvElement<Half>
{
    public static Vector256<float> Load8(ref Half at) =>
        HalfConversion.Widen(Vector256.WidenLower(Vector128.LoadUnsafe(ref Unsafe.As<Half, ushort>(ref at)).ToVector256Unsafe()));
    public static float ToSingle(Half value) => (float)value;
}

/// <summary>
/// The two halves of one head's attention over cached positions: the query stays in cache while each
/// key costs a few multiply-adds and one horizontal sum, and each 8-wide slice of the output stays in
/// a register while every position's value is added into it. Head sizes that are not whole 8-float
/// vectors take a plain loop.
/// </summary>
internal static class Attention
{
    /// <summary>scores[i] = scale · q · key_i, where key i starts at keys[i · stride].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Scores<T, TElement>(ReadOnlySpan<float> q, ReadOnlySpan<T> keys, int stride, Span<float> scores, float scale)
        where T : unmanaged where TElement : struct, IKvElement<T>
    {
        int dim = q.Length;
        if ((long)(scores.Length - 1) * stride + dim > keys.Length) throw new ArgumentException("keys end before the last position");
        ref float qr = ref MemoryMarshal.GetReference(q);
        ref T kr = ref MemoryMarshal.GetReference(keys);
        for (int i = 0; i < scores.Length; i++)
        {
            ref T key = ref Unsafe.Add(ref kr, (nint)((long)i * stride));
            float sum = 0;
            int c = 0;
            if (Vector256.IsHardwareAccelerated && dim >= 8)
            {
                var acc = Vector256<float>.Zero;
                for (; c <= dim - 8; c += 8)
                    acc = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref qr, (nuint)c), TElement.Load8(ref Unsafe.Add(ref key, c)), acc);
                sum = Vector256.Sum(acc);
            }
            for (; c < dim; c++) sum += Unsafe.Add(ref qr, c) * TElement.ToSingle(Unsafe.Add(ref key, c));
            scores[i] = sum * scale;
        }
    }

    /// <summary>output = Σ_i weights[i] · value_i, where value i starts at values[i · stride].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void WeightedSum<T, TElement>(ReadOnlySpan<float> weights, ReadOnlySpan<T> values, int stride, Span<float> output)
        where T : unmanaged where TElement : struct, IKvElement<T>
    {
        int dim = output.Length;
        if ((long)(weights.Length - 1) * stride + dim > values.Length) throw new ArgumentException("values end before the last position");
        ref T vr = ref MemoryMarshal.GetReference(values);
        ref float or = ref MemoryMarshal.GetReference(output);
        int c = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; c <= dim - 8; c += 8)
            {
                var acc = Vector256<float>.Zero;
                for (int i = 0; i < weights.Length; i++)
                    acc = Vector256.FusedMultiplyAdd(Vector256.Create(weights[i]), TElement.Load8(ref Unsafe.Add(ref vr, (nint)((long)i * stride + c))), acc);
                acc.StoreUnsafe(ref or, (nuint)c);
            }
        for (; c < dim; c++)
        {
            float sum = 0;
            for (int i = 0; i < weights.Length; i++) sum += weights[i] * TElement.ToSingle(Unsafe.Add(ref vr, (nint)((long)i * stride + c)));
            Unsafe.Add(ref or, c) = sum;
        }
    }
}
