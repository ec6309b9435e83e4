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
    private readonly Dictionary<(int, int), int>? _mergeRanks; // (left id, right id) → rank
    private readonly int[] _byteTokens = new int[256];
    // True when no token holds a "▁" right after another character, so no merge can cross the start
    // of a word: the text can then be cut into words and each word merged (and cached) on its own,
    // with exactly the result of merging the whole text at once.
    private readonly bool _wordsAreIndependent;
    private readonly Dictionary<string, int[]> _wordCache = new(StringComparer.Ordinal);
    private readonly Lock _cacheLock = new();
    private const int MaxCachedWords = 1 << 16;

    /// <param name="merges">Merge list (tokenizer.json); null = rank pairs by the merged token's score.</param>
    internal SentencePieceBpeTokenizer(Vocabulary vocabulary, IReadOnlyList<(string Left, string Right)>? merges = null, SpecialTokenMatcher? specials = null)
        : base(vocabulary, specials)
    {
        if (merges != null)
        {
            _mergeRanks = new Dictionary<(int, int), int>(merges.Count);
            for (int i = 0; i < merges.Count; i++)
                if (vocabulary.TryGetId(merges[i].Left, out int l) && vocabulary.TryGetId(merges[i].Right, out int r))
                    _mergeRanks.TryAdd((l, r), i);
        }
        for (int b = 0; b < 256; b++) _byteTokens[b] = vocabulary.IdOf($"<0x{b:X2}>");
        _wordsAreIndependent = !vocabulary.Tokens.Any(t =>
        {
            for (int i = 1; i < t.Length; i++)
                if (t[i] == SpaceMark && t[i - 1] != SpaceMark) return true;
            return false;
        });
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

        if (!_wordsAreIndependent)
        {
            MergeSpan(s, output);
            return;
        }
        for (int from = 0; from < s.Length;)
        {
            int to = from + 1;
            while (to < s.Length && !(s[to] == SpaceMark && s[to - 1] != SpaceMark)) to++;
            string word = s[from..to];
            int[]? ids;
            lock (_cacheLock) _wordCache.TryGetValue(word, out ids);
            if (ids == null)
            {
                var list = new List<int>();
                MergeSpan(word, list);
                ids = list.ToArray();
                lock (_cacheLock)
                {
                    if (_wordCache.Count >= MaxCachedWords) _wordCache.Clear();
                    _wordCache[word] = ids;
                }
            }
            output.AddRange(ids);
            from = to;
        }
    }

    /// <summary>Merges the whole of <paramref name="s"/> (already in "▁" form) into token ids.</summary>
    private void MergeSpan(string s, List<int> output)
    {
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

        var queue = new PriorityQueue<(int Left, int Right, int Size), (float, int)>();
        void AddPair(int left, int right)
        {
            if (left < 0 || right < 0) return;
            float priority;
            // Adjacent symbols are adjacent in s, so the merged text is a span of it.
            if (_mergeRanks != null)
            {
                if (!Vocabulary.TryGetId(s.AsSpan(start[left], length[left]), out int l) ||
                    !Vocabulary.TryGetId(s.AsSpan(start[right], length[right]), out int r) ||
                    !_mergeRanks.TryGetValue((l, r), out int rank)) return;
                priority = rank;
            }
            else
            {
                if (!Vocabulary.TryGetId(s.AsSpan(start[left], length[left] + length[right]), out int id)) return;
                priority = -Vocabulary.Scores[id];
            }
            queue.Enqueue((left, right, length[left] + length[right]), (priority, left));
        }
        for (int i = 0; i + 1 < count; i++) AddPair(i, i + 1);

        while (queue.TryDequeue(out var pair, out _))
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
            if (Vocabulary.TryGetId(s.AsSpan(start[i], length[i]), out int id))
            {
                output.Add(id);
                continue;
            }
            foreach (byte b in Encoding.UTF8.GetBytes(s.Substring(start[i], length[i])))
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
