using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Sling.Kernels;
using Sling.Tests.Support;

namespace Sling.Tests.Kernels;

/// <summary>A fact skipped, saying why, where the CPU has no AVX-VNNI instructions.</summary>
public sealed class AvxVnniFactAttribute : FactAttribute
{
    public AvxVnniFactAttribute()
    {
        if (!AvxVnni.IsSupported) Skip = "this CPU has no AVX-VNNI: its instructions run here only in their exact AVX2 form (VnniForm), which the other tests check";
    }
}

/// <summary>
/// The AVX-VNNI path of the 256-bit row-block kernels (<see cref="IDot256"/>): each dot-product
/// operator against the instructions' definition, computed here lane by lane, and the kernels written
/// once over the operators giving the AVX2 path's bits (their sums are exact integers either way, and
/// every float step is the same). On a CPU without AVX-VNNI the kernels run <see cref="VnniForm"/>.
/// </summary>
public class AvxVnniTests
{
    private static readonly bool HasAvx2 = KernelIsas.Runs(KernelIsa.Avx2);

    // vpdpbusd's definition: each 32-bit lane plus its four unsigned·signed byte products, wrapping.
    private static int[] BytesByDefinition(int[] sums, byte[] u, sbyte[] s)
    {
        var r = new int[8];
        for (int lane = 0; lane < 8; lane++)
        {
            int acc = sums[lane];
            for (int k = 0; k < 4; k++) acc = unchecked(acc + u[4 * lane + k] * s[4 * lane + k]);
            r[lane] = acc;
        }
        return r;
    }

    // vpdpwssd's definition: each 32-bit lane plus its two signed word products.
    private static int[] WordsByDefinition(int[] sums, short[] a, short[] b)
    {
        var r = new int[8];
        for (int lane = 0; lane < 8; lane++) r[lane] = unchecked(sums[lane] + a[2 * lane] * b[2 * lane] + a[2 * lane + 1] * b[2 * lane + 1]);
        return r;
    }

    private static (int[] Sums, byte[] U, sbyte[] S) RandomBytes(Random rng, int maxCode)
    {
        var sums = Enumerable.Range(0, 8).Select(_ => rng.Next(-1 << 20, 1 << 20)).ToArray();
        var u = Enumerable.Range(0, 32).Select(_ => (byte)rng.Next(maxCode + 1)).ToArray();
        var s = Enumerable.Range(0, 32).Select(_ => (sbyte)rng.Next(-128, 128)).ToArray();
        // The extremes, where a 16-bit step would saturate.
        u[0] = u[1] = (byte)maxCode;
        s[0] = s[1] = -128;
        s[4] = s[5] = 127;
        u[4] = u[5] = (byte)maxCode;
        return (sums, u, s);
    }

    [Fact]
    public void TheAvx2FormOfTheVnniInstructionsMatchesTheirDefinition()
    {
        if (HasAvx2) MatchesTheDefinition<VnniForm>(11);
    }

    [AvxVnniFact]
    public void TheVnniInstructionsMatchTheirDefinition() => MatchesTheDefinition<VnniDot>(12);

    // Bytes and Words of TDot against vpdpbusd's and vpdpwssd's definitions, on full-range codes.
    private static void MatchesTheDefinition<TDot>(int seed) where TDot : struct, IDot256
    {
        var rng = new Random(seed);
        for (int i = 0; i < 200; i++)
        {
            var (sums, u, s) = RandomBytes(rng, 255);
            Assert.Equal(BytesByDefinition(sums, u, s), Lanes(TDot.Bytes(Vector256.Create(sums), Vector256.Create(u), Vector256.Create(s))));
            var a = Enumerable.Range(0, 16).Select(_ => (short)rng.Next(short.MinValue, short.MaxValue + 1)).ToArray();
            var b = Enumerable.Range(0, 16).Select(_ => (short)rng.Next(-255, 256)).ToArray();
            Assert.Equal(WordsByDefinition(sums, a, b), Lanes(TDot.Words(Vector256.Create(sums), Vector256.Create(a), Vector256.Create(b))));
        }
    }

