using Sling.Kernels;
using Sling.Formats;
using Sling.Kernels.Emit;
using Sling.Tests.Support;

namespace Sling.Tests.Kernels;

/// <summary>A theory skipped, saying why, where the assembled AVX2 tile kernels cannot run (or the shared files it reads are absent).</summary>
public sealed class Avx2AssembledTheoryAttribute : TheoryAttribute
{
    public Avx2AssembledTheoryAttribute(params string[] requiredPaths) => Skip = SharedData.SkipReason(requiredPaths, Avx2TileKernel.Available,
        "this CPU lacks AVX2, FMA or F16C (or this is not 64-bit Linux, or SLING_NO_ASSEMBLED_KERNELS is set): the assembled AVX2 kernels are never used here");
}

/// <summary>
/// The tile kernels assembled for AVX2 (Q4_0's, Q4_K's, IQ4_NL's, IQ4_XS's, Q2_K's, Q3_K's, Q5_K's, Q6_K's, Q8_0's and the seed's int4 and int8 blocks) against the float64 product of the decoded codes, and
/// against the .NET AVX2 kernel bit for bit: both compute the same sums in the same order.
/// </summary>
public class Avx2TileKernelTests
{
    [Avx2AssembledTheory]
    [InlineData("q4_0", 32)]    // one block
    [InlineData("q4_0", 256)]
    [InlineData("q4_0", 5632)]  // a long row: displacements past 16 bits
    [InlineData("q4_k", 256)]   // one super-block
    [InlineData("q4_k", 2048)]
    [InlineData("q4_k", 5632)]
    [InlineData("q6_k", 256)]   // one super-block
    [InlineData("q6_k", 2048)]
    [InlineData("q6_k", 5632)]
    [InlineData("q5_k", 256)]   // one super-block
    [InlineData("q5_k", 2048)]
    [InlineData("q5_k", 5632)]
    [InlineData("q3_k", 256)]   // one super-block
    [InlineData("q3_k", 2048)]
    [InlineData("q3_k", 5632)]
    [InlineData("q2_k", 256)]   // one super-block
    [InlineData("q2_k", 2048)]
    [InlineData("q2_k", 5632)]
    [InlineData("q2_k_int2k", 256)] // the two-bit form
    [InlineData("q2_k_int2k", 2048)]
    [InlineData("q2_k_int2k", 5632)]
    [InlineData("q8_0", 32)]
    [InlineData("q8_0", 256)]
    [InlineData("q8_0", 5632)]
    [InlineData("int4_g128", 128)] // one group
    [InlineData("int4_g128", 2048)]
    [InlineData("int4_g128", 5632)]
    [InlineData("int4_g32", 64)]   // one-block groups with zero points
    [InlineData("int4_g32", 2048)]
    [InlineData("iq4_xs", 256)]    // one super-block
    [InlineData("iq4_xs", 2048)]
    [InlineData("iq4_xs", 5632)]
    [InlineData("iq4_nl", 32)]     // one block
    [InlineData("iq4_nl", 2048)]
    [InlineData("iq4_nl", 5632)]
    [InlineData("int8_g128", 128)]
    [InlineData("int8_g128", 5632)]
    [InlineData("int8_channel", 32)]   // one block
    [InlineData("int8_channel", 2048)] // the seed's int8: a zero point per row
    public void MatchesTheFloat64ProductAndTheNetKernelBitForBit(string format, int cols)
    {
        const int rows = 64;
        var packed = Blocks(format, rows, cols, cols);
        packed.AssembledAvx2 = true;
        IntegerKernelTests.Check(packed, cols, rows);
        Assert.True(packed.FoundAssembledAvx2);

        // Streamed weights (up to 16 activation rows) and chunked ones (more, small chunks so tiles cross
        // their borders); full tiles and a last partial one; ranges that do not start at row 0.
        packed.ChunkBytes = 2 * 256 * (cols / 32);
        foreach (int tokens in new[] { 4, 11, 24 })
        {
            var q = QuantizedMatrices.RandomActivations(tokens, cols, tokens + cols);
            packed.PrepareQ8(q);
            var assembled = new float[tokens * rows];
            var net = new float[tokens * rows];
            packed.AssembledAvx2 = true;
            packed.MultiplyRows(q, assembled, rows, 16, rows);
            packed.MultiplyRows(q, assembled, rows, 0, 16);
            packed.AssembledAvx2 = false;
            packed.MultiplyRows(q, net, rows, 0, rows);
            Assert.Equal(net, assembled);
        }
    }

