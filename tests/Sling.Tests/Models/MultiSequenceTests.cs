using Sling.Models;
using Sling.Tests.Support;

namespace Sling.Tests.Models;

/// <summary>
/// Tokens of several sequences in one forward pass (continuous batching) compute what each sequence
/// computes alone: the weights are shared, every cache and position stays the sequence's own.
/// </summary>
public class MultiSequenceTests
{
    public static TheoryData<string> Models() => new() { "models/hf-tiny/llama", "models/hf-tiny/phi", "models/gguf/quant/model-q8_0.gguf" };

    [SharedTheory("models/hf-tiny/llama/config.json", "models/gguf/quant/model-q8_0.gguf")]
    [MemberData(nameof(Models))]
    public void ABatchOfSequencesMatchesEachSequenceAlone(string relative)
    {
        using var model = ModelLoader.LoadTransformer(SharedData.PathOf(relative));
        int vocab = model.Config.VocabSize;
        // Three sequences of different lengths: a prompt, then tokens fed one at a time.
        int[][] texts = [Engine.RandomTokens(1, 9, vocab), Engine.RandomTokens(2, 5, vocab), Engine.RandomTokens(3, 12, vocab)];

        // Alone: each sequence token by token.
        var alone = texts.Select(t => Engine.Logits(model, t)).ToArray();

        // Together: at each step every sequence that still has tokens contributes one, except that the
        // third sequence's first four tokens arrive as one chunk beside the others' single tokens.
        var states = texts.Select(_ => model.CreateState(16)).ToArray();
        var batch = model.CreateBatch(8);
        var next = new int[3];
        var together = texts.Select(t => new float[t.Length][]).ToArray();
        while (next.Select((p, s) => p < texts[s].Length).Any(x => x))
        {
            var items = new List<BatchItem>();
            for (int s = 0; s < 3; s++)
            {
                int take = s == 2 && next[s] == 0 ? 4 : 1;
                for (int k = 0; k < take && next[s] + k < texts[s].Length; k++)
                    items.Add(new BatchItem(states[s], texts[s][next[s] + k], next[s] + k, WantLogits: k == take - 1 || next[s] + k == texts[s].Length - 1));
            }
            model.Forward(batch, items.ToArray());
            foreach (var item in items.Where(i => i.WantLogits))
            {
                int s = Array.IndexOf(states, item.State);
                together[s][item.Position] = (float[])item.State.Logits.Clone();
            }
            for (int s = 0; s < 3; s++) next[s] += items.Count(i => i.State == states[s]);
        }

        for (int s = 0; s < 3; s++)
            for (int p = 0; p < texts[s].Length; p++)
            {
                if (together[s][p] == null) continue; // inside the chunk: no logits asked for
                double num = 0, den = 0;
                for (int v = 0; v < vocab; v++)
                {
                    double d = together[s][p][v] - alone[s][p][v];
                    num += d * d;
                    den += (double)alone[s][p][v] * alone[s][p][v];
                }
                Assert.True(Math.Sqrt(num / den) < 1e-5, $"sequence {s} position {p}: relative L2 {Math.Sqrt(num / den):E2}");
            }
        Assert.Equal(texts.Select(t => t.Length), states.Select(st => st.Length));
    }
}
