using Sling.Kernels;
using Sling.Quantization;
using Sling.Tests.Support;

namespace Sling.Tests.Kernels;

/// <summary>
/// The integer products (int4/int8 weights × int8 activation blocks) on every SIMD path, against a
/// float64 product of the decoded weights and the decoded activation codes: the two must agree up to
/// float rounding, since the integer sums are exact.
/// </summary>
public class IntegerKernelTests
{
    public static TheoryData<int, bool, int, int, KernelIsa> Cases()
    {
        var data = new TheoryData<int, bool, int, int, KernelIsa>();
        foreach (var isa in KernelIsas.Available)
            foreach (var (bits, sym, group, cols) in new[]
            {
                (4, true, 32, 256),   // llama.cpp's Q4_0 layout
                (4, false, 32, 96),   // an odd number of blocks: the 512-bit loop takes pairs
                (4, false, 128, 384),
                (4, true, 64, 128),
                (8, true, 32, 256),   // Q8_0
                (8, false, 172, 172), // per output channel, a row that ends inside a block
                (8, false, 64, 320),
            })
                data.Add(bits, sym, group, cols, isa);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheFloat64ProductOfTheDecodedCodes(int bits, bool symmetric, int group, int cols, KernelIsa isa)
    {
        const int rows = 29;
        WeightMatrix m = QuantizedMatrices.Build(bits, symmetric, group, rows, cols, bits * 31 + cols, isa).Matrix;
        Check(m, cols, rows);
    }

    // The interleaved layout's .NET kernels: 512-bit, and the AVX2 ones (8 rows per register) forced
    // on here too; the assembled VNNI kernels are off (VnniKernelTests check those).
    public static TheoryData<int, bool, int, int, KernelIsa> InterleavedCases()
    {
        var data = new TheoryData<int, bool, int, int, KernelIsa>();
        foreach (var isa in new[] { KernelIsa.Avx2, KernelIsa.Avx512 }.Where(KernelIsas.Available.Contains))
            foreach (var (bits, sym, group, cols) in new[]
            {
                (4, true, 32, 256), (4, false, 32, 96), (4, false, 128, 384), (4, true, 64, 128),
                (8, true, 32, 256), (8, false, 320, 320), (8, false, 64, 192),
            })
                data.Add(bits, sym, group, cols, isa);
        return data;
    }

    [Theory]
    [MemberData(nameof(InterleavedCases))]
    public void TheInterleavedLayoutMatchesTheFloat64ProductOfTheDecodedCodes(int bits, bool symmetric, int group, int cols, KernelIsa isa)
    {
        var source = QuantizedMatrices.Build(bits, symmetric, group, 48, cols, cols + 1, KernelIsas.Best).Matrix;
        Assert.True(RowBlockMatrix.CanRepack(source)); // every machine with AVX2 repacks int4/int8 groups
        var packed = RowBlockMatrix.Repack(source);
        packed.Isa = isa;
        packed.Vnni = false;
        var a = new float[cols];
        var b = new float[cols];
        for (int r = 0; r < 48; r++)
        {
            source.ReadRow(r, a);
            packed.ReadRow(r, b);
            Assert.Equal(a, b);
        }
        Check(packed, cols, 48);
        packed.ChunkBytes = 1; // every row block its own chunk: each tile meets one row block at a time
        Check(packed, cols, 48);
    }

    /// <summary>
    /// Each activation row gives the same bits alone (generation's one-row kernel) as in a full tile of
    /// four (a prompt's): the kernels sum and round in the same order.
    /// </summary>
    internal static void SameBitsAloneAndInATile(WeightMatrix m, int cols, int rows, string what)
    {
        var rng = new Random(cols + 3 * rows);
        var tile = new ActivationRows(4, cols);
        tile.SetCount(4);
        for (int i = 0; i < tile.Active.Length; i++) tile.Active[i] = (float)(rng.NextDouble() * 2 - 1);
        var q = tile.Quantized();
        m.PrepareQ8(q);
        var together = new float[4 * rows];
        m.MultiplyRows(q, together, rows, 0, rows);
        for (int t = 0; t < 4; t++)
        {
            var one = new ActivationRows(1, cols);
            one.SetCount(1);
            tile.Active.Slice(t * cols, cols).CopyTo(one.Active);
            var q1 = one.Quantized();
            m.PrepareQ8(q1);
            var alone = new float[rows];
            m.MultiplyRows(q1, alone, rows, 0, rows);
            Assert.True(together.AsSpan(t * rows, rows).SequenceEqual(alone), $"{what}: activation row {t} alone differs from the tile's");
        }
    }

    internal static void Check(WeightMatrix m, int cols, int rows)
    {
        Assert.True(m.TakesQ8);
        foreach (int tokens in new[] { 1, 3, 4, 9 })
        {
            var rng = new Random(tokens * 7 + cols + rows);
            var input = new ActivationRows(tokens, cols);
            input.SetCount(tokens);
            for (int i = 0; i < input.Active.Length; i++) input.Active[i] = (float)((rng.NextDouble() * 2 - 1) * (i % 7 == 0 ? 4 : 1));
            var q = input.Quantized();
            m.PrepareQ8(q);
            var y = new float[tokens * rows];
            // Two ranges, as threads would split the rows (interleaved layouts split on their row blocks).
            int split = m is RowBlockMatrix ? 16 : 11;
            m.MultiplyRows(q, y, rows, 0, split);
            m.MultiplyRows(q, y, rows, split, rows);
            AssertFloat64Product(m, q, y, rows, cols);
        }
    }

    // y against the float64 product of m's decoded rows and q's decoded codes, up to float rounding.
    private static void AssertFloat64Product(WeightMatrix m, Q8Activations q, float[] y, int rows, int cols)
    {
        var row = new float[cols];
        for (int r = 0; r < rows; r++)
        {
            m.ReadRow(r, row);
            for (int t = 0; t < q.Count; t++)
            {
                double expected = 0, magnitude = 0;
                for (int c = 0; c < cols; c++)
                {
                    double a = q.Codes[t * q.Stride + c] * (double)q.Scales[t * q.Blocks + c / Q8Activations.BlockSize];
                    expected += row[c] * a;
                    magnitude += Math.Abs(row[c] * a);
                }
                Assert.Equal(expected, y[t * rows + r], 2e-6 * magnitude + 1e-6);
            }
        }
    }

    [Fact]
    public void ActivationBlocksKeepEveryValueWithinHalfAStep()
    {
        var input = new ActivationRows(2, 70);
        input.SetCount(2);
        var rng = new Random(5);
        for (int i = 0; i < input.Active.Length; i++) input.Active[i] = (float)(rng.NextDouble() * 6 - 3);
        input.Active[3] = 0; // a zero stays exactly zero
        var q = input.Quantized();
        Assert.Equal(3, q.Blocks);
        for (int t = 0; t < 2; t++)
            for (int c = 0; c < q.Stride; c++)
            {
                float d = q.Scales[t * q.Blocks + c / 32];
                int code = q.Codes[t * q.Stride + c];
                Assert.InRange(code, -127, 127);
                Assert.Equal(code, q.Wide[t * q.Stride + c]);
                if (c >= 70) Assert.Equal(0, code); // padding
                else Assert.Equal(input.Active[t * 70 + c], code * d, d / 2 * 1.0001);
            }
        Assert.Equal(0, q.Codes[3]);
        // The largest magnitude of each block maps to ±127.
        Assert.Equal(127, Enumerable.Range(0, 32).Max(c => Math.Abs((int)q.Codes[c])));
    }

    // The per-block sums the kernels take zero points and offsets out with, each from the block's codes
    // themselves: Σq (times 128, and times d), the halves' Σq as two 16-bit words, and the Σq of the
    // inputs at 4i, 4i+1 (low word) and 4i+2, 4i+3 (high word), as vpmaddubsw splits a block's products.
    [Fact]
    public void EachBlockKeepsItsCodeSumsInEveryForm()
    {
        var input = new ActivationRows(3, 100);
        input.SetCount(3);
        var rng = new Random(11);
        for (int i = 0; i < input.Active.Length; i++) input.Active[i] = (float)(rng.NextDouble() * 4 - 2);
        var q = input.Quantized();
        for (int t = 0; t < 3; t++)
            for (int b = 0; b < q.Blocks; b++)
            {
                int k = t * q.Blocks + b, all = 0, first = 0, second = 0, low = 0, high = 0;
                for (int i = 0; i < Q8Activations.BlockSize; i++)
                {
                    int code = q.Codes[t * q.Stride + b * Q8Activations.BlockSize + i];
                    all += code;
                    if (i < 16) first += code; else second += code;
                    if (i % 4 < 2) low += code; else high += code;
                }
                Assert.Equal(128 * all, q.OffsetSums[k]);
                Assert.Equal(q.Scales[k] * all, q.ScaledSums[k]);
                Assert.Equal((first, second), ((int)(short)q.HalfSums[k], q.HalfSums[k] >> 16));
                Assert.Equal((low, high), ((int)(short)q.LaneSums[k], q.LaneSums[k] >> 16));
            }
    }

    // A non-finite value leaves its block's scale non-finite (so the products it meets are too, rather
    // than a finite result without it): the block's largest magnitude is taken from the values' bits.
    [Fact]
    public void ABlockWithANaNOrAnInfinityGetsANonFiniteScale()
    {
        var input = new ActivationRows(1, 96);
        input.SetCount(1);
        for (int i = 0; i < 96; i++) input.Active[i] = (i % 7 - 3) * 0.25f;
        input.Active[5] = float.NaN;
        input.Active[40] = float.NegativeInfinity;
        input.Active[64] = -2.5f; // block 2: finite, its largest magnitude negative
        var q = input.Quantized();
        Assert.True(float.IsNaN(q.Scales[0]));
        Assert.True(float.IsPositiveInfinity(q.Scales[1]));
        Assert.Equal(2.5f / 127f, q.Scales[2]);
        Assert.Equal(-127, q.Codes[64]);
    }

    // The K-quant kernels take scale · offset · Σq of a block's two 16-input halves in one vpmaddwd:
    // each half's Σ of codes must be a whole 16-bit word, low word the first half, high the second,
    // and a new input must not keep the last one's pairs.
    [Fact]
    public unsafe void HalfSumPairsHoldEachHalfBlocksCodeSumAsOneWord()
    {
        var q = QuantizedMatrices.RandomActivations(3, 100, seed: 12);
        for (int round = 0; round < 2; round++)
        {
            int* pairs = q.HalfSumPairs();
            for (int t = 0; t < q.Count; t++)
                for (int b = 0; b < q.Blocks; b++)
                {
                    int first = 0, second = 0;
                    for (int i = 0; i < 16; i++)
                    {
                        first += q.Codes[t * q.Stride + b * 32 + i];
                        second += q.Codes[t * q.Stride + b * 32 + 16 + i];
                    }
                    int pair = pairs[t * q.Blocks + b];
                    Assert.Equal(first, (short)(pair & 0xFFFF));
                    Assert.Equal(second, pair >> 16);
                }
            var values = new float[q.Count * 100];
            for (int i = 0; i < values.Length; i++) values[i] = (i * 37 % 101 - 50) * 0.5f;
            q.Quantize(values, q.Count);
        }
    }

    // The int4 kernels start each block's 16-bit sums at −zero·Σq split as vpmaddubsw splits a block's
    // products over a 32-bit lane: the low word over inputs 4i and 4i+1, the high over 4i+2 and 4i+3.
    [Fact]
    public unsafe void ZeroLaneStartsSplitEachBlocksCodeSumAsTheLanesAddIt()
    {
        var q = QuantizedMatrices.RandomActivations(3, 100, seed: 14);
        int* starts = q.ZeroLaneStarts(8);
        for (int t = 0; t < q.Count; t++)
            for (int b = 0; b < q.Blocks; b++)
            {
                int low = 0, high = 0;
                for (int i = 0; i < 32; i++)
                    if (i % 4 < 2) low += q.Codes[t * q.Stride + b * 32 + i];
                    else high += q.Codes[t * q.Stride + b * 32 + i];
                int entry = starts[t * q.Blocks + b];
                Assert.Equal(-8 * low, (short)(entry & 0xFFFF));
                Assert.Equal(-8 * high, entry >> 16);
            }
    }

    // Codes and inputs at their extremes in step with those lanes (codes 15 and 0 against inputs +127 and
    // −127): each word's Σ (code − 8)·q is then near the 16-bit limit, and a word given the other's share
    // of the zero point's sum would wrap.
    public static TheoryData<KernelIsa> RepackingIsas() => [.. new[] { KernelIsa.Avx2, KernelIsa.AvxVnni, KernelIsa.Avx512 }.Where(i => i == KernelIsa.AvxVnni ? KernelIsas.Runs(KernelIsa.Avx2) : KernelIsas.Runs(i))];

    [Theory]
    [MemberData(nameof(RepackingIsas))]
    public void SharedZeroBlocksAtTheExtremesOfEachLaneStayExact(KernelIsa isa)
    {
        const int rows = 32, cols = 128;
        // Rows alternate which lane holds the largest codes; the last blocks of each row are mixed.
        float Weight(int r, int c) => c >= 96 ? (c * 7 + r) % 16 / 8f - 1 : (c % 4 < 2) == (r % 2 == 0) ? 0.875f : -1f;
        var source = QuantizedTensors.Quantize(r => Enumerable.Range(0, cols).Select(c => Weight(r, c)).ToArray(), rows, cols, new QuantizedFormat(4, true, 32));
        var packed = RowBlockMatrix.Repack(source);
        packed.Isa = isa;
        packed.Vnni = false;
        var decoded = new float[cols];
        packed.ReadRow(0, decoded);
        Assert.Equal(decoded[0] * -8 / 7, decoded[2], 1e-6); // codes 15 and 0: the extremes
        var input = new ActivationRows(4, cols);
        input.SetCount(4);
        for (int t = 0; t < 4; t++)
            for (int c = 0; c < cols; c++) input.Active[t * cols + c] = (c % 4 < 2) == (t % 2 == 0) ? 1f : -1f;
        var q = input.Quantized();
        foreach (int tokens in new[] { 4, 1 }) // a tile, and generation's one-row kernel
        {
            var x = tokens == 4 ? q : Single(input, cols);
            packed.PrepareQ8(x);
            var y = new float[tokens * rows];
            packed.MultiplyRows(x, y, rows, 0, rows);
            AssertFloat64Product(packed, x, y, rows, cols);
        }
    }

    private static Q8Activations Single(ActivationRows rows, int cols)
    {
        var one = new ActivationRows(1, cols);
        one.SetCount(1);
        rows.Active[..cols].CopyTo(one.Active);
        return one.Quantized();
    }

    [Fact]
    public void TheIntegerProductIsCloseToTheExactFloatProduct()
    {
        var m = QuantizedMatrices.Build(4, false, 128, 64, 512, 3, KernelIsas.Best).Matrix;
        var rng = new Random(9);
        var input = new ActivationRows(1, 512);
        input.SetCount(1);
        for (int i = 0; i < 512; i++) input.Active[i] = (float)(rng.NextDouble() * 2 - 1);
        var exact = new float[64];
        var integer = new float[64];
        m.MultiplyRows(input.Active, 1, exact, 64, 0, 64);
        var q = input.Quantized();
        m.PrepareQ8(q);
        m.MultiplyRows(q, integer, 64, 0, 64);
        Assert.InRange(ReferenceLlama.RelativeL2([exact.Select(v => (double)v).ToArray()], [integer]), 1e-5, 1e-2);
    }
}

/// <summary>Several matrices of one input in one parallel operation, as q/k/v and gate/up run.</summary>
public class FusedProductTests
{
    // Mixed precision puts int4 groups and int8 channels side by side in one fused product: each
    // needs its own zero-point sums of the shared activations, prepared before the threads start.
    [Fact]
    public void MatricesWithDifferentGroupSizesShareOneInputSafely()
    {
        var int4 = QuantizedMatrices.Build(4, false, 32, 512, 256, 1, KernelIsas.Best).Matrix;
        var int8 = QuantizedMatrices.Build(8, false, 256, 512, 256, 2, KernelIsas.Best).Matrix;
        var int4b = QuantizedMatrices.Build(4, true, 128, 256, 256, 3, KernelIsas.Best).Matrix;
        var input = new ActivationRows(8, 256);
        input.SetCount(8);
        var rng = new Random(4);
        for (int i = 0; i < input.Active.Length; i++) input.Active[i] = (float)(rng.NextDouble() * 2 - 1);
        var pool = ComputePool.Get(2);
        var product = new MatMul();
        var expected = new[] { new float[8 * 512], new float[8 * 512], new float[8 * 256] };
        product.Run(pool, int4, input, expected[0], integer: true);
        product.Run(pool, int8, input, expected[1], integer: true);
        product.Run(pool, int4b, input, expected[2], integer: true);
        for (int repeat = 0; repeat < 20; repeat++)
        {
            input.Changed();
            using var a = new ActivationRows(8, 512);
            using var b = new ActivationRows(8, 512);
            using var c = new ActivationRows(8, 256);
            foreach (var rows in new[] { a, b, c }) rows.SetCount(8);
            product.Run(pool, input, true, (int4, a), (int8, b), (int4b, c));
            Assert.Equal(expected[0], a.Active.ToArray());
            Assert.Equal(expected[1], b.Active.ToArray());
            Assert.Equal(expected[2], c.Active.ToArray());
        }
    }
}
