using Sling.Kernels;

namespace Sling.Tests.Kernels;

public class NonFiniteTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(37)]
    public void FindsTheFirstNanOrInfinityInEveryWidth(int at)
    {
        var floats = Enumerable.Range(0, 40).Select(i => (float)Math.Sin(i) * 1e30f).ToArray(); // large but finite
        Assert.Equal(-1, NonFinite.Find(floats));
        floats[at] = float.NaN;
        Assert.Equal(at, NonFinite.Find(floats));
        floats[at] = float.NegativeInfinity;
        Assert.Equal(at, NonFinite.Find(floats));

        var halves = floats.Select(f => float.IsFinite(f) ? BitConverter.HalfToUInt16Bits((Half)(f / 1e30f * 60000)) : (ushort)0).ToArray();
        Assert.Equal(-1, NonFinite.FindHalf(halves));
        halves[at] = BitConverter.HalfToUInt16Bits(Half.PositiveInfinity);
        Assert.Equal(at, NonFinite.FindHalf(halves));

        var bf16 = floats.Select(f => float.IsFinite(f) ? (ushort)(BitConverter.SingleToUInt32Bits(f) >> 16) : (ushort)0).ToArray();
        Assert.Equal(-1, NonFinite.FindBFloat16(bf16));
        bf16[at] = (ushort)(BitConverter.SingleToUInt32Bits(float.NaN) >> 16);
        Assert.Equal(at, NonFinite.FindBFloat16(bf16));
    }
}
