using Sling.Kernels;

namespace Sling.Tests.Kernels;

/// <summary>Attention's per-row kernels and softmax against float64, for the head sizes with kernels of their own (64, 80, 96, 128) and others (fp16 and int8 caches are widened to fp32 a chunk at a time before them).</summary>
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
        var weights = Enumerable.Range(0, positions).Select(_ => (float)rng.NextDouble()).ToArray();

        var scores32 = new float[positions];
        Attention.Scores(q, cache, stride, scores32, 0.125f);
        var out32 = new float[dim];
        Attention.WeightedSum(weights, cache, stride, out32);

        for (int i = 0; i < positions; i++)
        {
            double exact = 0;
            for (int c = 0; c < dim; c++)
            {
                exact += (double)q[c] * cache[i * stride + c];
            }
            Assert.Equal(exact * 0.125, scores32[i], 1e-5);
        }
        for (int c = 0; c < dim; c++)
        {
            double exact = 0;
            for (int i = 0; i < positions; i++)
            {
                exact += (double)weights[i] * cache[i * stride + c];
            }
            Assert.Equal(exact, out32[c], 1e-5);
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
        Attention.WeightedSum(weights, cache, dim, whole);
        var parts = new float[dim];
        Attention.WeightedSum(weights.AsSpan(0, split), cache.AsSpan(0, split * dim), dim, parts);
        Attention.WeightedSum(weights.AsSpan(split), cache.AsSpan(split * dim), dim, parts, accumulate: true);
        Assert.Equal(whole, parts);
    }

    // The per-row softmax against double precision, at sizes around the vector width and with scores
    // far above e^x's float range.
    [Theory]
    [InlineData(1, 1.0)]
    [InlineData(15, 3.0)]
    [InlineData(16, 3.0)]
    [InlineData(17, 3.0)]
    [InlineData(100, 30.0)]
    [InlineData(1000, 400.0)] // scores up to ±400: e^x alone overflows a float above ~88.7
    public void SoftmaxIsTheNormalizedExponentialOfAnyScores(int n, double spread)
    {
        var rng = new Random(n);
        var x = Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * spread)).ToArray();
        double max = x.Max(), total = x.Sum(v => Math.Exp(v - max));
        var y = x.ToArray();
        Activations.Softmax(y);
        for (int i = 0; i < n; i++)
        {
            double expected = Math.Exp(x[i] - max) / total;
            // x − max rounds to a float: its error of up to half an ulp of |x − max| becomes a relative error of e^(x − max).
            double tolerance = (1e-6 + 1.2e-7 * Math.Abs(x[i] - max)) * expected + 1e-37;
            Assert.True(Math.Abs(y[i] - expected) <= tolerance, $"x[{i}] = {x[i]}: {y[i]} against {expected}");
        }
        Assert.InRange(y.Sum(v => (double)v), 1 - 1e-5, 1 + 1e-5);
    }

    [Fact]
    public void LargeScoresStayFinite()
    {
        var y = new[] { 100f, 0f, 95f };
        Activations.Softmax(y);
        Assert.All(y, v => Assert.True(float.IsFinite(v)));
        Assert.Equal(1 / (1 + Math.Exp(-5)), y[0], 1e-6);
        Assert.Equal(0f, y[1], 1e-30);
    }
}
