using Sling.Models;

namespace Sling.Tests.Models;

/// <summary>
/// Attention over the cache for the query heads that share one key/value head, chunk by chunk of
/// positions: each head's scores and weighted sum are what its own pass gives, bit for bit, and (fp32)
/// what a float64 computation gives — across chunk borders and a paged cache's block borders.
/// </summary>
public class GroupedAttentionTests
{
    [Theory]
    [InlineData(KvCachePrecision.F32, 64)]
    [InlineData(KvCachePrecision.F16, 64)]
    [InlineData(KvCachePrecision.Int8, 64)]
    [InlineData(KvCachePrecision.F32, 72)]
    [InlineData(KvCachePrecision.F32, 128)]
    public void AGroupOfHeadsGetsEachHeadsOwnResults(KvCachePrecision precision, int headDim)
    {
        const int kvHeads = 2, group = 4, positions = 150, first = 3, span = positions - first;
        int kvDim = kvHeads * headDim;
        var pool = new KvBlockPool(layers: 1, kvDim, headDim, blockPositions: 5, blocks: 40, precision);
        var cache = new KvCache(pool);
        Assert.True(cache.Reserve(positions));
        var rng = new Random(headDim);
        float Next() => (float)(rng.NextDouble() * 2 - 1);
        var keys = new float[positions][];
        var values = new float[positions][];
        for (int p = 0; p < positions; p++)
        {
            keys[p] = Enumerable.Range(0, kvDim).Select(_ => Next()).ToArray();
            values[p] = Enumerable.Range(0, kvDim).Select(_ => Next()).ToArray();
            cache.Write(0, p, keys[p], values[p]);
        }
        for (int g = 0; g < kvHeads; g++)
        {
            int offset = g * headDim;
            var queries = Enumerable.Range(0, group * headDim).Select(_ => Next()).ToArray();
            var scores = new float[group * span];
            cache.Scores(0, first, offset, queries, span, scores, 0.125f);
            var weights = Enumerable.Range(0, group * span).Select(_ => (float)rng.NextDouble() / span).ToArray();
            var outputs = new float[group * headDim];
            cache.WeightedSum(0, first, offset, weights, span, outputs);
            for (int j = 0; j < group; j++)
            {
                var alone = new float[span];
                cache.Scores(0, first, offset, queries.AsSpan(j * headDim, headDim), span, alone, 0.125f);
                Assert.Equal(alone, scores.AsSpan(j * span, span).ToArray());
                var output = new float[headDim];
                cache.WeightedSum(0, first, offset, weights.AsSpan(j * span, span), span, output);
                Assert.Equal(output, outputs.AsSpan(j * headDim, headDim).ToArray());
                if (precision != KvCachePrecision.F32) continue;
                for (int i = 0; i < span; i++)
                {
                    double dot = 0;
                    for (int c = 0; c < headDim; c++) dot += (double)queries[j * headDim + c] * keys[first + i][offset + c];
                    Assert.Equal(0.125 * dot, scores[j * span + i], 1e-5);
                }
                for (int c = 0; c < headDim; c++)
                {
                    double sum = 0;
                    for (int i = 0; i < span; i++) sum += (double)weights[j * span + i] * values[first + i][offset + c];
                    Assert.Equal(sum, outputs[j * headDim + c], 1e-5);
                }
            }
        }
    }
}
