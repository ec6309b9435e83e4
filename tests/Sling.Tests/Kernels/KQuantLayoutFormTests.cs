using Sling.Kernels;

namespace Sling.Tests.Kernels;

/// <summary>A theory skipped, saying why, where the CPU cannot run the interleaved layouts' AVX2 kernels.</summary>
public sealed class Avx2TheoryAttribute : TheoryAttribute
{
    public Avx2TheoryAttribute()
    {
        if (!KernelIsas.Runs(KernelIsa.Avx2)) Skip = "this CPU has no AVX2 and FMA: the K-quant layouts' AVX2 kernels (the only ones of the two-bit form) cannot run";
    }
}

/// <summary>
/// The K-quant layout's AVX2 kernels fold each group's scale byte into its integer sums, which leaves
/// room for a code offset only per 16-value group with scales only (Q6_K, Q3_K) and for offset bytes
/// only without a code offset (Q5_K, Q2_K): a stored layout of any other form is refused when read
/// back (the model cache then repacks), as a repacked one is never made.
/// </summary>
public class KQuantLayoutFormTests
{
    [Theory]
    [InlineData(16, 1, true, 32, true)]   // Q6_K
    [InlineData(16, 1, true, 4, true)]    // Q3_K
    [InlineData(16, 2, false, 0, true)]   // Q2_K
    [InlineData(32, 2, false, 0, true)]   // Q5_K
    [InlineData(32, 1, true, 32, false)]  // a code offset in 32-value groups
    [InlineData(16, 2, false, 4, false)]  // a code offset beside offset bytes
    [InlineData(32, 2, true, 0, false)]   // signed scale bytes beside offset bytes
    public void OnlyFormsTheKernelsFoldAreReadBack(int groupSize, int factorParts, bool signedFactors, int codeOffset, bool held)
    {
        var shape = new RowBlockMatrix.StoredLayout("int6", 16, 256, groupSize, true, codeOffset, "test", RowBlockMatrix.StoredScales.Factored,
            256 / groupSize, factorParts, signedFactors, null);
        var (codes, scales, super, _) = shape.Lengths();
        RowBlockMatrix Read() => RowBlockMatrix.FromStored(shape, new NativeBuffer(codes), new NativeBuffer(scales), new NativeBuffer(super), null);
        if (held) Assert.IsType<Int6RowBlockMatrix>(Read());
        else Assert.Contains("not a form the kernels fold", Assert.Throws<ArgumentException>(Read).Message);
    }

    /// <summary>
    /// Forms the kernels fold that no llama.cpp type has (unsigned scale bytes per 16 values, scales
    /// only per 32) run the one-row kernel that reads the form from the weights, beside llama.cpp's
    /// forms, whose one-row kernels have it as constants: every one against the float64 product, and
    /// a row alone against the same row in a tile, bit for bit, in each code layout.
    /// </summary>
    [Avx2Theory]
    [InlineData("int4k", 16, 1, false)] // unsigned scales per 16 values, no offsets
    [InlineData("int2k", 16, 1, false)]
    [InlineData("int4k", 32, 1, true)]  // signed scales per 32 values
    [InlineData("int5", 32, 1, false)]
    [InlineData("int6", 16, 1, false)]
    [InlineData("int2k", 16, 2, false)] // Q2_K's form
    [InlineData("int4k", 16, 1, true)]  // Q3_K's form without its code offset
    public unsafe void FormsOutsideLlamaCppsMultiplyExactly(string kind, int groupSize, int factorParts, bool signedFactors)
    {
        const int rows = 32, cols = 512;
        var shape = new RowBlockMatrix.StoredLayout(kind, rows, cols, groupSize, true, 0, "test", RowBlockMatrix.StoredScales.Factored,
            256 / groupSize, factorParts, signedFactors, null);
        var (codeBytes, scaleBytes, superBytes, _) = shape.Lengths();
        var rng = new Random(kind.Length * 31 + groupSize + factorParts);
        var (codes, scales, super) = (new NativeBuffer(codeBytes), new NativeBuffer(scaleBytes), new NativeBuffer(superBytes));
        rng.NextBytes(new Span<byte>(codes.Pointer, (int)codeBytes));
        for (int i = 0; i < scaleBytes; i++) scales.Pointer[i] = (byte)rng.Next(signedFactors ? 256 : 64); // signed: any byte; unsigned: 6-bit
        for (int i = 0; i < superBytes / sizeof(float); i++) ((float*)super.Pointer)[i] = (float)(rng.NextDouble() * 0.01);
        var m = (Int6RowBlockMatrix)RowBlockMatrix.FromStored(shape, codes, scales, super, null);
        (m.Isa, m.Vnni) = (KernelIsa.Avx2, false);
        IntegerKernelTests.Check(m, cols, rows);
        IntegerKernelTests.SameBitsAloneAndInATile(m, cols, rows, kind);
    }
}
