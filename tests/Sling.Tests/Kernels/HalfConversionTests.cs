using System.Runtime.Intrinsics;
using Sling.Kernels;

namespace Sling.Tests.Kernels;

/// <summary>The kernels' half → float conversions against .NET's own cast, on every finite half (normals, subnormals, zeros of both signs).</summary>
public class HalfConversionTests
{
    private static IEnumerable<ushort> FiniteHalves() =>
        Enumerable.Range(0, 1 << 16).Select(i => (ushort)i).Where(bits => Half.IsFinite(BitConverter.UInt16BitsToHalf(bits)));

    [Fact]
    public unsafe void SixteenAtOnceMatchesTheCastBitForBit()
    {
        if (!Vector512.IsHardwareAccelerated || !System.Runtime.Intrinsics.X86.Avx512F.IsSupported) return; // the 512-bit path only runs where it exists
        var halves = FiniteHalves().ToArray();
        var block = stackalloc Half[16];
        for (int start = 0; start < halves.Length; start += 16)
        {
            for (int i = 0; i < 16; i++) block[i] = BitConverter.UInt16BitsToHalf(halves[Math.Min(start + i, halves.Length - 1)]);
            var widened = HalfConversion.Widen16(block);
            for (int i = 0; i < 16; i++)
                Assert.Equal(BitConverter.SingleToUInt32Bits((float)block[i]), BitConverter.SingleToUInt32Bits(widened[i]));
        }
    }

    [Fact]
    public unsafe void EightAtOnceMatchesTheCastBitForBit()
    {
        var halves = FiniteHalves().ToArray();
        var floats = new float[halves.Length];
        fixed (ushort* source = halves)
        fixed (float* destination = floats)
            HalfConversion.ToSingle((Half*)source, destination, halves.Length);
        for (int i = 0; i < halves.Length; i++)
            Assert.Equal(BitConverter.SingleToUInt32Bits((float)BitConverter.UInt16BitsToHalf(halves[i])), BitConverter.SingleToUInt32Bits(floats[i]));
    }
}
