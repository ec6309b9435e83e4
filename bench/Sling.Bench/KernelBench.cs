using System.Diagnostics;
using Sling.Kernels;
using Sling.Models;

namespace Sling.Bench;

/// <summary>One weight matrix times a batch of activation rows: GB/s of weights and GOP/s, per kernel path.</summary>
internal static class KernelBench
{
    public static void Run(int rows, int cols, string format, int tokens, int threads, KernelIsa isa, double seconds)
    {
        var (m, matrix, input, y) = Build(rows, cols, format, tokens, isa);
        var pool = ComputePool.Get(threads);
        var product = new MatMul();
        // The interleaved layout's assembled VNNI kernel (where it runs) against its .NET path, then float activations.
        var runs = matrix is RowBlockMatrix packed && packed.Vnni
            ? new[] { (true, true), (true, false), (false, false) }
            : m is AffineBlockMatrix ? new[] { (true, false) } : new[] { (true, false), (false, false) };
        foreach (var (integer, vnni) in runs)
        {
            if (matrix is RowBlockMatrix p) p.Vnni = vnni;
            double perRun = Fastest(pool, product, matrix, input, y, integer, seconds);
            Console.WriteLine($"{format} {rows}x{cols} × {tokens} tokens, {isa}{(KernelIsas.Runs(isa) ? "" : " (its AVX2 form)")}{(matrix is RowBlockMatrix ? " interleaved" : "")}{(vnni ? " VNNI (assembled)" : "")}, {(integer ? "int8" : "float")} activations, {pool.Threads} threads: " +
                              $"{perRun * 1e6:F0} µs, {m.ByteSize / perRun / 1e9:F1} GB/s of weights, {2.0 * rows * cols * tokens / perRun / 1e9:F1} GOP/s");
        }
    }

    /// <summary>GOP/s of the product with int8 activations on the kernels the models run for <paramref name="isa"/> (the fastest of many runs).</summary>
    public static double IntegerRate(int rows, int cols, string format, int tokens, int threads, KernelIsa isa, double seconds)
    {
        var (_, matrix, input, y) = Build(rows, cols, format, tokens, isa);
        return 2.0 * rows * cols * tokens / Fastest(ComputePool.Get(threads), new MatMul(), matrix, input, y, integer: true, seconds) / 1e9;
    }

    // The format's matrix of random weights (m) and, from AVX2 on, the interleaved layout the models run (matrix; the group matrix below that), with random activation rows.
    private static (WeightMatrix Source, WeightMatrix Matrix, ActivationRows Input, float[] Output) Build(int rows, int cols, string format, int tokens, KernelIsa isa)
    {
        var rng = new Random(1);
        // AVX-VNNI's kernels run in their exact AVX2 form on a CPU without it (slower: for checking, not speed).
        if (!KernelIsas.Runs(isa) && !(isa == KernelIsa.AvxVnni && KernelIsas.Runs(KernelIsa.Avx2)))
            throw new ArgumentException($"this CPU does not run {isa}: {string.Join(", ", KernelIsas.Available)}");
        var m = RawKQuants.Types.ContainsKey(format) ? RawKQuants.Matrix(rows, cols, format) : SyntheticModels.Matrix(rows, cols, format);
        if (m is GroupMatrix group) group.Isa = isa;
        else if (m is not (AffineBlockMatrix or RowBlockMatrix) || isa < KernelIsa.Avx2)
            throw new ArgumentException($"format {format}: q4_0, q8_0, int4, int8 (any ISA), q4_k, {string.Join(", ", RawKQuants.Types.Keys)} (AVX2 and wider: the interleaved layout)");
        var input = new ActivationRows(tokens, cols);
        input.SetCount(tokens);
        for (int i = 0; i < input.Active.Length; i++) input.Active[i] = (float)(rng.NextDouble() - 0.5);
        WeightMatrix matrix = m;
        if (isa >= KernelIsa.Avx2 && StreamBench.Repacked(m) is RowBlockMatrix repacked)
        {
            repacked.Isa = isa;
            matrix = repacked;
        }
        return (m, matrix, input, new float[tokens * rows]);
    }

    // Seconds per product, the fastest of the runs in `seconds` after a warm-up: this shared machine's other load only ever slows a run down.
    private static double Fastest(ComputePool pool, MatMul product, WeightMatrix matrix, ActivationRows input, float[] y, bool integer, double seconds)
    {
        product.Run(pool, matrix, input, y, integer);
        double perRun = double.MaxValue;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            long start = Stopwatch.GetTimestamp();
            input.Changed(); // quantization counted, as in the model
            product.Run(pool, matrix, input, y, integer);
            perRun = Math.Min(perRun, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        return perRun;
    }
}
