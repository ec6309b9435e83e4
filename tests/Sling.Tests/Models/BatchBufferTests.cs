using Sling.Kernels;
using Sling.Models;
using Sling.Tests.Support;

namespace Sling.Tests.Models;

/// <summary>
/// A prompt's rows (the batch capacity's activations and their int8 form) live only while prompts
/// run: the first one-token pass returns them, so generating holds one token's rows besides the cache.
/// </summary>
public class BatchBufferTests
{
    [Fact]
    public void APromptsRowsAreReturnedWhenGenerationStarts()
    {
        using var model = SyntheticModels.Create("smollm2-135m", "q4_0", threads: 2, layers: 1);
        var state = model.CreateState(300, batchCapacity: 256);
        var prompt = Engine.RandomTokens(7, 40, model.Config.VocabSize);
        model.Prefill(state, prompt, 0);
        long prompting = state.BufferBytes;
        // 256 rows of the residual stream alone: 256 × 576 floats.
        Assert.True(prompting >= 256L * model.Config.Dim * sizeof(float), $"{prompting:N0} bytes while prompting");

        model.Forward(state, 5, prompt.Length);
        long generating = state.BufferBytes;
        Assert.True(generating * 100 < prompting, $"{generating:N0} bytes while generating, {prompting:N0} while prompting");

        // A second prompt (the next chat turn) makes them again, and the results do not depend on it.
        var again = model.CreateState(300, batchCapacity: 1);
        model.Prefill(again, prompt, 0);
        model.Forward(again, 5, prompt.Length);
        var follow = Engine.RandomTokens(8, 12, model.Config.VocabSize);
        var batched = model.Prefill(state, follow, prompt.Length + 1).ToArray();
        var oneByOne = model.Prefill(again, follow, prompt.Length + 1).ToArray();
        Assert.True(state.BufferBytes > generating);
        Assert.Equal(oneByOne.Length, batched.Length);
        for (int v = 0; v < batched.Length; v++) Assert.Equal(oneByOne[v], batched[v], 1e-3f);
    }

    [Fact]
    public void ASequenceContinuesInABatchWithItsOwnLogits()
    {
        // Passes are numbered across buffer sets: a state prefilled in its own set and then run in a
        // batch's must get the batch pass's logits, not keep its prompt's.
        using var model = SyntheticModels.Create("smollm2-135m", "q4_0", threads: 2, layers: 1);
        int vocab = model.Config.VocabSize;
        var text = Engine.RandomTokens(11, 9, vocab);
        var alone = Engine.Logits(model, text);

        var state = model.CreateState(16);
        model.Prefill(state, text.AsSpan(0, 6), 0);
        var batch = model.CreateBatch(4);
        for (int p = 6; p < text.Length; p++)
        {
            model.Forward(batch, [new BatchItem(state, text[p], p)]);
            for (int v = 0; v < vocab; v++) Assert.Equal(alone[p][v], state.Logits[v], 1e-3f);
        }
    }

    [Fact]
    public void NativeRowsRefuseUseAfterTheyAreReturned()
    {
        var rows = new NativeArray<float>(1 << 20);
        rows[5] = 3;
        Assert.Equal(3, rows.Span[5]);
        Assert.Equal(0, rows.Span[(1 << 20) - 1]); // fresh memory is zeroed
        rows.Dispose();
        Assert.Throws<ObjectDisposedException>(() => rows.Span.Length);
        Assert.Throws<IndexOutOfRangeException>(() => new NativeArray<int>(3)[3]);
    }
}
