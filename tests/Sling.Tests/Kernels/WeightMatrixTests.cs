using Sling.Kernels;

namespace Sling.Tests.Kernels;

/// <summary>Each storage format's matrix-vector product against a float64 scalar reference.</summary>
public unsafe class WeightMatrixTests
{
    private static (float[] W, float[] X, double[] Y) Problem(int rows, int cols, int seed)
    {
        var rng = new Random(seed);
        var w = Enumerable.Range(0, rows * cols).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var x = Enumerable.Range(0, cols).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var y = new double[rows];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) y[r] += (double)w[r * cols + c] * x[c];
        return (w, x, y);
    }

    private static void AssertClose(double[] expected, float[] actual, double tolerance)
    {
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], tolerance);
    }

    [Theory]
    [InlineData(7, 13)]
    [InlineData(300, 257)]
    public void F32MatchesReferenceInParallel(int rows, int cols)
    {
        var (w, x, y) = Problem(rows, cols, 1);
        var m = F32Matrix.FromArray(w, rows, cols);
        var result = new float[rows];
        ComputePool.Get(4).Multiply(m, x, result);
        AssertClose(y, result, 1e-4);
    }

    [Theory]
    [InlineData(5, 37)]
    [InlineData(200, 256)]
    public void HalfPrecisionFormatsMatchTheirOwnRoundedValues(int rows, int cols)
    {
        var (w, x, _) = Problem(rows, cols, 2);
        var half = w.Select(v => (Half)v).ToArray();
        var bf16 = w.Select(v => (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16)).ToArray();
        fixed (Half* hp = half)
        fixed (ushort* bp = bf16)
        {
            foreach (var (m, rounded) in new (WeightMatrix, Func<int, double>)[]
                     {
                         (new F16Matrix(hp, rows, cols, null), i => (double)(float)half[i]),
                         (new BF16Matrix(bp, rows, cols, null), i => BF16Matrix.ToSingle(bf16[i])),
                     })
            {
                var expected = new double[rows];
                for (int r = 0; r < rows; r++)
                    for (int c = 0; c < cols; c++) expected[r] += rounded(r * cols + c) * x[c];
                var result = new float[rows];
                ComputePool.Get(2).Multiply(m, x, result);
                AssertClose(expected, result, 1e-4);
            }
        }
    }

    [Fact]
    public void Q8GroupsMatchDequantizedReference()
    {
        const int rows = 9, cols = 64, group = 16;
        var rng = new Random(3);
        var codes = Enumerable.Range(0, rows * cols).Select(_ => (sbyte)rng.Next(-127, 128)).ToArray();
        var scales = Enumerable.Range(0, rows * cols / group).Select(_ => (float)rng.NextDouble() * 0.01f).ToArray();
        var x = Enumerable.Range(0, cols).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        fixed (sbyte* cp = codes)
        fixed (float* sp = scales)
        {
            var m = new Q8GroupMatrix(cp, sp, rows, cols, group, null);
            var result = new float[rows];
            m.MultiplyRows(x, result, 0, rows);
            var row = new float[cols];
            for (int r = 0; r < rows; r++)
            {
                double expected = 0;
                for (int c = 0; c < cols; c++) expected += (double)codes[r * cols + c] * scales[(r * cols + c) / group] * x[c];
                Assert.Equal(expected, result[r], 1e-4);
                m.ReadRow(r, row);
                Assert.Equal(codes[r * cols + 5] * scales[(r * cols + 5) / group], row[5]);
            }
            var slice = m.SliceRows(3, 2);
            var sliced = new float[2];
            slice.MultiplyRows(x, sliced, 0, 2);
            Assert.Equal(result[3], sliced[0]);
            Assert.Equal(result[4], sliced[1]);
        }
    }
}
