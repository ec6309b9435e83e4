using Sling.Models;

namespace Sling.Evaluation;

/// <summary>Token-level perplexity: exp of the mean negative log-likelihood of each next token.</summary>
public static class Perplexity
{
    public sealed record Result(double Perplexity, double MeanNegativeLogLikelihood, int ScoredTokens);

    /// <summary>
    /// Perplexity of <paramref name="tokens"/>. <paramref name="vocabulary"/> (the tokenizer's size)
    /// leaves out the ids a padded embedding has beyond the tokenizer, as generation does.
    /// </summary>
    public static Result Compute(Transformer model, IReadOnlyList<int> tokens, int window, int stride, IProgress<double>? progress = null, int? vocabulary = null)
    {
        double nll = 0;
        int scored = 0;
        ForEachPrediction(model, tokens, window, stride, (int target, ReadOnlySpan<float> logits) =>
        {
            nll -= LogProbabilities.Of(logits[..Math.Min(logits.Length, vocabulary ?? logits.Length)])[target];
            scored++;
        }, progress);
        if (scored == 0) throw new SlingException("the text has fewer than 2 tokens; nothing to score");
        return new Result(Math.Exp(nll / scored), nll / scored, scored);
    }

    /// <summary>Calls <paramref name="score"/> with each target token and the logits that predicted it.</summary>
    public static void ForEachPrediction(Transformer model, IReadOnlyList<int> tokens, int window, int stride,
        Action<int, ReadOnlySpan<float>> score, IProgress<double>? progress = null)
    {
        window = Math.Min(window, model.Config.MaxSeqLen);
        stride = Math.Min(stride, window);
        foreach (var (begin, end, first) in SlidingWindows.Plan(tokens.Count, window, stride))
        {
            var state = model.CreateState(end - begin);
            var inputs = new ListSlice(tokens, begin, end - 1 - begin);
            model.ForEachLogits(state, inputs, first - 1 - begin, (i, logits) => score(tokens[begin + i + 1], logits));
            progress?.Report((double)end / tokens.Count);
        }
    }
}

/// <summary>A read-only window of a list, without copying.</summary>
internal sealed class ListSlice(IReadOnlyList<int> list, int start, int count) : IReadOnlyList<int>
{
    public int this[int index] => (uint)index < (uint)count ? list[start + index] : throw new ArgumentOutOfRangeException(nameof(index));
    public int Count => count;
    public IEnumerator<int> GetEnumerator()
    {
        for (int i = 0; i < count; i++) yield return list[start + i];
    }
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
