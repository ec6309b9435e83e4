using System.Runtime.Intrinsics;
using Sling.Kernels;
using Sling.Models;

namespace Sling.Tests.Kernels;

/// <summary>
/// The tiled attention kernel against a float64 softmax attention, and its lanes' independence: a
/// query gives the same bits alone or beside others, in a cache of one block or of many small ones.
/// </summary>
public class AttentionTileTests
{
    [Fact]
    public void VectorExpIsWithinTwoUlpsOfDoublePrecision()
    {
        var xs = new List<float> { 0f, -0f, 1f, -1f, 88f, -87.3f, -87.33f, 1e-8f, -1e-8f, 0.34657359f, -0.34657359f };
        for (double x = -87.3; x <= 88; x += 0.00137) xs.Add((float)x);
        for (int i = 0; i < xs.Count; i += 16)
        {
            var chunk = new float[16];
            for (int j = 0; j < 16; j++) chunk[j] = xs[Math.Min(i + j, xs.Count - 1)];
            var e = VectorExp.Exp(Vector512.Create(chunk));
            for (int j = 0; j < 16; j++)
            {
                double exact = Math.Exp(chunk[j]);
                double ulp = MathF.BitIncrement((float)exact) - (float)exact;
                Assert.True(Math.Abs(e[j] - exact) <= 2 * ulp, $"e^{chunk[j]:R}: {e[j]:R} against {exact:R}");
            }
        }
        Assert.Equal(1f, VectorExp.Exp(Vector512<float>.Zero)[0]);
        // Where a weight must vanish it is an exact zero.
        Assert.Equal(0f, VectorExp.Exp(Vector512.Create(float.NegativeInfinity))[0]);
        Assert.Equal(0f, VectorExp.Exp(Vector512.Create(-100f))[0]);
        Assert.True(VectorExp.Exp(Vector512.Create(-87.3f))[0] > 0);
    }

