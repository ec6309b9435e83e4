namespace Sling.Evaluation;

/// <summary>
/// Overlapping windows over a long token sequence, the usual way to score text longer than the
/// context: each window starts fresh, and only the positions the previous window did not score are
/// scored, so every token after the first is predicted once, with up to a window of context.
/// </summary>
internal static class SlidingWindows
{
    /// <summary>(Begin, End, FirstScored): feed tokens [Begin, End); score targets FirstScored..End-1.</summary>
    public static IEnumerable<(int Begin, int End, int FirstScored)> Plan(int tokens, int window, int stride)
    {
        if (window < 2) throw new SlingException($"the scoring window must hold at least 2 tokens (got {window})");
        if (stride < 1 || stride > window) throw new SlingException($"the stride must be in 1..{window} (got {stride})");
        int scoredUntil = 1;
        for (int begin = 0; scoredUntil < tokens; begin += stride)
        {
            int end = Math.Min(begin + window, tokens);
            if (end > scoredUntil) yield return (begin, end, Math.Max(scoredUntil, begin + 1));
            scoredUntil = end;
        }
    }
}
