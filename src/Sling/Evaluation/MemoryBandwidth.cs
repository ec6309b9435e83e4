using System.Diagnostics;
using System.Runtime.Intrinsics;
using Sling.Kernels;

namespace Sling.Evaluation;

/// <summary>
/// The machine's own read bandwidth: the compute pool's threads sum their shares of a buffer larger
/// than the caches with wide loads, as a weight-streaming matrix-vector product reads memory. A shared
/// machine's bandwidth moves with its neighbours' load (this one's comes in bursts of seconds at
/// nearly twice its usual speed), so a benchmark samples it in the same seconds as its own runs
/// (<see cref="Sampler"/>).
/// </summary>
public static class MemoryBandwidth
{
    /// <summary>The best of <paramref name="passes"/> passes over <paramref name="bytes"/>: what the memory can do at its fastest.</summary>
    public static double MeasureGBPerSecond(int threads, long bytes = 1L << 30, int passes = 5) => Sample(threads, bytes, passes).Max();

    /// <summary>Each of <paramref name="passes"/> passes' GB/s over a fresh buffer of <paramref name="bytes"/>, unmapped before this returns.</summary>
    public static IReadOnlyList<double> Sample(int threads, long bytes = 256L << 20, int passes = 4)
    {
        if (passes <= 0) throw new ArgumentOutOfRangeException(nameof(passes), $"{passes} passes");
        using var sampler = new Sampler(ComputePool.Get(threads), bytes);
        return Enumerable.Range(0, passes).Select(_ => sampler.Pass()).ToArray();
    }

    /// <summary>
    /// A buffer of <paramref name="bytes"/> (huge pages, as the weights) that <paramref name="pool"/>'s
    /// threads read once per <see cref="Pass"/>: cheap enough (a few milliseconds) to take between a
    /// benchmark's tokens. Disposing unmaps it.
    /// </summary>
    internal sealed unsafe class Sampler(ComputePool pool, long bytes = 128L << 20) : IParallelJob, IDisposable
    {
        private readonly long _share = ShareOf(bytes, pool.Threads);
        private readonly NativeArray<byte> _buffer = Filled(bytes, pool.Threads);
        private readonly long[] _sums = new long[pool.Threads];

        private static long ShareOf(long bytes, int threads)
        {
            long share = bytes / threads / 256 * 256;
            if (share <= 0 || share * threads > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(bytes), $"{bytes} bytes over {threads} threads");
            return share;
        }

        private static NativeArray<byte> Filled(long bytes, int threads)
        {
            long whole = ShareOf(bytes, threads) * threads;
            var buffer = new NativeArray<byte>((int)whole);
            Pages.AdviseHuge(buffer.Pointer, (nuint)whole);
            buffer.Span.Fill(1); // every page made before the first pass
            return buffer;
        }

        /// <summary>One read of the whole buffer by every thread of the pool: GB/s.</summary>
        public double Pass()
        {
            long start = Stopwatch.GetTimestamp();
            pool.Run(pool.Threads, this);
            return _share * pool.Threads / Stopwatch.GetElapsedTime(start).TotalSeconds / 1e9;
        }

        void IParallelJob.Execute(int item)
        {
            byte* at = _buffer.Pointer + item * _share, end = at + _share;
            Vector256<long> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; at < end; at += 128)
            {
                a0 += Vector256.Load((long*)at);
                a1 += Vector256.Load((long*)(at + 32));
                a2 += Vector256.Load((long*)(at + 64));
                a3 += Vector256.Load((long*)(at + 96));
            }
            _sums[item] = Vector256.Sum(a0 + a1 + a2 + a3); // kept, so the loads are not dropped
        }

        public void Dispose() => _buffer.Dispose();
    }
}
