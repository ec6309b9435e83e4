using System.Globalization;
using System.Text;

namespace Sling.Tokenization;

/// <summary>
/// BERT's WordPiece, as Hugging Face's BertTokenizerFast runs it: clean the text (drop control
/// characters, map whitespace to spaces), lowercase, strip accents, put CJK characters and
/// punctuation in words of their own, then cover each word greedily with the longest vocabulary
/// pieces ("word" first, "##piece" after); a word that cannot be covered becomes [UNK].
/// Written here because Microsoft.ML.Tokenizers' BertTokenizer drops characters it does not know
/// (emoji, "½") where the original emits [UNK].
/// </summary>
public sealed class WordPieceTokenizer : VocabularyTokenizer
{
    private const int MaxCharsPerWord = 100;
    private readonly Dictionary<string, int> _wordStarts;
    private readonly Dictionary<string, int> _continuations;
    private readonly bool[] _isContinuation;
    private readonly string?[] _pieceText; // each piece without its marker
    private readonly int _maxPieceLength;

    /// <param name="wordStarts">Pieces that begin a word, without any marker.</param>
    /// <param name="continuations">Pieces inside a word, without the "##" marker.</param>
    public WordPieceTokenizer(Vocabulary vocabulary, Dictionary<string, int> wordStarts, Dictionary<string, int> continuations, bool lowercase = true)
        : base(vocabulary)
    {
        _wordStarts = wordStarts;
        _continuations = continuations;
        _isContinuation = new bool[vocabulary.Count];
        _pieceText = new string?[vocabulary.Count];
        foreach (var (text, id) in wordStarts) _pieceText[id] = text;
        foreach (var (text, id) in continuations)
        {
            _isContinuation[id] = true;
            _pieceText[id] = text;
        }
        _maxPieceLength = wordStarts.Keys.Concat(continuations.Keys).Max(k => k.Length);
        Lowercase = lowercase;
        AddBosByDefault = false;
    }

    public bool Lowercase { get; }

    /// <summary>From llama.cpp's GGUF spelling: word starts carry "▁", continuations carry nothing.</summary>
    public static WordPieceTokenizer FromPhantomSpaceVocabulary(Vocabulary v)
    {
        var starts = new Dictionary<string, int>(StringComparer.Ordinal);
        var continuations = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < v.Count; i++)
        {
            string t = v.Tokens[i];
            if (v.Types[i] is TokenType.Control or TokenType.UserDefined || (t.StartsWith('[') && t.EndsWith(']'))) continue;
            if (t.StartsWith(SentencePieceBpeTokenizer.SpaceMark)) starts.TryAdd(t[1..], i);
            else continuations.TryAdd(t, i);
        }
        return new WordPieceTokenizer(v, starts, continuations);
    }

    /// <summary>From a BERT vocab.txt / tokenizer.json spelling: continuations start with "##".</summary>
    public static WordPieceTokenizer FromPrefixedVocabulary(Vocabulary v, string prefix = "##", bool lowercase = true)
    {
        var starts = new Dictionary<string, int>(StringComparer.Ordinal);
        var continuations = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < v.Count; i++)
        {
            string t = v.Tokens[i];
            if (t.StartsWith(prefix, StringComparison.Ordinal) && t.Length > prefix.Length) continuations.TryAdd(t[prefix.Length..], i);
            else starts.TryAdd(t, i);
        }
        return new WordPieceTokenizer(v, starts, continuations, lowercase);
    }

    protected override void EncodeText(string text, bool atStart, List<int> output)
    {
        foreach (string word in Words(text))
        {
            int before = output.Count;
            if (word.Length > MaxCharsPerWord || !Cover(word, output))
            {
                output.RemoveRange(before, output.Count - before);
                output.Add(Vocabulary.UnknownId);
            }
        }
    }

    private bool Cover(string word, List<int> output)
    {
        for (int pos = 0; pos < word.Length;)
        {
            var table = pos == 0 ? _wordStarts : _continuations;
            int found = -1, end = Math.Min(word.Length, pos + _maxPieceLength);
            for (; end > pos; end--)
                if (table.TryGetValue(word.Substring(pos, end - pos), out found)) break;
            if (end == pos) return false;
            output.Add(found);
            pos = end;
        }
        return true;
    }

    /// <summary>BERT's normalization and pre-tokenization.</summary>
    public IEnumerable<string> Words(string text)
    {
        var cleaned = new StringBuilder(text.Length);
        foreach (var rune in text.EnumerateRunes())
        {
            int cp = rune.Value;
            if (cp == 0 || cp == 0xFFFD || IsControl(rune)) continue;
            if (IsWhitespace(rune)) cleaned.Append(' ');
            else if (IsChinese(cp)) cleaned.Append(' ').Append(rune.ToString()).Append(' ');
            else cleaned.Append(rune.ToString());
        }
        string normalized = cleaned.ToString();
        if (Lowercase)
        {
            normalized = normalized.ToLowerInvariant().Normalize(NormalizationForm.FormD);
            var stripped = new StringBuilder(normalized.Length);
            foreach (char c in normalized)
                if (CharUnicodeInfo.GetUnicodeCategory(c) != UnicodeCategory.NonSpacingMark) stripped.Append(c);
            normalized = stripped.ToString();
        }
        var word = new StringBuilder();
        foreach (var rune in normalized.EnumerateRunes())
        {
            if (rune.Value == ' ')
            {
                if (word.Length > 0) yield return word.ToString();
                word.Clear();
            }
            else if (IsPunctuation(rune))
            {
                if (word.Length > 0) yield return word.ToString();
                word.Clear();
                yield return rune.ToString();
            }
            else word.Append(rune.ToString());
        }
        if (word.Length > 0) yield return word.ToString();
    }

    private static bool IsWhitespace(Rune r) => r.Value is ' ' or '\t' or '\n' or '\r' || Rune.GetUnicodeCategory(r) == UnicodeCategory.SpaceSeparator;

    private static bool IsControl(Rune r)
    {
        if (r.Value is '\t' or '\n' or '\r') return false;
        var c = Rune.GetUnicodeCategory(r);
        return c is UnicodeCategory.Control or UnicodeCategory.Format;
    }

    // ASCII symbols count as punctuation for BERT, like Unicode punctuation.
    private static bool IsPunctuation(Rune r)
        => r.Value is >= 33 and <= 47 or >= 58 and <= 64 or >= 91 and <= 96 or >= 123 and <= 126 || Rune.IsPunctuation(r);

    private static bool IsChinese(int cp) => cp is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF
        or >= 0x2A700 and <= 0x2B73F or >= 0x2B740 and <= 0x2B81F or >= 0x2B820 and <= 0x2CEAF or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;

    protected override byte[] DecodeNormal(int previous, int token)
    {
        string word = _pieceText[token] ?? Vocabulary.Tokens[token];
        return Encoding.UTF8.GetBytes(_isContinuation[token] || AtSequenceStart(previous) ? word : " " + word);
    }
}
