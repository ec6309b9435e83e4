using Sling.Kernels;
using Sling.Tests.Support;

namespace Sling.Tests.Kernels;

/// <summary>Every SIMD path of the int4/int8 kernels against a float64 product of the dequantized weights.</summary>
public unsafe class QuantizedKernelTests
{
    public static TheoryData<int, bool, int, KernelIsa> Cases()
    {
        var data = new TheoryData<int, bool, int, KernelIsa>();
        foreach (var isa in KernelIsas.Available)
            foreach (var (bits, sym, group) in new[] { (4, false, 32), (4, true, 64), (4, false, 128), (8, false, 32), (8, true, 96), (8, false, 200) })
                data.Add(bits, sym, group, isa);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheFloat64ProductOfTheStoredValues(int bits, bool symmetric, int group, KernelIsa isa)
    {
        int rows = 37, cols = group * 4 > 400 ? group * 2 : group * 4, groups = cols / group;
        var (m, weights, scales) = QuantizedMatrices.Build(bits, symmetric, group, rows, cols, bits * 1000 + group, isa);
        var rng = new Random(bits * 1000 + group + 1);
        var x = Enumerable.Range(0, cols).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        {
            var y = new float[rows];
            m.MultiplyRows(x, y, 0, rows);
            var row = new float[cols];
            for (int r = 0; r < rows; r++)
            {
                m.ReadRow(r, row); // element-wise decoding, no SIMD
                double expected = 0, magnitude = 0;
                for (int c = 0; c < cols; c++)
                {
                    expected += (double)row[c] * x[c];
                    magnitude += Math.Abs((double)row[c] * x[c]);
                    Assert.Equal(weights[r * cols + c], row[c], Math.Abs((double)scales[r * groups + c / group]) * (symmetric ? 1.01 : 0.51) + 1e-3);
                }
                Assert.Equal(expected, y[r], 1e-5 * magnitude + 1e-6);
            }
            var slice = m.SliceRows(5, 3);
            var sliced = new float[3];
            slice.MultiplyRows(x, sliced, 0, 3);
            Assert.Equal(y[5..8], sliced);
        }
    }
}
