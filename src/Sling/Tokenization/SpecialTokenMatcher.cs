using System.Text.RegularExpressions;

namespace Sling.Tokenization;

/// <summary>
/// Splits text around special and added tokens, which are matched verbatim before a tokenizer's
/// model sees the text (as Hugging Face tokenizers do): the longest token wins at each position.
/// </summary>
internal sealed class SpecialTokenMatcher
{
    private readonly Regex? _pattern;
    private readonly Dictionary<string, int> _ids;

    public SpecialTokenMatcher(IEnumerable<(string Text, int Id)> tokens)
    {
        _ids = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (text, id) in tokens)
            if (text.Length > 0) _ids.TryAdd(text, id);
        if (_ids.Count > 0)
            _pattern = new Regex(string.Join("|", _ids.Keys.OrderByDescending(k => k.Length).Select(Regex.Escape)),
                RegexOptions.CultureInvariant);
    }

    public static SpecialTokenMatcher For(Vocabulary vocabulary)
        => new(vocabulary.VerbatimTokens().Select(i => (vocabulary.Tokens[i], i)));

    /// <summary>Pieces of <paramref name="text"/> in order: plain text (Id = -1) or a matched token.</summary>
    public IEnumerable<(string Text, int Id)> Split(string text)
    {
        if (_pattern == null)
        {
            yield return (text, -1);
            yield break;
        }
        int start = 0;
        foreach (Match m in _pattern.Matches(text))
        {
            if (m.Index > start) yield return (text[start..m.Index], -1);
            yield return (m.Value, _ids[m.Value]);
            start = m.Index + m.Length;
        }
        if (start < text.Length) yield return (text[start..], -1);
    }
}