    [Avx2AssembledTheory]
    [InlineData("q4_0", 8)]  // two full tiles
    [InlineData("q4_0", 20)] // more than 16 rows: the weights in chunks
    [InlineData("q4_k", 8)]
    [InlineData("q4_k", 20)]
    [InlineData("q6_k", 8)]
    [InlineData("q6_k", 20)]
    [InlineData("q5_k", 8)]
    [InlineData("q5_k", 20)]
    [InlineData("q3_k", 8)]
    [InlineData("q3_k", 20)]
    [InlineData("q2_k", 8)]
    [InlineData("q2_k", 20)]
    [InlineData("q2_k_int2k", 8)]
    [InlineData("q2_k_int2k", 20)]
    [InlineData("q8_0", 8)]
    [InlineData("q8_0", 20)]
    [InlineData("int4_g128", 8)]
    [InlineData("int4_g128", 20)]
    [InlineData("iq4_xs", 8)]
    [InlineData("iq4_xs", 20)]
    [InlineData("iq4_nl", 8)]
    [InlineData("iq4_nl", 20)]
    [InlineData("int8_channel", 8)]
    [InlineData("int8_channel", 20)]
    public void EveryOutputOfARangeIsWrittenAndNothingOutsideIt(string format, int tokens)
    {
        const int rows = 64, cols = 256, ldy = 80;
        var packed = Blocks(format, rows, cols, 17);
        var q = QuantizedMatrices.RandomActivations(tokens, cols, 5);
        packed.PrepareQ8(q);
        var y = new float[tokens * ldy];
        Array.Fill(y, float.NaN);
        packed.MultiplyRows(q, y, ldy, 16, 48);
        Assert.True(packed.FoundAssembledAvx2);
        for (int t = 0; t < tokens; t++)
            for (int r = 0; r < ldy; r++)
                Assert.True(float.IsNaN(y[t * ldy + r]) == r is < 16 or >= 48, $"token {t}, row {r}");
    }

    [Theory]
    [InlineData(4, true, 64)]   // one zero point, groups of two blocks
    [InlineData(8, true, 128)]  // one zero point (128), groups of four blocks
    public void WiderGroupsKeepTheNetKernel(int bits, bool symmetric, int group)
    {
        const int rows = 32, cols = 256;
        var packed = Repacked(bits, symmetric, group, rows, cols, 3);
        packed.AssembledAvx2 = true;
        IntegerKernelTests.Check(packed, cols, rows);
        Assert.False(packed.FoundAssembledAvx2);
    }

    private static RowBlockMatrix Blocks(string format, int rows, int cols, int seed) => format switch
    {
        "q4_0" => Repacked(4, true, 32, rows, cols, seed),
        "q4_k" => Q4KBlocks(rows, cols, seed),
        "q6_k" => Q6KBlocks(rows, cols, seed),
        "q5_k" => Q5KBlocks(rows, cols, seed),
        "q3_k" => Q3KBlocks(rows, cols, seed),
        "q2_k" => Q2KBlocks(rows, cols, seed, twoBitCodes: false),
        "q2_k_int2k" => Q2KBlocks(rows, cols, seed, twoBitCodes: true),
        "int4_g128" => Repacked(4, false, 128, rows, cols, seed),
        "int4_g32" => Repacked(4, false, 32, rows, cols, seed),
        "iq4_xs" => Iq4XsBlocks(rows, cols, seed),
        "iq4_nl" => Iq4NlBlocks(rows, cols, seed),
        "int8_g128" => Repacked(8, false, 128, rows, cols, seed),
        "int8_channel" => Repacked(8, false, cols, rows, cols, seed),
        _ => Repacked(8, true, 32, rows, cols, seed),
    };

    // Sling's int4/int8 groups, repacked, on AVX2: symmetric in groups of 32 are Q4_0's and Q8_0's blocks
    // as the loader holds them (one fp16 scale per block; codes + 8, + 128); asymmetric ones are the
    // seed's (an fp16 scale and a zero point per group of whole blocks, or per row).
    private static RowBlockMatrix Repacked(int bits, bool symmetric, int group, int rows, int cols, int seed)
    {
        var packed = RowBlockMatrix.Repack(QuantizedMatrices.Build(bits, symmetric, group, rows, cols, seed, KernelIsa.Avx2).Matrix);
        packed.Isa = KernelIsa.Avx2;
        packed.Vnni = false;
        return packed;
    }

    // Q4_K as the loader reads it (random blocks, sane super-block halves d and dmin), on AVX2.
    private static unsafe Int4RowBlockMatrix Q4KBlocks(int rows, int cols, int seed)
    {
        // 144 bytes per 256 values: d, dmin (halves), 12 bytes of 6-bit scales and mins, 128 of codes.
        var blocks = RandomBlocks(144, rows, cols, seed, (0, 0.01, 0.5), (2, 0.01, 0));
        fixed (byte* p = blocks)
        {
            var factors = Sling.Models.GgufLoader.Factors(GgmlBlocks.Q4_K, p, rows, cols, cols / 256 * 144)!;
            var packed = new Int4RowBlockMatrix(new Q4KSource(p, rows, cols, factors, null)) { Isa = KernelIsa.Avx2, Vnni = false };
            Assert.Equal("q4_k", packed.Format, ignoreCase: true);
            return packed;
        }
    }

