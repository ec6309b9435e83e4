using Sling.Models;

namespace Sling.Tests.Support;

public static class Engine
{
    /// <summary>Logits at every position when <paramref name="tokens"/> are fed in order through the KV cache.</summary>
    public static float[][] Logits(Transformer model, IReadOnlyList<int> tokens)
    {
        var state = model.CreateState();
        return tokens.Select((t, pos) => (float[])model.Forward(state, t, pos).Clone()).ToArray();
    }

    /// <summary>Logits at every position when <paramref name="tokens"/> are fed in batches of <paramref name="batch"/>.</summary>
    public static float[][] BatchLogits(Transformer model, IReadOnlyList<int> tokens, int batch)
    {
        var state = model.CreateState(batchCapacity: batch);
        var result = new float[tokens.Count][];
        model.ForEachLogits(state, tokens, 0, (i, logits) => result[i] = logits.ToArray());
        return result;
    }

    public static int[] RandomTokens(int seed, int count, int vocab)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => rng.Next(vocab)).ToArray();
    }
}
