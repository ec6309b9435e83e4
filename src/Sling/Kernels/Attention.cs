using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Sling.Kernels;

/// <summary>
/// The two halves of one head's attention over cached positions, for head sizes of whole 16-float
/// vectors (every real model's: 64, 80, 96, 128): the query stays in cache while each key costs a
/// few multiply-adds and one horizontal sum, and each output vector stays in a register while every
/// position's value is added into it. Other sizes take the TensorPrimitives loop.
/// </summary>
internal static class Attention
{
    /// <summary>scores[i] = scale · q · key_i, where key i starts at keys[i · stride].</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Scores(ReadOnlySpan<float> q, ReadOnlySpan<float> keys, int stride, Span<float> scores, float scale)
    {
        int dim = q.Length;
        if (!Vector512.IsHardwareAccelerated || dim % 16 != 0)
        {
            for (int i = 0; i < scores.Length; i++) scores[i] = TensorPrimitives.Dot(q, keys.Slice(i * stride, dim)) * scale;
            return;
        }
        ref float qr = ref MemoryMarshal.GetReference(q);
        ref float kr = ref MemoryMarshal.GetReference(keys);
        if ((long)(scores.Length - 1) * stride + dim > keys.Length) throw new ArgumentException("keys end before the last position");
        for (int i = 0; i < scores.Length; i++)
        {
            var acc = Vector512<float>.Zero;
            nuint at = (nuint)((long)i * stride);
            for (nuint c = 0; c < (nuint)dim; c += 16)
                acc = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref qr, c), Vector512.LoadUnsafe(ref kr, at + c), acc);
            scores[i] = Vector512.Sum(acc) * scale;
        }
    }

    /// <summary>output = Σ_i weights[i] · value_i, where value i starts at values[i · stride].</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void WeightedSum(ReadOnlySpan<float> weights, ReadOnlySpan<float> values, int stride, Span<float> output)
    {
        int dim = output.Length;
        if (!Vector512.IsHardwareAccelerated || dim % 16 != 0)
        {
            output.Clear();
            for (int i = 0; i < weights.Length; i++) TensorPrimitives.MultiplyAdd(values.Slice(i * stride, dim), weights[i], output, output);
            return;
        }
        if ((long)(weights.Length - 1) * stride + dim > values.Length) throw new ArgumentException("values end before the last position");
        ref float vr = ref MemoryMarshal.GetReference(values);
        ref float or = ref MemoryMarshal.GetReference(output);
        for (nuint c = 0; c < (nuint)dim; c += 16)
        {
            var acc = Vector512<float>.Zero;
            for (int i = 0; i < weights.Length; i++)
                acc = Vector512.FusedMultiplyAdd(Vector512.Create(weights[i]), Vector512.LoadUnsafe(ref vr, (nuint)((long)i * stride) + c), acc);
            acc.StoreUnsafe(ref or, c);
        }
    }
}
