using Sling.Models;

namespace Sling.Evaluation;

/// <summary>
/// What a model's changes (e.g. quantization) cost against a reference on the same text: the mean
/// KL divergence KL(reference ‖ model) of the next-token distributions, how often both pick the
/// same most likely token, and both perplexities.
/// </summary>
public static class ModelComparison
{
    public sealed record Result(double MeanKlDivergence, double TopOneAgreement, double Perplexity, double ReferencePerplexity, int ScoredTokens);

    public static Result Compare(Transformer model, Transformer reference, IReadOnlyList<int> tokens, int window, int stride, IProgress<double>? progress = null, int? vocabulary = null)
    {
        if (model.Config.VocabSize != reference.Config.VocabSize)
            throw new SlingException($"the models' vocabularies differ ({model.Config.VocabSize} vs {reference.Config.VocabSize} tokens); they cannot be compared");
        window = Math.Min(window, Math.Min(model.Config.MaxSeqLen, reference.Config.MaxSeqLen));
        stride = Math.Min(stride, window);
        double kl = 0, nll = 0, referenceNll = 0;
        int agree = 0, scored = 0;
        foreach (var (begin, end, first) in SlidingWindows.Plan(tokens.Count, window, stride))
        {
            var state = model.CreateState(end - begin);
            var referenceState = reference.CreateState(end - begin, state.BatchCapacity);
            int vocab = model.Config.VocabSize, batch = state.BatchCapacity;
            var chunk = new int[batch];
            for (int start = begin; start < end - 1; start += batch)
            {
                int count = Math.Min(batch, end - 1 - start);
                for (int i = 0; i < count; i++) chunk[i] = tokens[start + i];
                var rows = start + count >= first ? Models.LogitRows.All : Models.LogitRows.None;
                var logits = model.Forward(state, chunk.AsSpan(0, count), start - begin, rows);
                var referenceLogits = reference.Forward(referenceState, chunk.AsSpan(0, count), start - begin, rows);
                for (int i = 0; i < count; i++)
                {
                    int pos = start + i;
                    if (pos + 1 < first) continue;
                    Score(logits.Slice(i * vocab, vocab), referenceLogits.Slice(i * vocab, vocab), tokens[pos + 1]);
                }
            }
            progress?.Report((double)end / tokens.Count);
        }
        if (scored == 0) throw new SlingException("the text has fewer than 2 tokens; nothing to compare");
        return new Result(kl / scored, (double)agree / scored, Math.Exp(nll / scored), Math.Exp(referenceNll / scored), scored);

        void Score(ReadOnlySpan<float> logits, ReadOnlySpan<float> referenceLogits, int target)
        {
            int size = Math.Min(logits.Length, vocabulary ?? logits.Length); // ids past the tokenizer are never candidates
            var q = LogProbabilities.Of(logits[..size]);
            var p = LogProbabilities.Of(referenceLogits[..size]);
            double divergence = 0;
            for (int i = 0; i < p.Length; i++) divergence += Math.Exp(p[i]) * (p[i] - q[i]);
            kl += divergence;
            if (Generation.Sampler.ArgMax(logits[..size]) == Generation.Sampler.ArgMax(referenceLogits[..size])) agree++;
            nll -= q[target];
            referenceNll -= p[target];
            scored++;
        }
    }
}
