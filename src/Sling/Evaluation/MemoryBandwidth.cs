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
    /// A buffer (huge pages, as the weights) that a compute pool's threads read once per
    /// <see cref="Pass"/>: cheap enough (a few milliseconds) to take between a benchmark's tokens.
    /// Disposing unmaps it.
    /// </summary>
    internal sealed unsafe class Sampler : IParallelJob, IDisposable
    {
        private readonly ComputePool _pool;
        private readonly long _share;
        private readonly NativeArray<byte> _buffer;
        private readonly long[] _sums;

        /// <summary>A buffer of <paramref name="bytes"/>, every page made, for <paramref name="pool"/>'s threads to read.</summary>
        public Sampler(ComputePool pool, long bytes = 128L << 20)
        {
            _pool = pool;
            _share = bytes / pool.Threads / 256 * 256;
            if (_share <= 0 || _share * pool.Threads > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(bytes), $"{bytes} bytes over {pool.Threads} threads");
            long whole = _share * pool.Threads;
            _buffer = new NativeArray<byte>((int)whole);
            Pages.AdviseHuge(_buffer.Pointer, (nuint)whole);
            _buffer.Span.Fill(1); // every page made before the first pass
            _sums = new long[pool.Threads];
        }

        /// <summary>One read of the whole buffer by every thread of the pool: GB/s.</summary>
        public double Pass()
        {
            long start = Stopwatch.GetTimestamp();
            _pool.Run(_pool.Threads, this);
            return _share * _pool.Threads / Stopwatch.GetElapsedTime(start).TotalSeconds / 1e9;
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
