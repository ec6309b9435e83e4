namespace Sling.Generation;

/// <summary>
/// Picks the next token from logits: repetition penalty, then greedy argmax at temperature 0, or
/// else softmax(logits / T) restricted to the top-K and then to the top-P probability mass.
/// </summary>
internal sealed class Sampler
{
    private readonly GenerationOptions _options;
    private readonly RandomSource _random;
    private (int Id, float Value)[] _candidates = [];

    public Sampler(GenerationOptions options)
    {
        options.Validate();
        _options = options;
        _random = new RandomSource(options.Seed);
    }

    public int Sample(Span<float> logits, IReadOnlyList<int> history, IReadOnlyList<int>? generated = null)
    {
        ApplyRepetitionPenalty(logits, history);
        if (generated is not null) ApplyPresenceAndFrequencyPenalties(logits, generated);
        if (_options.Temperature == 0) return ArgMax(logits);

        int n = logits.Length;
        int keep = _options.TopK > 0 ? Math.Min(_options.TopK, n) : n;
        var c = Candidates(logits, keep);
        float max = c[0].Value;
        double sum = 0;
        for (int i = 0; i < keep; i++)
        {
            float p = MathF.Exp((c[i].Value - max) / _options.Temperature);
            c[i].Value = p;
            sum += p;
        }
        if (_options.TopP < 1)
        {
            double cumulative = 0;
            for (int i = 0; i < keep; i++)
            {
                cumulative += c[i].Value / sum;
                if (cumulative >= _options.TopP)
                {
                    keep = i + 1;
                    break;
                }
            }
            sum = 0;
            for (int i = 0; i < keep; i++) sum += c[i].Value;
        }

        double r = _random.NextSingle() * sum;
        double acc = 0;
        for (int i = 0; i < keep; i++)
        {
            acc += c[i].Value;
            if (r < acc) return c[i].Id;
        }
        return c[keep - 1].Id; // rounding left r at the very top
    }

    /// <summary>Highest logit first, ties by id (so the order never depends on a sort's internals): the
    /// <paramref name="keep"/> best of all, found with a bounded heap when that is fewer than all.</summary>
    internal Span<(int Id, float Value)> Candidates(ReadOnlySpan<float> logits, int keep)
    {
        int n = logits.Length;
        if (_candidates.Length < n) _candidates = new (int, float)[n];
        var c = _candidates.AsSpan(0, n);
        if (keep == n)
        {
            for (int i = 0; i < n; i++) c[i] = (i, logits[i]);
            c.Sort(BetterFirst);
            return c;
        }
        // A min-heap (worst on top) of the best `keep` seen so far.
        var heap = _candidates.AsSpan(0, keep);
        for (int i = 0; i < keep; i++) heap[i] = (i, logits[i]);
        for (int i = keep / 2 - 1; i >= 0; i--) SiftDown(heap, i);
        for (int i = keep; i < n; i++)
        {
            var item = (i, logits[i]);
            if (BetterFirst(item, heap[0]) >= 0) continue;
            heap[0] = item;
            SiftDown(heap, 0);
        }
        heap.Sort(BetterFirst);
        return heap;
    }

    private static int BetterFirst((int Id, float Value) a, (int Id, float Value) b) =>
        a.Value != b.Value ? b.Value.CompareTo(a.Value) : a.Id.CompareTo(b.Id);

    private static void SiftDown(Span<(int Id, float Value)> heap, int i)
    {
        while (true)
        {
            int worst = i, left = 2 * i + 1, right = left + 1;
            if (left < heap.Length && BetterFirst(heap[left], heap[worst]) > 0) worst = left;
            if (right < heap.Length && BetterFirst(heap[right], heap[worst]) > 0) worst = right;
            if (worst == i) return;
            (heap[i], heap[worst]) = (heap[worst], heap[i]);
            i = worst;
        }
    }

    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++)
            if (logits[i] > logits[best]) best = i;
        return best;
    }

    private void ApplyRepetitionPenalty(Span<float> logits, IReadOnlyList<int> history)
    {
        float penalty = _options.RepetitionPenalty;
        if (penalty == 1f || history.Count == 0) return;
        var seen = new HashSet<int>();
        for (int i = Math.Max(0, history.Count - _options.RepetitionWindow); i < history.Count; i++)
        {
            int id = history[i];
            if ((uint)id >= (uint)logits.Length || !seen.Add(id)) continue;
            logits[id] = logits[id] > 0 ? logits[id] / penalty : logits[id] * penalty;
        }
    }

    /// <summary>OpenAI's penalties over the answer so far: each token's logit drops by
    /// frequency × (times it occurred) + presence × (1 if it occurred).</summary>
    private void ApplyPresenceAndFrequencyPenalties(Span<float> logits, IReadOnlyList<int> generated)
    {
        if ((_options.PresencePenalty == 0 && _options.FrequencyPenalty == 0) || generated.Count == 0) return;
        var counts = new Dictionary<int, int>();
        foreach (int id in generated) counts[id] = counts.GetValueOrDefault(id) + 1;
        foreach (var (id, count) in counts)
            if ((uint)id < (uint)logits.Length) logits[id] -= _options.FrequencyPenalty * count + _options.PresencePenalty;
    }
}
