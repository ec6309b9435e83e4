using System.Diagnostics;
using System.Runtime.Intrinsics;

namespace Sling.Evaluation;

/// <summary>
/// The machine's own read bandwidth: every thread sums its share of a buffer far larger than the
/// caches, as a weight-streaming matrix-vector product reads memory. The best of a few passes.
/// </summary>
public static class MemoryBandwidth
{
    public static double MeasureGBPerSecond(int threads, long bytes = 1L << 30, int passes = 4)
    {
        if (threads <= 0) threads = Environment.ProcessorCount;
        long count = bytes / sizeof(long);
        var data = GC.AllocateUninitializedArray<long>((int)count);
        Parallel.For(0, threads, t => data.AsSpan((int)(count * t / threads), (int)(count * (t + 1) / threads - count * t / threads)).Fill(t + 1));
        double best = 0;
        long sink = 0;
        for (int p = 0; p < passes; p++)
        {
            var clock = Stopwatch.StartNew();
            var sums = new long[threads];
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
            {
                var span = data.AsSpan((int)(count * t / threads), (int)(count * (t + 1) / threads - count * t / threads));
                var acc0 = Vector256<long>.Zero;
                var acc1 = Vector256<long>.Zero;
                int i = 0;
                for (; i <= span.Length - 8; i += 8)
                {
                    acc0 += Vector256.Create<long>(span.Slice(i, 4));
                    acc1 += Vector256.Create<long>(span.Slice(i + 4, 4));
                }
                sums[t] = Vector256.Sum(acc0 + acc1);
            });
            best = Math.Max(best, bytes / clock.Elapsed.TotalSeconds / 1e9);
            sink += sums.Sum();
        }
        GC.KeepAlive(sink);
        return best;
    }
}