    public static TheoryData<KvCachePrecision, int, int, int> Shapes() => new()
    {
        { KvCachePrecision.F32, 64, 0, 8 },
        { KvCachePrecision.F32, 80, 0, 1 },
        { KvCachePrecision.F32, 96, 0, 4 },
        { KvCachePrecision.F32, 128, 0, 2 },
        { KvCachePrecision.F32, 16, 0, 16 },
        { KvCachePrecision.F32, 64, 37, 8 },
        { KvCachePrecision.F16, 64, 0, 8 },
        { KvCachePrecision.Int8, 64, 0, 8 },
        { KvCachePrecision.Int8, 80, 20, 1 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ATileIsSoftmaxAttentionAndEachLaneIsItsOwn(KvCachePrecision precision, int headDim, int window, int group)
    {
        if (!AttentionTile.Supported(headDim)) return; // neither 512-bit vectors nor AVX2 here: the per-row path runs instead (tested elsewhere)
        const int kvHeads = 2, positions = 300;
        int kvDim = kvHeads * headDim, rows = AttentionTile.Lanes / group;
        var rng = new Random(headDim * 31 + group + window);
        float Next() => (float)(rng.NextDouble() * 4 - 2);
        var keys = new float[positions][];
        var values = new float[positions][];
        // One cache of one block, one of blocks of 5 positions shared with another sequence.
        var own = new KvCache(layers: 1, positions, kvDim, headDim, precision);
        var pool = new KvBlockPool(layers: 1, kvDim, headDim, blockPositions: 5, blocks: 130, precision);
        var paged = new KvCache(pool);
        var other = new KvCache(pool);
        for (int p = 0; p < positions; p++)
        {
            Assert.True(paged.Reserve(p + 1));
            Assert.True(other.Reserve(p + 1));
            keys[p] = Enumerable.Range(0, kvDim).Select(_ => Next()).ToArray();
            values[p] = Enumerable.Range(0, kvDim).Select(_ => Next()).ToArray();
            own.Write(0, p, keys[p], values[p]);
            paged.Write(0, p, keys[p], values[p]);
            other.Write(0, p, values[p], keys[p]);
        }
        const float scale = 0.3f;
        var tile = AttentionTile.ForThread();
        foreach (int last0 in new[] { 0, 63, 64, 200, positions - rows })
        {
            int g = last0 % kvHeads, offset = g * headDim;
            // rows consecutive positions, each with the group's query heads.
            var queries = new (float[] Q, int First, int Last)[rows * group];
            for (int r = 0; r < rows; r++)
                for (int h = 0; h < group; h++)
                {
                    int last = last0 + r, first = window > 0 ? Math.Max(0, last - window + 1) : 0;
                    queries[r * group + h] = (Enumerable.Range(0, headDim).Select(_ => Next()).ToArray(), first, last);
                }
            float[][] Run(KvCache cache, IEnumerable<int> lanes)
            {
                var which = lanes.ToArray();
                tile.Begin(headDim, scale);
                foreach (int j in which) tile.Add(queries[j].Q, queries[j].First, queries[j].Last);
                cache.Attend(0, offset, tile, which.Min(j => queries[j].First), which.Max(j => queries[j].Last));
                return which.Select((_, lane) => { var o = new float[headDim]; tile.Output(lane, o); return o; }).ToArray();
            }
            var together = Run(own, Enumerable.Range(0, queries.Length));
            var inPages = Run(paged, Enumerable.Range(0, queries.Length));
            for (int j = 0; j < queries.Length; j++)
            {
                Assert.Equal(together[j], inPages[j]);
                Assert.Equal(together[j], Run(own, [j])[0]);
                var (q, first, last) = queries[j];
                var reference = Reference(q, keys, values, offset, first, last, scale);
                // fp32: the float64 result's rounding; fp16 and int8 (codes of a head's largest magnitude,
                // 2, over 127) round the keys and values themselves, which moves the outputs by up to a few
                // hundredths here (a missing int8 scale would move them by tens).
                double tolerance = precision switch { KvCachePrecision.F32 => 1e-5, KvCachePrecision.F16 => 1e-2, _ => 0.1 };
                for (int d = 0; d < headDim; d++)
                    Assert.True(Math.Abs(together[j][d] - reference[d]) <= tolerance * (precision == KvCachePrecision.F32 ? 1 + Math.Abs(reference[d]) : 1),
                        $"query {j} (positions {first}..{last}) output {d}: {together[j][d]} against {reference[d]}");
            }
            // The lanes in reverse order and a subset give each lane the same bits.
            var reversed = Run(own, Enumerable.Range(0, queries.Length).Reverse());
            for (int j = 0; j < queries.Length; j++) Assert.Equal(together[j], reversed[queries.Length - 1 - j]);
            // fp16 and int8 keys and values widened once for many tiles (a prompt's) give the same bits.
            paged.WidenSpan(0, queries.Min(x => x.First), queries.Max(x => x.Last));
            var widened = Run(paged, Enumerable.Range(0, queries.Length));
            for (int j = 0; j < queries.Length; j++) Assert.Equal(together[j], widened[j]);
        }
    }

    private static double[] Reference(float[] q, float[][] keys, float[][] values, int offset, int first, int last, float scale)
    {
        int dim = q.Length;
        var scores = new double[last - first + 1];
        for (int p = first; p <= last; p++)
        {
            double dot = 0;
            for (int d = 0; d < dim; d++) dot += (double)q[d] * keys[p][offset + d];
            scores[p - first] = dot * scale;
        }
        double max = scores.Max(), sum = scores.Sum(s => Math.Exp(s - max));
        var output = new double[dim];
        for (int p = first; p <= last; p++)
        {
            double w = Math.Exp(scores[p - first] - max) / sum;
            for (int d = 0; d < dim; d++) output[d] += w * values[p][offset + d];
        }
        return output;
    }
}
