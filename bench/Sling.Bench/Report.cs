using Sling.Models;

namespace Sling.Bench;

internal static class Report
{
    public static void Weights(Transformer model)
    {
        var w = model.Weights;
        var matrices = w.Layers.SelectMany(l => l.Linears().Select(x => x.Linear.Weight)).Append(w.Embedding);
        if (!ReferenceEquals(w.Classifier.Weight, w.Embedding)) matrices = matrices.Append(w.Classifier.Weight);
        long bytes = matrices.Sum(m => m.ByteSize);
        Console.WriteLine($"parameters {model.ParameterCount():N0}");
        Console.WriteLine($"weights    {bytes:N0} bytes ({bytes / 1048576.0:F1} MiB, {string.Join("/", matrices.Select(m => m.Format).Distinct())})");
    }

    public static void Speeds(List<double> tokensPerSecond, int tokens, int threads)
    {
        tokensPerSecond.Sort();
        Console.WriteLine($"generation {tokens} tokens x {tokensPerSecond.Count} runs, {threads} threads: " +
                          $"median {tokensPerSecond[tokensPerSecond.Count / 2]:F1} tok/s, best {tokensPerSecond[^1]:F1} tok/s");
    }
}
