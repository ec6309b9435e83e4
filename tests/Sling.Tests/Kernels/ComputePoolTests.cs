using Sling.Kernels;
using Xunit;

namespace Sling.Tests.Kernels;

/// <summary>The worker pool: every item once, whether its workers were spinning or asleep.</summary>
public class ComputePoolTests
{
    private sealed class Count(int items) : IParallelJob
    {
        public readonly int[] Runs = new int[items];
        public readonly HashSet<int> Threads = [];

        public void Execute(int item)
        {
            Interlocked.Increment(ref Runs[item]);
            lock (Threads) Threads.Add(Environment.CurrentManagedThreadId);
            Thread.SpinWait(2000); // long enough that one thread cannot take every item first
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task EveryItemRunsOnceBackToBackAndAfterTheWorkersSleep(int threads)
    {
        var pool = ComputePool.Get(threads);
        var used = new HashSet<int>();
        // A lost wake-up would leave the caller waiting for a sleeping worker: a failure, not a hang.
        var run = Task.Run(() =>
        {
            for (int op = 0; op < 200; op++)
            {
                // Every tenth operation comes after the workers have stopped watching and gone to sleep.
                if (op % 10 == 0) Thread.Sleep(ComputePool.SpinMicroseconds / 1000 + 5);
                var job = new Count(64);
                pool.Run(64, job);
                Assert.All(job.Runs, runs => Assert.Equal(1, runs));
                used.UnionWith(job.Threads);
            }
        });
        await run.WaitAsync(TimeSpan.FromSeconds(60)); // TimeoutException: an operation never ended
        Assert.True(used.Count > 1, "the workers never took an item");
    }

    private sealed class Fail : IParallelJob
    {
        public void Execute(int item)
        {
            if (item == 7) throw new InvalidOperationException("item 7");
        }
    }

    [Fact]
    public void AFailingItemFailsTheOperationAndThePoolGoesOn()
    {
        var pool = ComputePool.Get(2);
        var e = Assert.Throws<InvalidOperationException>(() => pool.Run(32, new Fail()));
        Assert.Equal("item 7", e.Message);
        var job = new Count(16);
        pool.Run(16, job);
        Assert.All(job.Runs, runs => Assert.Equal(1, runs));
    }
}
