namespace Sling.Tokenization;

/// <summary>Turns text into token ids and token ids back into bytes, exactly as a model was trained.</summary>
public interface ITokenizer
{
    int VocabSize { get; }
    /// <summary>Beginning-of-sequence id, or -1 when the vocabulary has none.</summary>
    int BosId { get; }
    /// <summary>End-of-sequence id, or -1 when the vocabulary has none.</summary>
    int EosId { get; }

    IReadOnlyList<int> Encode(string text, bool addBos);

    /// <summary>
    /// Encodes text that continues a sequence (a chat's next turn after the tokens already there):
    /// no BOS, no EOS, and no space prefix that some tokenizers put at the start of an input.
    /// </summary>
    IReadOnlyList<int> EncodeContinuation(string text) => Encode(text, false);

    /// <summary>
    /// The bytes token <paramref name="token"/> contributes to the text when it follows
    /// <paramref name="previous"/> (some tokenizers drop a leading space right after BOS).
    /// Bytes, not a string: one character may be split across tokens.
    /// </summary>
    byte[] DecodeToken(int previous, int token);
}

public static class TokenizerExtensions
{
    /// <summary>The whole text of a token sequence; <paramref name="previous"/> is the token before the first.</summary>
    public static string Decode(this ITokenizer tokenizer, IEnumerable<int> ids, int previous = -1)
    {
        var decoder = new TokenStreamDecoder();
        var text = new System.Text.StringBuilder();
        foreach (int id in ids)
        {
            text.Append(decoder.Append(tokenizer.DecodeToken(previous, id)));
            previous = id;
        }
        text.Append(decoder.Flush());
        return text.ToString();
    }
}