    // IQ4_NL as the loader reads it (random blocks of 32, each a sane half d and 16 bytes of level indices), on AVX2.
    private static unsafe Int4RowBlockMatrix Iq4NlBlocks(int rows, int cols, int seed)
    {
        var halves = Enumerable.Range(0, 8).Select(b => (18 * b, 0.001, 0.5)).ToArray(); // 8 blocks of 18 bytes per 256 values
        var blocks = RandomBlocks(8 * 18, rows, Math.Max(cols, 256), seed, halves);
        fixed (byte* p = blocks)
        {
            var packed = new Int4RowBlockMatrix(new Q4_0Source(p, rows, cols, null, iq4: true)) { Isa = KernelIsa.Avx2, Vnni = false };
            Assert.Equal("iq4_nl", packed.Format, ignoreCase: true);
            return packed;
        }
    }

    // IQ4_XS as the loader reads it (random blocks, a sane super-block half d), on AVX2.
    // 136 bytes per 256 values: d (a half), 2 + 4 bytes of 6-bit scales, 128 of level indices.
    private static unsafe Int4RowBlockMatrix Iq4XsBlocks(int rows, int cols, int seed)
    {
        var blocks = RandomBlocks(136, rows, cols, seed, (0, 0.001, 0.5));
        fixed (byte* p = blocks)
        {
            var factors = Sling.Models.GgufLoader.Factors(GgmlBlocks.IQ4_XS, p, rows, cols, cols / 256 * 136)!;
            var packed = new Int4RowBlockMatrix(new Iq4XsSource(p, rows, cols, factors, null)) { Isa = KernelIsa.Avx2, Vnni = false };
            Assert.Equal("iq4_xs", packed.Format, ignoreCase: true);
            return packed;
        }
    }

    // Q6_K as the loader reads it (random blocks, a sane super-block half d), on AVX2.
    // 210 bytes per 256 values: 128 of low nibbles, 64 of high bits, 16 signed scales, d (a half).
    private static Int6RowBlockMatrix Q6KBlocks(int rows, int cols, int seed) =>
        KQuantBlocks(GgmlBlocks.Q6_K, "q6_k", 210, rows, cols, RandomBlocks(210, rows, cols, seed, (208, 0.001, 0.5)));

    // Q5_K as the loader reads it (random blocks, sane super-block halves d and dmin), on AVX2.
    // 176 bytes per 256 values: d, dmin (halves), 12 bytes of 6-bit scales and mins, 32 of fifth bits, 128 of low nibbles.
    private static Int6RowBlockMatrix Q5KBlocks(int rows, int cols, int seed) =>
        KQuantBlocks(GgmlBlocks.Q5_K, "q5_k", 176, rows, cols, RandomBlocks(176, rows, cols, seed, (0, 0.01, 0.5), (2, 0.01, 0)));

    // Q3_K as the loader reads it (random blocks, a sane super-block half d), on AVX2.
    // 110 bytes per 256 values: 32 of high bits, 64 of low two bits, 12 of 6-bit scales, d (a half).
    private static Int6RowBlockMatrix Q3KBlocks(int rows, int cols, int seed) =>
        KQuantBlocks(GgmlBlocks.Q3_K, "q3_k", 110, rows, cols, RandomBlocks(110, rows, cols, seed, (108, 0.001, 0.5)));

    // Q2_K as the loader reads it (random blocks, sane super-block halves d and dmin), on AVX2, its
    // codes in the int4k layout's nibbles or four to a byte (int2k).
    // 84 bytes per 256 values: 16 of 4-bit scales and mins, 64 of 2-bit codes, d and dmin (halves).
    private static Int6RowBlockMatrix Q2KBlocks(int rows, int cols, int seed, bool twoBitCodes)
    {
        var packed = KQuantBlocks(GgmlBlocks.Q2_K, "q2_k", 84, rows, cols, RandomBlocks(84, rows, cols, seed, (80, 0.01, 0.5), (82, 0.01, 0)), twoBitCodes);
        Assert.Equal(twoBitCodes, packed.Crumbs);
        return packed;
    }

    private static unsafe Int6RowBlockMatrix KQuantBlocks(uint type, string format, int bytes, int rows, int cols, byte[] blocks, bool? twoBitCodes = null)
    {
        fixed (byte* p = blocks)
        {
            var factors = Sling.Models.GgufLoader.Factors(type, p, rows, cols, cols / 256 * bytes)!;
            var packed = new Int6RowBlockMatrix(new KQuantInt8Source(type, p, rows, cols, factors, null), twoBitCodes) { Isa = KernelIsa.Avx2, Vnni = false };
            Assert.Equal(format, packed.Format, ignoreCase: true);
            return packed;
        }
    }

    // Random K-quant blocks of the given size per 256 values, each listed half set to scale · (floor + a uniform draw).
    private static unsafe byte[] RandomBlocks(int bytes, int rows, int cols, int seed, params (int Offset, double Scale, double Floor)[] halves)
    {
        var blocks = new byte[rows * (cols / 256 * bytes)];
        var rng = new Random(seed);
        rng.NextBytes(blocks);
        fixed (byte* p = blocks)
            for (long b = 0; b < blocks.Length / bytes; b++)
                foreach (var (offset, scale, floor) in halves) *(Half*)(p + b * bytes + offset) = (Half)(scale * (floor + rng.NextDouble()));
        return blocks;
    }

}
