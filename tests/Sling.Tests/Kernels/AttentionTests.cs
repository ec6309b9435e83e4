using Sling.Kernels;

namespace Sling.Tests.Kernels;

/// <summary>Attention's two kernels against float64 loops, for the head sizes with kernels of their own (64, 80, 96, 128) and others, fp32, fp16 and int8 caches.</summary>
public class AttentionTests
{
    [Theory]
    [InlineData(64, 1)]
    [InlineData(64, 8)]
    [InlineData(64, 19)]
    [InlineData(80, 13)]
    [InlineData(80, 3)]
    [InlineData(96, 17)]
    [InlineData(128, 9)]
    [InlineData(128, 40)]
    [InlineData(72, 11)]
    [InlineData(8, 5)]
    [InlineData(12, 3)]
    public void ScoresAndWeightedSumsMatchFloat64(int dim, int positions)
    {
        var rng = new Random(dim * 100 + positions);
        int stride = dim * 3 + 8; // keys of one head inside wider cache rows
        var q = Enumerable.Range(0, dim).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var cache = Enumerable.Range(0, positions * stride).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var half = cache.Select(v => (Half)v).ToArray();
        var codes = Enumerable.Range(0, positions * stride).Select(_ => (sbyte)rng.Next(-127, 128)).ToArray();
        var weights = Enumerable.Range(0, positions).Select(_ => (float)rng.NextDouble()).ToArray();

        var scores32 = new float[positions];
        var scores16 = new float[positions];
        Attention.Scores<float, Fp32Element>(q, cache, stride, scores32, 0.125f);
        Attention.Scores<Half, Fp16Element>(q, half, stride, scores16, 0.125f);
        var scores8 = new float[positions];
        Attention.Scores<sbyte, Int8Element>(q, codes, stride, scores8, 0.125f);
        var out32 = new float[dim];
        var out16 = new float[dim];
        Attention.WeightedSum<float, Fp32Element>(weights, cache, stride, out32);
        Attention.WeightedSum<Half, Fp16Element>(weights, half, stride, out16);
        var out8 = new float[dim];
        Attention.WeightedSum<sbyte, Int8Element>(weights, codes, stride, out8);

        for (int i = 0; i < positions; i++)
        {
            double exact = 0, exactHalf = 0, exactCodes = 0;
            for (int c = 0; c < dim; c++)
            {
                exact += (double)q[c] * cache[i * stride + c];
                exactHalf += (double)q[c] * (double)half[i * stride + c];
                exactCodes += (double)q[c] * codes[i * stride + c];
            }
            Assert.Equal(exact * 0.125, scores32[i], 1e-5);
            Assert.Equal(exactHalf * 0.125, scores16[i], 1e-5);
            Assert.Equal(exactCodes * 0.125, scores8[i], 1e-3); // codes up to 127: sums near 1e3
        }
        for (int c = 0; c < dim; c++)
        {
            double exact = 0, exactHalf = 0, exactCodes = 0;
            for (int i = 0; i < positions; i++)
            {
                exact += (double)weights[i] * cache[i * stride + c];
                exactHalf += (double)weights[i] * (double)half[i * stride + c];
                exactCodes += (double)weights[i] * codes[i * stride + c];
            }
            Assert.Equal(exact, out32[c], 1e-5);
            Assert.Equal(exactHalf, out16[c], 1e-5);
            Assert.Equal(exactCodes, out8[c], 1e-3);
        }
    }

    [Theory]
    [InlineData(64)]
    [InlineData(80)]
    [InlineData(96)]
    [InlineData(128)]
    [InlineData(24)]
    public void AWeightedSumContinuedOverLaterPositionsEqualsOneCallBitForBit(int dim)
    {
        const int positions = 21, split = 8;
        var rng = new Random(dim);
        var cache = Enumerable.Range(0, positions * dim).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var weights = Enumerable.Range(0, positions).Select(_ => (float)rng.NextDouble()).ToArray();
        var whole = new float[dim];
        Attention.WeightedSum<float, Fp32Element>(weights, cache, dim, whole);
        var parts = new float[dim];
        Attention.WeightedSum<float, Fp32Element>(weights.AsSpan(0, split), cache.AsSpan(0, split * dim), dim, parts);
        Attention.WeightedSum<float, Fp32Element>(weights.AsSpan(split), cache.AsSpan(split * dim), dim, parts, accumulate: true);
        Assert.Equal(whole, parts);
    }
}
