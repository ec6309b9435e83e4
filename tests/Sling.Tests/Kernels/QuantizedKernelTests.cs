using Sling.Kernels;
using Sling.Quantization;

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
        int rows = 37, cols = group * 4 > 400 ? group * 2 : group * 4;
        var format = new QuantizedFormat(bits, symmetric, group);
        var rng = new Random(bits * 1000 + group);
        var weights = Enumerable.Range(0, rows * cols).Select(_ => (float)(rng.NextDouble() - 0.45)).ToArray();
        var x = Enumerable.Range(0, cols).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        int groups = cols / group;
        int codeBytes = bits == 4 ? cols / 2 : cols, zeroBytes = bits == 4 ? (groups + 1) / 2 : groups;
        var packed = new byte[rows * codeBytes];
        var scales = new Half[rows * groups];
        var packedZeros = new byte[rows * zeroBytes];
        var codes = new byte[cols];
        var zeros = new byte[groups];
        for (int r = 0; r < rows; r++)
        {
            GroupQuantizer.QuantizeRow(weights.AsSpan(r * cols, cols), format, codes, scales.AsSpan(r * groups, groups), zeros);
            if (bits == 4)
            {
                QuantizedTensors.PackInt4(codes, packed.AsSpan(r * codeBytes, codeBytes));
                for (int g = 0; g < groups; g++) packedZeros[r * zeroBytes + g / 2] |= (byte)(g % 2 == 0 ? zeros[g] : zeros[g] << 4);
            }
            else
            {
                codes.CopyTo(packed, r * codeBytes);
                zeros.CopyTo(packedZeros, r * zeroBytes);
            }
        }
        fixed (byte* cp = packed)
        fixed (Half* sp = scales)
        fixed (byte* zp = packedZeros)
        {
            byte* z = symmetric ? null : zp;
            WeightMatrix m = bits == 4
                ? new Int4GroupMatrix(cp, sp, z, rows, cols, group, null) { Isa = isa }
                : new Int8GroupMatrix(cp, sp, z, rows, cols, group, null) { Isa = isa };
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
