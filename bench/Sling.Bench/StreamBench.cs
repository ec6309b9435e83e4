using System.Diagnostics;
using Sling.Evaluation;
using Sling.Kernels;
using Sling.Models;

namespace Sling.Bench;

/// <summary>
/// Generation's memory traffic without the model: one activation row times many distinct weight
/// matrices of one product's size, one after another, together far larger than the caches (as a
/// generated token reads every layer's weights once). Prints the weights' GB/s against the machine's
/// read bandwidth sampled between passes, and the same bytes as one matrix: what a product's start
/// and end cost when the weights come from memory.
/// </summary>
internal static class StreamBench
{
    public static void Run(int rows, int cols, string format, int copies, int threads, int passes)
    {
        var pool = ComputePool.Get(threads);
        var source = SyntheticModels.Matrix(rows, cols, format);
        var matrices = Enumerable.Range(0, copies).Select(_ => Repacked(source)).ToArray();
        var whole = Repacked(SyntheticModels.Matrix(rows * copies, cols, format));
        long bytes = matrices.Sum(m => m.ByteSize);
        var rng = new Random(1);
        var input = new ActivationRows(1, cols);
        input.SetCount(1);
        for (int i = 0; i < cols; i++) input.Active[i] = (float)(rng.NextDouble() - 0.5);
        var y = new float[rows * copies];
        var product = new MatMul();
        using var bandwidth = new MemoryBandwidth.Sampler(pool);
        Console.WriteLine($"{format} {copies} matrices of {rows}x{cols} ({bytes / 1e6:F0} MB) against one of {rows * copies}x{cols}, 1 activation row, {pool.Threads} threads, {passes} passes each, alternating");
        var (split, one, sampled) = (new List<double>(), new List<double>(), new List<double>());
        for (int pass = -1; pass < passes; pass++) // pass −1: warm-up
        {
            long start = Stopwatch.GetTimestamp();
            foreach (var m in matrices)
            {
                input.Changed();
                product.Run(pool, m, input, y, integer: true);
            }
            double a = Stopwatch.GetElapsedTime(start).TotalSeconds;
            start = Stopwatch.GetTimestamp();
            input.Changed();
            product.Run(pool, whole, input, y, integer: true);
            double b = Stopwatch.GetElapsedTime(start).TotalSeconds;
            double gb = bandwidth.Pass();
            if (pass < 0) continue;
            split.Add(bytes / a / 1e9);
            one.Add(whole.ByteSize / b / 1e9);
            sampled.Add(gb);
        }
        Console.WriteLine($"{copies} products: {Summary(split)} GB/s; one product: {Summary(one)} GB/s; read bandwidth sampled between passes: {Summary(sampled)} GB/s");
        Console.WriteLine($"ratio of the products to the one product: {split.Average() / one.Average():F2}; to the sampled bandwidth: {split.Average() / sampled.Average():F2}");
    }

    /// <summary>The matrix in the kernels' interleaved layout where its format has one, else itself.</summary>
    internal static WeightMatrix Repacked(WeightMatrix m)
    {
        bool repack = m switch { GroupMatrix g => RowBlockMatrix.CanRepack(g), AffineBlockMatrix k => RowBlockMatrix.CanRepack(k), _ => false };
        return repack ? RowBlockMatrix.Repack(m) : m;
    }

    private static string Summary(List<double> values)
    {
        var (mean, sd) = SpeedBenchmark.Spread(values);
        return $"{mean:F1} ± {sd:F1}";
    }
}
