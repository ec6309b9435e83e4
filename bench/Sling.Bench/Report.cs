using Sling.Models;

namespace Sling.Bench;

internal static class Report
{
    public static void Weights(Transformer model)
    {
        var s = ModelSummary.Of(model);
        Console.WriteLine($"parameters {s.Parameters:N0}");
        Console.WriteLine($"weights    {s.WeightBytes:N0} bytes ({s.WeightBytes / 1048576.0:F1} MiB, {string.Join("/", s.Formats)}, {s.BitsPerWeight(model):F2} bits/weight)");
    }

    public static void Speeds(List<double> tokensPerSecond, int tokens, int threads)
    {
        tokensPerSecond.Sort();
        Console.WriteLine($"generation {tokens} tokens x {tokensPerSecond.Count} runs, {threads} threads: " +
                          $"median {tokensPerSecond[tokensPerSecond.Count / 2]:F1} tok/s, best {tokensPerSecond[^1]:F1} tok/s");
    }
}
