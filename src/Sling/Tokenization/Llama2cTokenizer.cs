using System.Text;
using Sling.Formats;

namespace Sling.Tokenization;

/// <summary>
/// llama2.c's tokenizer semantics: the text gets a leading space ("dummy prefix"), is split into
/// UTF-8 characters (unknown ones fall back to byte tokens &lt;0xNN&gt; at id byte+3), and adjacent
/// pieces are merged greedily, always the pair whose merged token has the highest score.
/// BOS = 1, EOS = 2; decoding drops the leading space of the first token after BOS.
/// </summary>
public sealed class Llama2cTokenizer : ITokenizer
{
    private const int ByteFallbackOffset = 3; // ids 0..2 are <unk>, <s>, </s>
    private readonly byte[][] _tokens;
    private readonly float[] _scores;
    // Token bytes as Latin-1 strings: one char per byte, so lookups are byte-exact.
    private readonly Dictionary<string, int> _ids;
    private readonly byte[]?[] _byteTokens;

    public Llama2cTokenizer(Llama2cTokenizerFile file)
    {
        _tokens = file.Tokens;
        _scores = file.Scores;
        _ids = new Dictionary<string, int>(_tokens.Length, StringComparer.Ordinal);
        _byteTokens = new byte[]?[_tokens.Length];
        for (int i = 0; i < _tokens.Length; i++)
        {
            _ids.TryAdd(Encoding.Latin1.GetString(_tokens[i]), i);
            _byteTokens[i] = ParseByteToken(_tokens[i]);
        }
    }

    public static Llama2cTokenizer Load(string path)
    {
        var file = Llama2cTokenizerFile.Read(path);
        // Byte fallback needs <unk>, <s>, </s> and the 256 byte tokens at their fixed ids.
        if (file.Tokens.Length < ByteFallbackOffset + 256)
            throw new ModelFormatException(path, $"holds {file.Tokens.Length} tokens; a llama2.c vocabulary has at least {ByteFallbackOffset + 256} (3 special tokens and 256 byte tokens)");
        return new Llama2cTokenizer(file);
    }

    public int VocabSize => _tokens.Length;
    public int BosId => 1;
    public int EosId => 2;

    public IReadOnlyList<int> Encode(string text, bool addBos) => Encode(text, addBos, dummyPrefix: true);

    public IReadOnlyList<int> EncodeContinuation(string text) => Encode(text, false, dummyPrefix: false);

    private List<int> Encode(string text, bool addBos, bool dummyPrefix)
    {
        var ids = new List<int>();
        if (addBos) ids.Add(BosId);
        if (text.Length == 0) return ids;
        int start = ids.Count;

        if (dummyPrefix && _ids.TryGetValue(" ", out int space)) ids.Add(space);
        byte[] utf8 = Encoding.UTF8.GetBytes(text);
        int i = 0;
        while (i < utf8.Length)
        {
            // One UTF-8 character: a lead byte and up to 3 continuation bytes.
            int end = i + 1;
            while (end < utf8.Length && (utf8[end] & 0xC0) == 0x80 && end - i < 4) end++;
            if (_ids.TryGetValue(Encoding.Latin1.GetString(utf8, i, end - i), out int id))
                ids.Add(id);
            else
                for (int b = i; b < end; b++) ids.Add(utf8[b] + ByteFallbackOffset);
            i = end;
        }

        MergeByScore(ids, start);
        return ids;
    }

    private void MergeByScore(List<int> ids, int start)
    {
        var pieces = new List<string>(ids.Count - start);
        for (int k = start; k < ids.Count; k++) pieces.Add(Encoding.Latin1.GetString(_tokens[ids[k]]));
        while (true)
        {
            float bestScore = float.NegativeInfinity;
            int bestId = -1, bestIndex = -1;
            for (int k = 0; k + 1 < pieces.Count; k++)
            {
                if (_ids.TryGetValue(pieces[k] + pieces[k + 1], out int id) && _scores[id] > bestScore)
                {
                    bestScore = _scores[id];
                    bestId = id;
                    bestIndex = k;
                }
            }
            if (bestIndex < 0) break;
            pieces[bestIndex] += pieces[bestIndex + 1];
            pieces.RemoveAt(bestIndex + 1);
            ids[start + bestIndex] = bestId;
            ids.RemoveAt(start + bestIndex + 1);
        }
    }

    public byte[] DecodeToken(int previous, int token)
    {
        if ((uint)token >= (uint)_tokens.Length)
            throw new ArgumentOutOfRangeException(nameof(token), $"token id {token} outside the vocabulary of {_tokens.Length}");
        if (_byteTokens[token] is { } raw) return raw;
        byte[] piece = _tokens[token];
        if (previous == BosId && piece.Length > 0 && piece[0] == (byte)' ') return piece[1..];
        return piece;
    }

    // "<0xAB>" stands for the raw byte 0xAB.
    private static byte[]? ParseByteToken(byte[] t)
    {
        if (t.Length != 6 || t[0] != '<' || t[1] != '0' || t[2] != 'x' || t[5] != '>') return null;
        int hi = HexValue(t[3]), lo = HexValue(t[4]);
        return hi < 0 || lo < 0 ? null : [(byte)(hi * 16 + lo)];
    }

    private static int HexValue(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        _ => -1,
    };
}
