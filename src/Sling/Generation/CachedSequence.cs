using Sling.Models;

namespace Sling.Generation;

/// <summary>A sequence's state with the tokens whose keys and values its cache holds, in position order.</summary>
internal sealed class CachedSequence(InferenceState state)
{
    public InferenceState State { get; } = state;

    /// <summary>Token at each cached position 0..Count-1.</summary>
    public List<int> Fed { get; } = [];

    public int CommonPrefix(IReadOnlyList<int> tokens)
    {
        int n = Math.Min(Fed.Count, tokens.Count), i = 0;
        while (i < n && Fed[i] == tokens[i]) i++;
        return i;
    }

    /// <summary>Forgets positions from <paramref name="length"/> on (they are overwritten when fed again).</summary>
    public void Truncate(int length)
    {
        if (length < Fed.Count) Fed.RemoveRange(length, Fed.Count - length);
    }
}
