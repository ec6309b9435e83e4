using Sling.Kernels;
using Sling.Kernels.Emit;
using Sling.Tests.Support;

namespace Sling.Tests.Kernels;

/// <summary>A theory skipped, saying why, where the run-time assembled VNNI kernels cannot run (or the shared files it reads are absent).</summary>
public sealed class VnniTheoryAttribute : TheoryAttribute
{
    public VnniTheoryAttribute(params string[] requiredPaths) => Skip = SharedData.SkipReason(requiredPaths, VnniKernel.Available,
        "this CPU has no AVX-512 VNNI (or this is not 64-bit Linux, or SLING_NO_ASSEMBLED_KERNELS is set): the assembled kernels are never used here");
}

/// <summary>
/// The int4 and int8 kernels assembled at run time (AVX-512 VNNI) against the float64 product of the
/// decoded codes, and against the .NET path bit for bit: both compute the same sums in the same order.
/// </summary>
public class VnniKernelTests
{
    [VnniTheory]
    [InlineData(4, true, 32, 256)]    // Q4_0's groups: one block per group
    [InlineData(4, false, 32, 96)]    // an odd number of blocks
    [InlineData(4, false, 128, 384)]  // the seed's groups: four blocks per group
    [InlineData(4, true, 64, 128)]
    [InlineData(4, false, 128, 5632)] // a long row: displacements past 16 bits
    [InlineData(8, true, 32, 256)]    // Q8_0
    [InlineData(8, false, 128, 384)]  // the seed's int8 layers
    [InlineData(8, false, 320, 320)]  // one group per row
    [InlineData(8, true, 64, 5632)]
    public void MatchesTheFloat64ProductAndTheNetPathBitForBit(int bits, bool symmetric, int group, int cols)
    {
        const int rows = 64;
        var source = QuantizedMatrices.Build(bits, symmetric, group, rows, cols, cols + group, KernelIsas.Best).Matrix;
        var packed = RowBlockMatrix.Repack(source);
        packed.Vnni = true;
        Assert.True(packed.RunsVnni(cols));
        IntegerKernelTests.Check(packed, cols, rows);

        SamePathsBitForBit(packed, cols, rows);
    }

    /// <summary>The assembled kernel and the .NET path give the same bits, over full tiles and a last partial one.</summary>
    internal static void SamePathsBitForBit(RowBlockMatrix packed, int cols, int rows)
    {
        Assert.True(rows % 32 == 0, "two row ranges of whole 16-row blocks");
        foreach (int tokens in new[] { 1, 4, 8, 11 }) // one row, full tiles, and a last partial tile (single rows)
        {
            var q = QuantizedMatrices.RandomActivations(tokens, cols, tokens + cols);
            packed.PrepareQ8(q);
            var vnni = new float[tokens * rows];
            var net = new float[tokens * rows];
            packed.Vnni = true;
            Assert.True(packed.RunsVnni(cols));
            packed.MultiplyRows(q, vnni, rows, 16, rows); // a range that does not start at row 0
            packed.MultiplyRows(q, vnni, rows, 0, 16);
            packed.Vnni = false;
            Assert.False(packed.RunsVnni(cols));
            packed.MultiplyRows(q, net, rows, 0, rows);
            packed.Vnni = true;
            Assert.Equal(net, vnni);
        }
    }

    [VnniTheory]
    [InlineData(4, true)]
    [InlineData(4, false)]
    [InlineData(8, true)]
    [InlineData(8, false)]
    public void EveryOutputOfARangeIsWrittenAndNothingOutsideIt(int bits, bool symmetric)
    {
        const int rows = 64, cols = 128, tokens = 4, ldy = 80;
        var packed = RowBlockMatrix.Repack(QuantizedMatrices.Build(bits, symmetric, 32, rows, cols, 17, KernelIsas.Best).Matrix);
        var input = new ActivationRows(tokens, cols);
        input.SetCount(tokens);
        for (int i = 0; i < input.Active.Length; i++) input.Active[i] = MathF.Sin(i);
        var q = input.Quantized();
        packed.PrepareQ8(q);
        var y = new float[tokens * ldy];
        Array.Fill(y, float.NaN);
        packed.Vnni = true;
        Assert.True(packed.RunsVnni(cols));
        packed.MultiplyRows(q, y, ldy, 16, 48);
        for (int t = 0; t < tokens; t++)
            for (int r = 0; r < ldy; r++)
                Assert.True(float.IsNaN(y[t * ldy + r]) == r is < 16 or >= 48, $"token {t}, row {r}");
    }
}