    // A block's eight byte products of 4-bit codes, as the int4 kernels add them, finished plain and
    // times a scale word (Q4_K's, the same in both halves of a lane): AVX2's 16-bit sums and the
    // VNNI form's 32-bit sums come to the same totals.
    [Fact]
    public void AvxTwoAndVnniSumsOfFourBitCodesFinishTheSame()
    {
        if (!HasAvx2) return;
        var rng = new Random(13);
        for (int i = 0; i < 200; i++)
        {
            Vector256<int> avx2 = default, vnni = default;
            var expected = new int[8];
            for (int k = 0; k < 8; k++)
            {
                var (_, u, s) = RandomBytes(rng, 15);
                avx2 = Avx2Dot.Bytes(avx2, Vector256.Create(u), Vector256.Create(s));
                vnni = VnniForm.Bytes(vnni, Vector256.Create(u), Vector256.Create(s));
                expected = BytesByDefinition(expected, u, s);
            }
            var ones = Vector256<short>.One;
            Assert.Equal(expected, Lanes(Avx2Dot.Finish(avx2, ones)));
            Assert.Equal(expected, Lanes(VnniForm.Finish(vnni, ones)));
            var scale = Enumerable.Range(0, 8).Select(_ => rng.Next(-128, 256)).ToArray();
            var words = Vector256.Create(scale.Select(x => (x & 0xFFFF) | (x << 16)).ToArray()).AsInt16();
            var scaled = expected.Zip(scale, (e, x) => e * x).ToArray();
            Assert.Equal(scaled, Lanes(Avx2Dot.FinishScaled(avx2, words)));
            Assert.Equal(scaled, Lanes(VnniForm.FinishScaled(vnni, words)));
        }
    }

    [Fact]
    public void AvxVnniIsOfferedExactlyWhereTheCpuHasIt()
    {
        Assert.Equal(AvxVnni.IsSupported && KernelIsas.Runs(KernelIsa.Avx2), KernelIsas.Available.Contains(KernelIsa.AvxVnni));
        Assert.Equal(KernelIsas.Available[^1], KernelIsas.Best);
        Assert.All(KernelIsas.Available, isa => Assert.True(KernelIsas.Runs(isa)));
        // Group matrices have no AVX-VNNI form: they take it as AVX2.
        var m = (GroupMatrix)QuantizedMatrices.Build(4, true, 32, 4, 64, 1, KernelIsa.Scalar).Matrix;
        m.Isa = KernelIsa.AvxVnni;
        Assert.Equal(KernelIsa.Avx2, m.Isa);
    }

    public static TheoryData<int, bool, int, int> Layouts() => new()
    {
        { 4, true, 32, 256 },   // Q4_0's groups
        { 4, false, 32, 96 },
        { 4, false, 128, 384 }, // the seed's int4 groups
        { 8, true, 32, 256 },   // Q8_0
        { 8, false, 128, 384 }, // the seed's int8 layers
        { 8, false, 320, 320 },
    };

    [Theory]
    [MemberData(nameof(Layouts))]
    public void TheAvxVnniKernelsMatchTheFloat64ProductAndTheAvx2KernelsBitForBit(int bits, bool symmetric, int group, int cols)
    {
        if (!HasAvx2) return;
        const int rows = 48;
        var packed = RowBlockMatrix.Repack(QuantizedMatrices.Build(bits, symmetric, group, rows, cols, cols + bits, KernelIsas.Best).Matrix);
        packed.Vnni = false;
        packed.Isa = KernelIsa.AvxVnni;
        IntegerKernelTests.Check(packed, cols, rows);
        IntegerKernelTests.SameBitsAloneAndInATile(packed, cols, rows, $"int{bits} group {group}");
        SameBitsAsAvx2(packed, cols, rows, $"int{bits} group {group}");
    }

    /// <summary>The layout's AVX-VNNI path gives its AVX2 path's bits, for one row, full tiles and a partial one.</summary>
    internal static void SameBitsAsAvx2(RowBlockMatrix packed, int cols, int rows, string what)
    {
        var (isa, vnni) = (packed.Isa, packed.Vnni);
        packed.Vnni = false;
        foreach (int tokens in new[] { 1, 4, 7 })
        {
            var q = QuantizedMatrices.RandomActivations(tokens, cols, tokens * 5 + cols);
            packed.PrepareQ8(q);
            var avx2 = new float[tokens * rows];
            var avxVnni = new float[tokens * rows];
            packed.Isa = KernelIsa.Avx2;
            packed.MultiplyRows(q, avx2, rows, 0, rows);
            packed.Isa = KernelIsa.AvxVnni;
            packed.MultiplyRows(q, avxVnni, rows, 0, rows);
            Assert.True(avx2.AsSpan().SequenceEqual(avxVnni), $"{what}, {tokens} activation rows: AVX-VNNI differs from AVX2");
        }
        (packed.Isa, packed.Vnni) = (isa, vnni);
    }

    private static int[] Lanes(Vector256<int> v)
    {
        var r = new int[8];
        v.CopyTo(r);
        return r;
    }
}
