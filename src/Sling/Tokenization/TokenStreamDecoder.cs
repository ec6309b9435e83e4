using System.Text;

namespace Sling.Tokenization;

/// <summary>
/// Turns a stream of token bytes into text, holding back the bytes of a UTF-8 character until all of
/// them have arrived, so a character split across tokens never prints as garbage.
/// </summary>
public sealed class TokenStreamDecoder
{
    private readonly List<byte> _pending = new();

    /// <summary>Adds bytes and returns the text that is now complete (possibly empty).</summary>
    public string Append(ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes) _pending.Add(b);
        int complete = CompletePrefixLength();
        if (complete == 0) return string.Empty;
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_pending)[..complete];
        string text = Encoding.UTF8.GetString(span);
        _pending.RemoveRange(0, complete);
        return text;
    }

    /// <summary>Returns whatever is left; an unfinished character becomes U+FFFD.</summary>
    public string Flush()
    {
        if (_pending.Count == 0) return string.Empty;
        string text = Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_pending));
        _pending.Clear();
        return text;
    }

    // Length of the longest prefix that does not end inside an unfinished multi-byte character.
    private int CompletePrefixLength()
    {
        int n = _pending.Count;
        // Look back at most 3 bytes for the lead byte of the last character.
        for (int back = 1; back <= Math.Min(3, n); back++)
        {
            byte b = _pending[n - back];
            if ((b & 0xC0) == 0x80) continue; // continuation byte: keep looking for its lead
            int needed = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
            return needed > back && b >= 0xC0 && b < 0xF8 ? n - back : n;
        }
        return n; // only continuation bytes at the end: invalid anyway, let the decoder replace them
    }
}
