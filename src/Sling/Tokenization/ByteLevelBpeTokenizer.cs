using Microsoft.ML.Tokenizers;

namespace Sling.Tokenization;

/// <summary>
/// Byte-level BPE (GPT-2, CodeGen/Phi-2, StarCoder, SmolLM, Qwen2, Llama 3, DeepSeek): text is split
/// by the family's regexes, each piece's UTF-8 bytes are spelled with GPT-2's printable byte
/// alphabet, and merges apply by rank. The merging itself is Microsoft.ML.Tokenizers' BpeTokenizer.
/// </summary>
public sealed class ByteLevelBpeTokenizer : VocabularyTokenizer
{
    private readonly BpeTokenizer _bpe;
    private readonly PreTokenizer _preTokenizer;
    private readonly BpeTokenizer? _wordBpe;
    private static readonly Dictionary<char, byte> UnicodeToByte = BuildByteAlphabet();
    private static readonly char[] ByteToUnicode = UnicodeToByte.OrderBy(p => p.Value).Select(p => p.Key).ToArray();

    /// <param name="ignoreMerges">A piece of the split that is itself a token becomes that token
    /// without merging (tokenizer.json's "ignore_merges", Llama 3's tokenizer).</param>
    internal ByteLevelBpeTokenizer(Vocabulary vocabulary, IEnumerable<string> merges, PreTokenizer preTokenizer,
        SpecialTokenMatcher? specials = null, bool ignoreMerges = false)
        : base(vocabulary, specials)
    {
        _preTokenizer = preTokenizer;
        var mergeList = merges as IReadOnlyCollection<string> ?? merges.ToList();
        _bpe = Create(vocabulary, mergeList, preTokenizer);
        if (ignoreMerges) _wordBpe = Create(vocabulary, mergeList, preTokenizer: null);
    }

    private static BpeTokenizer Create(Vocabulary vocabulary, IEnumerable<string> merges, PreTokenizer? preTokenizer)
    {
        var options = new BpeOptions(vocabulary.Tokens.Select((t, i) => new KeyValuePair<string, int>(t, i)).DistinctBy(p => p.Key))
        {
            Merges = merges,
            ByteLevel = true,
            PreTokenizer = preTokenizer,
        };
        try
        {
            return BpeTokenizer.Create(options);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException)
        {
            throw new SlingException($"invalid BPE vocabulary or merges: {e.Message}");
        }
    }

    protected override void EncodeText(string text, bool atStart, List<int> output)
    {
        if (_wordBpe is null)
        {
            output.AddRange(_bpe.EncodeToIds(text));
            return;
        }
        foreach (var (offset, length) in _preTokenizer.PreTokenize(text))
        {
            string piece = text.Substring(offset, length);
            if (Vocabulary.TryGetId(Spell(piece), out int id)) output.Add(id);
            else output.AddRange(_wordBpe.EncodeToIds(piece));
        }
    }

    /// <summary>The piece's UTF-8 bytes in GPT-2's byte alphabet: how the vocabulary writes it.</summary>
    private static string Spell(string piece)
    {
        byte[] bytes = System.Text.Encoding.UTF8.GetBytes(piece);
        return string.Create(bytes.Length, bytes, (chars, b) =>
        {
            for (int i = 0; i < b.Length; i++) chars[i] = ByteToUnicode[b[i]];
        });
    }

    protected override byte[] DecodeNormal(int previous, int token)
    {
        string piece = Vocabulary.Tokens[token];
        var bytes = new byte[piece.Length];
        for (int i = 0; i < piece.Length; i++)
        {
            if (!UnicodeToByte.TryGetValue(piece[i], out bytes[i]))
                return System.Text.Encoding.UTF8.GetBytes(piece); // not in byte alphabet (an added token): its text
        }
        return bytes;
    }

    // GPT-2's alphabet: printable Latin-1 bytes stand for themselves, the other 68 bytes for U+0100 upwards.
    private static Dictionary<char, byte> BuildByteAlphabet()
    {
        var map = new Dictionary<char, byte>(256);
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[printable ? (char)b : (char)next++] = (byte)b;
        }
        return map;
    }
}
