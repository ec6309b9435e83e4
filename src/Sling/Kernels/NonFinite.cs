using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Sling.Kernels;

/// <summary>
/// Finds NaN or infinite values (all exponent bits set) in weights and scales, so a corrupt file is
/// reported at load rather than discovered as NaN logits. Vector loops over the raw bits; memory-bound.
/// </summary>
internal static class NonFinite
{
    /// <summary>Index of the first NaN/Inf fp32 value, or −1.</summary>
    public static long Find(ReadOnlySpan<float> values) => Find(MemoryMarshal.Cast<float, uint>(values), 0x7F800000u);

    /// <summary>Index of the first NaN/Inf fp16 value, or −1.</summary>
    public static long FindHalf(ReadOnlySpan<ushort> bits) => Find(bits, (ushort)0x7C00);

    /// <summary>Index of the first NaN/Inf bf16 value, or −1.</summary>
    public static long FindBFloat16(ReadOnlySpan<ushort> bits) => Find(bits, (ushort)0x7F80);

    // A value is NaN or infinite when all its exponent bits are set.
    private static long Find<T>(ReadOnlySpan<T> bits, T exponent) where T : unmanaged, System.Numerics.IBinaryInteger<T>
    {
        int i = 0, width = Vector256<T>.Count;
        var mask = Vector256.Create(exponent);
        for (; i <= bits.Length - width; i += width)
            if (Vector256.EqualsAny(Vector256.Create(bits.Slice(i, width)) & mask, mask)) break;
        for (; i < bits.Length; i++)
            if ((bits[i] & exponent) == exponent) return i;
        return -1;
    }
}
