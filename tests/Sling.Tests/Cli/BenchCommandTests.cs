using System.Globalization;
using System.Text.RegularExpressions;
using Sling.Evaluation;
using Xunit;

namespace Sling.Tests.Cli;

/// <summary>`sling bench` on a small model built in memory: its table and the bandwidth it divides by.</summary>
public partial class BenchCommandTests
{
    [Fact]
    public void GenerationIsComparedWithTheBandwidthSampledAmongItsTokens()
    {
        var result = CliRunner.Run("bench", "--synthetic", "stories15m", "-p", "16", "-n", "32", "-r", "2", "-t", "2");
        Assert.True(result.ExitCode == 0, result.Stderr);
        // A pass before each of the 2 timed runs, after the last, and after every 16 of a run's 32 tokens.
        var bandwidth = BandwidthLine().Match(result.Stdout);
        Assert.True(bandwidth.Success, result.Stdout);
        Assert.Equal("7", bandwidth.Groups["passes"].Value);
        double mean = Number(bandwidth.Groups["mean"].Value), low = Number(bandwidth.Groups["low"].Value), high = Number(bandwidth.Groups["high"].Value);
        Assert.True(low > 0 && low <= mean && mean <= high, result.Stdout);
        // The share printed is the row's weight GB/s over that mean, within what the printing rounds
        // (GB/s to 0.05, the share to half a percent): under load the sampled bandwidth can be a few GB/s,
        // where rounding alone moves the ratio by more than a percent.
        var row = GenerationRow().Match(result.Stdout);
        Assert.True(row.Success, result.Stdout);
        double share = Number(row.Groups["share"].Value) / 100, gbps = Number(row.Groups["gbps"].Value);
        Assert.InRange(share, (gbps - 0.05) / (mean + 0.05) - 0.005, (gbps + 0.05) / Math.Max(mean - 0.05, 0.05) + 0.005);
        Assert.Matches(@"\| pp16 +\| +[0-9.]+ ± +[0-9.]+ \|", result.Stdout);
    }

    [Fact]
    public void AtADepthTheTestsStartAfterThatManyCachedTokensAndGenerationCountsTheCacheItReads()
    {
        var result = CliRunner.Run("bench", "--synthetic", "stories15m", "-p", "16", "-n", "8", "-d", "40", "-r", "1", "-t", "2");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Matches(@"\| pp16 @ d40 +\| +[0-9.]+ ± +[0-9.]+ \|", result.Stdout);
        var row = Regex.Match(result.Stdout, @"\| tg8 @ d40 +\| +(?<speed>[0-9.]+) ± +[0-9.]+ \| +(?<gbps>[0-9.]+) \|");
        Assert.True(row.Success, result.Stdout);
        var bytes = Regex.Match(result.Stdout, @"bytes read per generated token: (?<weights>[0-9,]+) of weights \+ (?<cache>[0-9,]+) of cache");
        Assert.True(bytes.Success, result.Stdout);
        double weights = Number(bytes.Groups["weights"].Value.Replace(",", "")), cache = Number(bytes.Groups["cache"].Value.Replace(",", ""));
        // stories15m: 6 layers × 288 key and value floats per position, fp32; the tokens at positions
        // 40..47 read 41..48 positions, 44.5 on average.
        Assert.Equal(6 * 2 * 288 * 4 * 44.5, cache, 1.0);
        double expected = Number(row.Groups["speed"].Value) * (weights + cache) / 1e9;
        Assert.InRange(Number(row.Groups["gbps"].Value), expected * 0.98 - 0.05, expected * 1.02 + 0.05);

        var tooDeep = CliRunner.Run("bench", "--synthetic", "stories15m", "-p", "16", "-n", "8", "-d", "100000", "-r", "1");
        Assert.NotEqual(0, tooDeep.ExitCode);
        Assert.Contains("--depth 100000", tooDeep.Stderr);
    }

    [Fact]
    public void AGenerationTestAtADepthWritesThePositionsAfterIt()
    {
        using var model = Sling.Models.SyntheticModels.Create("stories15m", "f32", 1);
        var test = new SpeedBenchmark.GenerationTest(model, tokens: 5, depth: 11);
        Assert.Equal(11, test.State.Length);
        test.Run();
        Assert.Equal(16, test.State.Length);
        test.Run(); // a second run writes the same positions again
        Assert.Equal(16, test.State.Length);
    }

    [Fact]
    public void ABandwidthSampleIsOneFigurePerPass()
    {
        var passes = MemoryBandwidth.Sample(2, 64L << 20, 3);
        Assert.Equal(3, passes.Count);
        Assert.All(passes, gbps => Assert.True(gbps > 0.1 && double.IsFinite(gbps), $"{gbps} GB/s"));
        Assert.Throws<ArgumentOutOfRangeException>(() => MemoryBandwidth.Sample(2, 64L << 20, 0));
    }

    private static double Number(string text) => double.Parse(text, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"memory read bandwidth (?<mean>[0-9.]+) GB/s \(mean of (?<passes>\d+) passes taken every 16 generated tokens, (?<low>[0-9.]+)–(?<high>[0-9.]+)\)")]
    private static partial Regex BandwidthLine();

    [GeneratedRegex(@"\| tg32 +\| +[0-9.]+ ± +[0-9.]+ \| +(?<gbps>[0-9.]+) \| +(?<share>[0-9.]+) ?% \|")]
    private static partial Regex GenerationRow();
}
