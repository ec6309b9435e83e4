using Sling.Kernels;
using Xunit;

namespace Sling.Tests.Kernels;

/// <summary>How one parallel operation's products are cut into work items (<see cref="MatMul.Split"/>).</summary>
public class MatMulSplitTests
{
    // TinyLlama's q/k/v, gate/up and classifier shapes, in row blocks of 16.
    public static TheoryData<int[], int, int> Shapes => new()
    {
        { [2048, 256, 256], 2048, 1 },
        { [5632, 5632], 2048, 1 },
        { [32000], 2048, 1 },
        { [2048, 256, 256], 2048, 2 },
        { [2048, 256, 256], 2048, 64 },
        { [5632, 5632], 2048, 256 },
        { [48], 64, 1 }, // too little work to split
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void RangesCoverEveryRowOnceInRowBlocks(int[] rows, int cols, int n)
    {
        var ranges = Split(rows, cols, n, out int count);
        for (int p = 0; p < rows.Length; p++)
        {
            var own = ranges.Take(count).Where(r => r.Product == p).ToList();
            Assert.Equal(0, own[0].Start);
            for (int i = 1; i < own.Count; i++) Assert.Equal(own[i - 1].End, own[i].Start);
            Assert.Equal(rows[p], own[^1].End);
            Assert.All(own, r => Assert.True(r.Start % 16 == 0 && r.End > r.Start, $"range {r}"));
        }
    }

    // Generation streams each weight once: the threads should end together, so the ranges left at
    // the end are small (at most four row blocks), while there are few ranges (each one's start
    // waits for the memory prefetchers).
    [Theory]
    [InlineData(new[] { 2048, 256, 256 })]
    [InlineData(new[] { 5632, 5632 })]
    [InlineData(new[] { 32000 })]
    public void StreamingRangesShrinkToFourRowBlocks(int[] rows)
    {
        var ranges = Split(rows, 2048, 1, out int count);
        int total = rows.Sum();
        Assert.True(ranges[count - 1].End - ranges[count - 1].Start <= 64, $"last range {ranges[count - 1]}");
        int left = total;
        for (int i = 0; i < count; i++)
        {
            int size = ranges[i].End - ranges[i].Start;
            Assert.True(size <= Math.Max(64, left / 3 + 16), $"range {i} of {size} rows with {left} left");
            left -= size;
        }
        Assert.InRange(count, 5, 24);
    }

    // A product of many activation rows keeps equal ranges (each stays in L2 while the tiles pass).
    [Fact]
    public void WideProductsKeepEqualRanges()
    {
        var ranges = Split([5632], 2048, 64, out int count);
        Assert.Equal(16, count);
        Assert.All(ranges.Take(count - 1), r => Assert.Equal(352, r.End - r.Start));
    }

    [Fact]
    public void ARangeListTooShortGrows()
    {
        var ranges = new MatMul.Range[2];
        int count = MatMul.Split([new MatMul.Shape(32000, 2048, 16)], 2, 1, ref ranges);
        Assert.Equal(32000, ranges[count - 1].End);
        Assert.True(count > 2 && ranges.Length >= count);
    }

    private static MatMul.Range[] Split(int[] rows, int cols, int n, out int count)
    {
        var ranges = new MatMul.Range[64];
        count = MatMul.Split(rows.Select(r => new MatMul.Shape(r, cols, 16)).ToArray(), 2, n, ref ranges);
        return ranges;
    }
}
