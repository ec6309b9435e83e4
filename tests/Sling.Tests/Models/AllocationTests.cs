using Sling.Models;

namespace Sling.Tests.Models;

/// <summary>
/// Generating a token allocates nothing on the managed heap once a sequence is running. Counted on
/// the calling thread, which runs every step of the pass and its share of each parallel operation
/// (the process-wide count also sees the runtime's own background work, which varies with time).
/// </summary>
public class AllocationTests
{
    [Theory]
    [InlineData("smollm2-135m", "q4_0")]
    [InlineData("phi-2", "q4_0")]
    [InlineData("qwen2.5-0.5b", "q4_k")]
    [InlineData("stories15m", "f32")]
    public void GeneratingATokenAllocatesNothing(string shape, string format)
    {
        using var model = SyntheticModels.Create(shape, format, threads: 2, layers: 1);
        var state = model.CreateState(160);
        int position = 0;
        model.Prefill(state, [1, 2, 3, 4, 5, 6, 7, 8], position);
        position += 8;
        for (int i = 0; i < 24; i++) model.Forward(state, 10 + i, position++); // warm-up: buffers made on first use
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 64; i++) model.Forward(state, 20 + i, position++);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated == 0, $"{shape} {format}: 64 tokens allocated {allocated:N0} bytes");
    }
}
