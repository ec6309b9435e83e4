using Sling.Generation;

namespace Sling.Tests.Generation;

public class SamplerTests
{
    private static readonly float[] Logits = [1.0f, 3.0f, 2.5f, -1.0f, 0.5f];

    private static int Draw(GenerationOptions o, Sampler s, IReadOnlyList<int>? history = null)
        => s.Sample((float[])Logits.Clone(), history ?? []);

    [Fact]
    public void TemperatureZeroIsArgMax()
    {
        var s = new Sampler(new GenerationOptions { Temperature = 0 });
        Assert.Equal(1, Draw(default!, s));
    }

    [Fact]
    public void TopKOneAndTinyTopPAreGreedy()
    {
        var k = new GenerationOptions { Temperature = 5, TopK = 1, TopP = 1 };
        var p = new GenerationOptions { Temperature = 1, TopK = 0, TopP = 0.01f };
        var sk = new Sampler(k);
        var sp = new Sampler(p);
        for (int i = 0; i < 200; i++)
        {
            Assert.Equal(1, Draw(k, sk));
            Assert.Equal(1, Draw(p, sp));
        }
    }

    [Fact]
    public void SamplingFrequenciesFollowTheSoftmaxOfLogitsOverTemperature()
    {
        const float temperature = 0.7f;
        const int draws = 40_000;
        var options = new GenerationOptions { Temperature = temperature, TopK = 0, TopP = 1, Seed = 7 };
        var sampler = new Sampler(options);
        var counts = new int[Logits.Length];
        for (int i = 0; i < draws; i++) counts[Draw(options, sampler)]++;
        double z = Logits.Sum(l => Math.Exp(l / temperature));
        for (int i = 0; i < Logits.Length; i++)
        {
            double p = Math.Exp(Logits[i] / temperature) / z;
            double sigma = Math.Sqrt(p * (1 - p) / draws);
            Assert.InRange(counts[i] / (double)draws, p - 5 * sigma - 1e-4, p + 5 * sigma + 1e-4);
        }
    }

    [Fact]
    public void TopKRestrictsToTheKMostLikelyAndTopPToTheNucleus()
    {
        var k2 = new GenerationOptions { Temperature = 1, TopK = 2, TopP = 1, Seed = 3 };
        var s = new Sampler(k2);
        var seen = Enumerable.Range(0, 2000).Select(_ => Draw(k2, s)).ToHashSet();
        Assert.Equal(new HashSet<int> { 1, 2 }, seen);

        // Probabilities at T=1: ≈ [.07, .51, .31, .01, .09]; top-p 0.8 keeps {1, 2} (0.82 ≥ 0.8).
        var p = new GenerationOptions { Temperature = 1, TopK = 0, TopP = 0.8f, Seed = 3 };
        var sp = new Sampler(p);
        Assert.Equal(new HashSet<int> { 1, 2 }, Enumerable.Range(0, 2000).Select(_ => Draw(p, sp)).ToHashSet());
    }

    [Fact]
    public void TheSameSeedGivesTheSameSequence()
    {
        var o = new GenerationOptions { Temperature = 1.5f, TopK = 0, TopP = 1, Seed = 11 };
        var a = new Sampler(o);
        var b = new Sampler(o);
        var c = new Sampler(o with { Seed = 12 });
        var sa = Enumerable.Range(0, 100).Select(_ => Draw(o, a)).ToArray();
        var sb = Enumerable.Range(0, 100).Select(_ => Draw(o, b)).ToArray();
        var sc = Enumerable.Range(0, 100).Select(_ => Draw(o, c)).ToArray();
        Assert.Equal(sa, sb);
        Assert.NotEqual(sa, sc);
    }

    [Fact]
    public void RepetitionPenaltyPushesDownRecentTokens()
    {
        var o = new GenerationOptions { Temperature = 0, RepetitionPenalty = 1.5f, RepetitionWindow = 2 };
        var s = new Sampler(o);
        Assert.Equal(2, Draw(o, s, [1]));          // 3.0 / 1.5 = 2.0 < 2.5
        Assert.Equal(1, Draw(o, s, [1, 4, 4]));    // token 1 is outside the window of 2
        var logits = new float[] { -1f, -2f };
        new Sampler(o).Sample(logits, [0]);
        Assert.Equal(-1.5f, logits[0]);            // negative logits are multiplied
    }

    [Theory]
    [InlineData(-0.1f, 40, 0.9f, 1f)]
    [InlineData(1f, -1, 0.9f, 1f)]
    [InlineData(1f, 40, 0f, 1f)]
    [InlineData(1f, 40, 1.5f, 1f)]
    [InlineData(1f, 40, 0.9f, 0f)]
    [InlineData(float.NaN, 40, 0.9f, 1f)]
    public void InvalidOptionsAreRejected(float t, int k, float p, float penalty)
    {
        Assert.Throws<SlingException>(() => new Sampler(new GenerationOptions { Temperature = t, TopK = k, TopP = p, RepetitionPenalty = penalty }));
    }

    [Theory]
    [InlineData(1, 5)]
    [InlineData(40, 1000)]
    [InlineData(999, 1000)]
    [InlineData(1000, 1000)]
    public void TheTopKCandidatesAreTheFirstKOfTheFullOrder(int k, int n)
    {
        var rng = new Random(k * 31 + n);
        // Few distinct values, so ties are common and must fall back to the lower id.
        var logits = Enumerable.Range(0, n).Select(_ => (float)rng.Next(0, 50) / 7).ToArray();
        var sampler = new Sampler(new GenerationOptions { TopK = k });
        var expected = logits.Select((v, id) => (Id: id, Value: v)).OrderByDescending(x => x.Value).ThenBy(x => x.Id).Take(k).ToArray();
        Assert.Equal(expected, sampler.Candidates(logits, k).ToArray());
    }

    [Fact]
    public void PresenceAndFrequencyPenaltiesLowerTokensTheAnswerHolds()
    {
        float[] logits = [2.0f, 1.9f, 1.8f];
        var greedy = new GenerationOptions { Temperature = 0 };
        Assert.Equal(0, new Sampler(greedy).Sample(logits.ToArray(), [], [0]));
        // presence: token 0 loses 0.15 once, token 1 now wins.
        Assert.Equal(1, new Sampler(greedy with { PresencePenalty = 0.15f }).Sample(logits.ToArray(), [], [0, 0, 0]));
        // frequency: 0.1 per occurrence; three of token 0 (−0.3) and two of token 1 (−0.2) leave token 2 first.
        Assert.Equal(2, new Sampler(greedy with { FrequencyPenalty = 0.1f }).Sample(logits.ToArray(), [], [0, 0, 0, 1, 1]));
        Assert.Equal(0, new Sampler(greedy with { FrequencyPenalty = 0.05f }).Sample(logits.ToArray(), [], [0]));
    }
}
