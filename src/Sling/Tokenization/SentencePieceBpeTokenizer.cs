using System.Text;

namespace Sling.Tokenization;

/// <summary>
/// SentencePiece-style BPE with byte fallback (Llama 2, TinyLlama, Phi-3, Mistral v0.1): spaces
/// become "▁", a "▁" is prefixed, the text is cut into characters, and the best adjacent pair is
/// merged until none is left — best meaning the highest-scoring merged token (SentencePiece models,
/// GGUF) or the lowest merge rank (tokenizer.json), ties going to the leftmost pair. Characters
/// outside the vocabulary become &lt;0xNN&gt; byte tokens.
/// Written here because Microsoft.ML.Tokenizers' SentencePiece BPE orders equal-priority merges
/// differently from the original (e.g. "!!!!!!" comes out as ▁!! ! !!! instead of ▁!! !!! !).
/// </summary>
public sealed class SentencePieceBpeTokenizer : VocabularyTokenizer
{
    public const char SpaceMark = '\u2581';
    private readonly Dictionary<(string, string), int>? _mergeRanks;
    private readonly int[] _byteTokens = new int[256];
    private readonly PriorityQueue<(int Left, int Right, int Size), (float, int)> _queue = new();

    /// <param name="merges">Merge list (tokenizer.json); null = rank pairs by the merged token's score.</param>
    public SentencePieceBpeTokenizer(Vocabulary vocabulary, IReadOnlyList<(string Left, string Right)>? merges = null, SpecialTokenMatcher? specials = null)
        : base(vocabulary, specials)
    {
        if (merges != null)
        {
            _mergeRanks = new Dictionary<(string, string), int>(merges.Count);
            for (int i = 0; i < merges.Count; i++) _mergeRanks.TryAdd(merges[i], i);
        }
        for (int b = 0; b < 256; b++) _byteTokens[b] = vocabulary.IdOf($"<0x{b:X2}>");
    }

    /// <summary>Prefix "▁" to the text, as SentencePiece's add_dummy_prefix does.</summary>
    public bool AddSpacePrefix { get; init; } = true;

    /// <summary>Trim the text and collapse runs of spaces first (SentencePiece's remove_extra_whitespaces).</summary>
    public bool RemoveExtraWhitespaces { get; init; }

    protected override void EncodeText(string text, bool atStart, List<int> output)
    {
        if (RemoveExtraWhitespaces) text = System.Text.RegularExpressions.Regex.Replace(text.Trim(' '), " {2,}", " ");
        if (text.Length == 0) return;
        string s = (AddSpacePrefix ? " " + text : text).Replace(' ', SpaceMark);

        // Symbols are character runs of s, linked in order; merging grows the left one.
        var start = new List<int>();
        var length = new List<int>();
        for (int i = 0; i < s.Length;)
        {
            int n = char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]) ? 2 : 1;
            start.Add(i);
            length.Add(n);
            i += n;
        }
        int count = start.Count;
        var next = new int[count];
        var prev = new int[count];
        for (int i = 0; i < count; i++)
        {
            next[i] = i + 1 < count ? i + 1 : -1;
            prev[i] = i - 1;
        }

        _queue.Clear();
        void AddPair(int left, int right)
        {
            if (left < 0 || right < 0) return;
            float priority;
            if (_mergeRanks != null)
            {
                var pair = (s.Substring(start[left], length[left]), s.Substring(start[right], length[right]));
                if (!_mergeRanks.TryGetValue(pair, out int rank)) return;
                priority = rank;
            }
            else
            {
                if (!Vocabulary.TryGetId(s.Substring(start[left], length[left] + length[right]), out int id)) return;
                priority = -Vocabulary.Scores[id];
            }
            _queue.Enqueue((left, right, length[left] + length[right]), (priority, left));
        }
        for (int i = 0; i + 1 < count; i++) AddPair(i, i + 1);

        while (_queue.TryDequeue(out var pair, out _))
        {
            var (left, right, size) = pair;
            // Skip pairs made stale by an earlier merge of either side.
            if (length[left] == 0 || length[right] == 0 || length[left] + length[right] != size || next[left] != right) continue;
            length[left] = size;
            length[right] = 0;
            next[left] = next[right];
            if (next[right] >= 0) prev[next[right]] = left;
            AddPair(prev[left], left);
            AddPair(left, next[left]);
        }

        for (int i = 0; i >= 0; i = next[i])
        {
            string piece = s.Substring(start[i], length[i]);
            if (Vocabulary.TryGetId(piece, out int id))
            {
                output.Add(id);
                continue;
            }
            foreach (byte b in Encoding.UTF8.GetBytes(piece))
                output.Add(_byteTokens[b] >= 0 ? _byteTokens[b] : Vocabulary.UnknownId);
        }
    }

    protected override byte[] DecodeNormal(int previous, int token)
    {
        if (Vocabulary.Types[token] == TokenType.Byte && TryParseByte(Vocabulary.Tokens[token], out byte raw)) return [raw];
        string piece = Vocabulary.Tokens[token].Replace(SpaceMark, ' ');
        if (AddSpacePrefix && AtSequenceStart(previous) && piece.StartsWith(' ')) piece = piece[1..];
        return Encoding.UTF8.GetBytes(piece);
    }

    private static bool TryParseByte(string token, out byte value)
    {
        value = 0;
        return token.Length == 6 && token.StartsWith("<0x") && token[5] == '>' &&
               byte.TryParse(token.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out value);
    }
}
