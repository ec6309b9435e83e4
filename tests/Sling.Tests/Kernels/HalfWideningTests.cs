using Sling.Kernels.Emit;

namespace Sling.Tests.Kernels;

/// <summary>A fact skipped, saying why, where the assembled fp16 widening cannot run.</summary>
public sealed class HalfWideningFactAttribute : FactAttribute
{
    public HalfWideningFactAttribute()
    {
        if (!HalfWidening.Available) Skip = "this CPU has no AVX-512 (or this is not 64-bit Linux, or SLING_NO_ASSEMBLED_KERNELS is set): the assembled fp16 widening is never used here";
    }
}

/// <summary>The assembled <c>vcvtph2ps</c> loop against .NET's own (software) Half → float conversion.</summary>
public class HalfWideningTests
{
    [HalfWideningFact]
    public void EveryHalfWidensToTheFloatDotNetGives()
    {
        // All 65,536 bit patterns: zeros, subnormals, normals, infinities and NaNs of both signs.
        var halves = new Half[1 << 16];
        for (int i = 0; i < halves.Length; i++) halves[i] = BitConverter.UInt16BitsToHalf((ushort)i);
        var floats = new float[halves.Length];
        HalfWidening.ToSingle(halves, floats);
        for (int i = 0; i < halves.Length; i++)
        {
            float expected = (float)halves[i];
            if (float.IsNaN(expected)) Assert.True(float.IsNaN(floats[i]), $"half 0x{i:x4} gave {floats[i]}, not NaN");
            else Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(floats[i]), $"half 0x{i:x4}: {floats[i]} where .NET gives {expected}");
        }
    }

    [HalfWideningFact]
    public void LengthsThatAreNotWholeVectorsAndUnalignedSpansAreWidenedExactlyAndNoFurther()
    {
        var random = new Random(7);
        var halves = new Half[200];
        for (int i = 0; i < halves.Length; i++) halves[i] = (Half)(random.NextSingle() * 200 - 100);
        foreach (int start in new[] { 0, 1, 3 })
            foreach (int length in new[] { 0, 1, 15, 16, 17, 31, 32, 33, 64, 100, 197 - start })
            {
                var floats = new float[length + 8];
                Array.Fill(floats, 12345f);
                HalfWidening.ToSingle(halves.AsSpan(start, length), floats.AsSpan(1));
                Assert.Equal(12345f, floats[0]);
                for (int i = 0; i < length; i++) Assert.Equal((float)halves[start + i], floats[1 + i]);
                for (int i = length + 1; i < floats.Length; i++) Assert.Equal(12345f, floats[i]);
            }
    }

    [Fact]
    public void ADestinationShorterThanTheSourceIsRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => HalfWidening.ToSingle(new Half[16], new float[15]));
        Assert.Contains("15 floats cannot hold 16 halves", e.Message);
    }
}
