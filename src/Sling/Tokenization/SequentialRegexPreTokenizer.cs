using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace Sling.Tokenization;

/// <summary>
/// Splits text with a sequence of regexes, each one splitting the pieces the previous one left, and
/// keeping both the matches and the text between them; an empty match splits where it stands (Hugging Face's Sequence of Split
/// pre-tokenizers with "Isolated" behaviour, as deepseek-coder and starcoder use). Written here
/// because Microsoft.ML.Tokenizers' RegexPreTokenizer applies a single regex.
/// </summary>
internal sealed class SequentialRegexPreTokenizer : PreTokenizer
{
    private readonly Regex[] _regexes;

    public SequentialRegexPreTokenizer(IEnumerable<string> patterns)
    {
        _regexes = patterns.Select(p => new Regex(p, RegexOptions.Compiled | RegexOptions.CultureInvariant)).ToArray();
        if (_regexes.Length == 0) throw new ArgumentException("at least one pattern is needed");
    }

    public override IEnumerable<(int Offset, int Length)> PreTokenize(string text) => Split(text);

    public override IEnumerable<(int Offset, int Length)> PreTokenize(ReadOnlySpan<char> text) => Split(text.ToString());

    private List<(int Offset, int Length)> Split(string text)
    {
        var pieces = new List<(int Offset, int Length)> { (0, text.Length) };
        foreach (var regex in _regexes)
        {
            var next = new List<(int, int)>(pieces.Count * 2);
            foreach (var (offset, length) in pieces)
            {
                int start = offset, end = offset + length;
                for (var m = regex.Match(text, offset, length); m.Success; m = m.NextMatch())
                {
                    // An empty match (a lookahead such as superbpe's digit grouping) only marks a split.
                    if (m.Index > start) next.Add((start, m.Index - start));
                    next.Add((m.Index, m.Length));
                    start = m.Index + m.Length;
                }
                if (start < end) next.Add((start, end - start));
            }
            pieces = next;
        }
        pieces.RemoveAll(p => p.Length == 0);
        return pieces;
    }
}
