namespace Sling.Generation;

/// <summary>
/// Streams text while watching for stop strings: text that could still turn out to be the start of
/// a stop string is held back, and nothing from a stop string onwards is ever released.
/// </summary>
internal sealed class StopStringFilter(IReadOnlyList<string> stopStrings)
{
    private readonly string[] _stops = stopStrings.Where(s => s.Length > 0).ToArray();
    private string _pending = "";

    public bool Stopped { get; private set; }

    /// <summary>Adds generated text; returns what can be shown now.</summary>
    public string Push(string text)
    {
        if (Stopped) return "";
        _pending += text;
        int stopAt = -1;
        foreach (var s in _stops)
        {
            int i = _pending.IndexOf(s, StringComparison.Ordinal);
            if (i >= 0 && (stopAt < 0 || i < stopAt)) stopAt = i;
        }
        if (stopAt >= 0)
        {
            Stopped = true;
            string before = _pending[..stopAt];
            _pending = "";
            return before;
        }
        int hold = 0;
        foreach (var s in _stops)
            for (int len = Math.Min(s.Length - 1, _pending.Length); len > hold; len--)
                if (_pending.AsSpan(_pending.Length - len).SequenceEqual(s.AsSpan(0, len)))
                {
                    hold = len;
                    break;
                }
        string release = _pending[..^hold];
        _pending = _pending[^hold..];
        return release;
    }

    /// <summary>The held-back text once generation ends without a stop string.</summary>
    public string Flush()
    {
        string rest = Stopped ? "" : _pending;
        _pending = "";
        return rest;
    }
}
