using Sling.Kernels;

namespace Sling.Tests.Kernels;

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
}
