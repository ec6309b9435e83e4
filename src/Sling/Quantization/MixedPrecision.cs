namespace Sling.Quantization;

/// <summary>
/// Chooses which eligible layers get the primary (4-bit) precision, as NNCF's data-free mixed
/// precision does: each layer's sensitivity score is 1 / (its int8 backup quantization error + ε);
/// layers are visited in ascending score order (largest int8 error first) and take the primary
/// precision while the primary share of eligible parameters stays below the ratio — the visit
/// stops at the first layer that would reach it. A ratio of 1 gives every eligible layer the primary
/// precision (NNCF skips the search then).
/// </summary>
public static class MixedPrecision
{
    public sealed record Candidate(string Name, long Parameters, double Int8Error);

    /// <summary>A layer and its sensitivity score: the least sensitive layers take the primary precision first.</summary>
    public sealed record ScoredLayer(string Name, long Parameters, double Score);

    public static HashSet<string> SelectPrimary(IReadOnlyList<Candidate> candidates, double ratio) =>
        SelectPrimary(candidates.Select(c => new ScoredLayer(c.Name, c.Parameters, 1.0 / (c.Int8Error + float.Epsilon))).ToList(), ratio);

    /// <summary>NNCF's selection for any sensitivity metric: ascending score, primary until the ratio would be reached.</summary>
    public static HashSet<string> SelectPrimary(IReadOnlyList<ScoredLayer> candidates, double ratio)
    {
        if (ratio >= 1) return candidates.Select(c => c.Name).ToHashSet();
        long total = candidates.Sum(c => c.Parameters);
        var chosen = new HashSet<string>();
        if (total == 0) return chosen;
        long primary = 0;
        // Stable sort: equal scores keep model order, as Python's sorted() does.
        foreach (var c in candidates.OrderBy(c => c.Score))
        {
            if ((double)(primary + c.Parameters) / total >= ratio) break;
            chosen.Add(c.Name);
            primary += c.Parameters;
        }
        return chosen;
    }
}
