using System.Diagnostics;
using System.Runtime.Intrinsics;

namespace Sling.Evaluation;

/// <summary>
/// The machine's own read bandwidth: every thread sums its share of a buffer far larger than the
/// caches with wide loads, as a weight-streaming matrix-vector product reads memory. A shared machine's
/// bandwidth moves with its neighbours' load (this one's comes in bursts of seconds at nearly twice
/// its usual speed), so a benchmark samples it in the same seconds as its own runs (<see cref="Sample"/>).
/// </summary>
public static unsafe class MemoryBandwidth
{
    /// <summary>The best of <paramref name="passes"/> passes over <paramref name="bytes"/>: what the memory can do at its fastest.</summary>
    public static double MeasureGBPerSecond(int threads, long bytes = 1L << 30, int passes = 5) => Sample(threads, bytes, passes).Max();

    /// <summary>
    /// Each of <paramref name="passes"/> passes' GB/s over a fresh buffer of <paramref name="bytes"/>,
    /// unmapped before this returns (a sample taken between a benchmark's runs adds nothing to its
    /// resident memory).
    /// </summary>
    public static IReadOnlyList<double> Sample(int threads, long bytes = 256L << 20, int passes = 4)
    {
        if (threads <= 0) threads = Environment.ProcessorCount;
        long share = bytes / threads / 256 * 256;
        if (share <= 0 || share > int.MaxValue || passes <= 0) throw new ArgumentOutOfRangeException(nameof(bytes), $"{bytes} bytes over {threads} threads, {passes} passes");
        using var buffer = new Kernels.NativeArray<byte>((int)Math.Min(share * threads, int.MaxValue));
        byte* data = buffer.Pointer;
        Kernels.Pages.AdviseHuge(data, (nuint)(share * threads)); // as the weights are stored
        var options = new ParallelOptions { MaxDegreeOfParallelism = threads };
        Parallel.For(0, threads, options, t => new Span<byte>(data + t * share, (int)share).Fill((byte)(t + 1)));
        var speeds = new double[passes];
        long sink = 0;
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
            speeds[p] = share * threads / clock.Elapsed.TotalSeconds / 1e9;
            sink += sums.Sum();
        }
        GC.KeepAlive(sink);
        return speeds;
    }
}
