using System.Diagnostics;
using System.Runtime.Intrinsics;

namespace Sling.Evaluation;

/// <summary>
/// The machine's own read bandwidth: every thread sums its share of a buffer far larger than the
/// caches with wide loads, as a weight-streaming matrix-vector product reads memory. Best of a few passes.
/// </summary>
public static unsafe class MemoryBandwidth
{
    public static double MeasureGBPerSecond(int threads, long bytes = 1L << 30, int passes = 5)
    {
        if (threads <= 0) threads = Environment.ProcessorCount;
        var buffer = new Kernels.NativeBuffer(bytes);
        byte* data = buffer.Pointer;
        long share = bytes / threads / 256 * 256;
        Parallel.For(0, threads, t => new Span<byte>(data + t * share, (int)Math.Min(share, int.MaxValue)).Fill((byte)(t + 1)));
        double best = 0;
        long sink = 0;
        var options = new ParallelOptions { MaxDegreeOfParallelism = threads };
        for (int p = 0; p < passes; p++)
        {
            var sums = new long[threads];
            var clock = Stopwatch.StartNew();
            Parallel.For(0, threads, options, t =>
            {
                byte* at = data + t * share, end = at + share;
                Vector256<long> a0 = default, a1 = default, a2 = default, a3 = default;
                for (; at < end; at += 128)
                {
                    a0 += Vector256.Load((long*)at);
                    a1 += Vector256.Load((long*)(at + 32));
                    a2 += Vector256.Load((long*)(at + 64));
                    a3 += Vector256.Load((long*)(at + 96));
                }
                sums[t] = Vector256.Sum(a0 + a1 + a2 + a3);
            });
            best = Math.Max(best, share * threads / clock.Elapsed.TotalSeconds / 1e9);
            sink += sums.Sum();
        }
        GC.KeepAlive(buffer);
        GC.KeepAlive(sink);
        return best;
    }
}
