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
    public static long FindHalf(ReadOnlySpan<ushort> bits) => Find16(bits, 0x7C00);

    /// <summary>Index of the first NaN/Inf bf16 value, or −1.</summary>
    public static long FindBFloat16(ReadOnlySpan<ushort> bits) => Find16(bits, 0x7F80);

    private static long Find(ReadOnlySpan<uint> bits, uint exponent)
    {
        int i = 0;
        var mask = Vector256.Create(exponent);
        for (; i <= bits.Length - 8; i += 8)
            if (Vector256.EqualsAny(Vector256.Create(bits.Slice(i, 8)) & mask, mask)) break;
        for (; i < bits.Length; i++)
            if ((bits[i] & exponent) == exponent) return i;
        return -1;
    }

    private static long Find16(ReadOnlySpan<ushort> bits, ushort exponent)
    {
        int i = 0;
        var mask = Vector256.Create(exponent);
        for (; i <= bits.Length - 16; i += 16)
            if (Vector256.EqualsAny(Vector256.Create(bits.Slice(i, 16)) & mask, mask)) break;
        for (; i < bits.Length; i++)
            if ((bits[i] & exponent) == exponent) return i;
        return -1;
    }
}
