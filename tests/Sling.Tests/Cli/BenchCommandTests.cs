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
        // The share printed is the row's weight GB/s over that mean.
        var row = GenerationRow().Match(result.Stdout);
        Assert.True(row.Success, result.Stdout);
        double share = Number(row.Groups["share"].Value) / 100, gbps = Number(row.Groups["gbps"].Value);
        Assert.InRange(share, gbps / mean - 0.01, gbps / mean + 0.01);
        Assert.Matches(@"\| pp16 +\| +[0-9.]+ ± +[0-9.]+ \|", result.Stdout);
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
