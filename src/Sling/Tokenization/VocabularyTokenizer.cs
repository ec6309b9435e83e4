using System.Text;

namespace Sling.Tokenization;

/// <summary>
/// What every vocabulary-based tokenizer shares: special tokens are cut out of the text first, the
/// rest goes to the model-specific algorithm, and BOS/EOS are added as the tokenizer's config says.
/// </summary>
public abstract class VocabularyTokenizer : ITokenizer
{
    private readonly SpecialTokenMatcher _specials;

    private protected VocabularyTokenizer(Vocabulary vocabulary, SpecialTokenMatcher? specials = null)
    {
        Vocabulary = vocabulary;
        _specials = specials ?? SpecialTokenMatcher.For(vocabulary);
    }

    public Vocabulary Vocabulary { get; }
    public int VocabSize => Vocabulary.Count;
    public int BosId => Vocabulary.BosId;
    public int EosId => Vocabulary.EosId;
    /// <summary>Append EOS to every encoding (tokenizer config "add_eos_token").</summary>
    public bool AddEos { get; init; }
    /// <summary>Whether this tokenizer's model expects BOS (tokenizer config "add_bos_token").</summary>
    public bool AddBosByDefault { get; init; } = true;
    /// <summary>The Jinja chat template the tokenizer's config carries, if any.</summary>
    public string? ChatTemplate { get; init; }

    public IReadOnlyList<int> Encode(string text, bool addBos) => Encode(text, addBos, continuation: false);

    public IReadOnlyList<int> EncodeContinuation(string text) => Encode(text, false, continuation: true);

    private List<int> Encode(string text, bool addBos, bool continuation)
    {
        var ids = new List<int>();
        if (addBos && AddBosByDefault && BosId >= 0) ids.Add(BosId);
        bool first = !continuation;
        foreach (var (piece, id) in _specials.Split(text))
        {
            if (id >= 0) ids.Add(id);
            else EncodeText(piece, first, ids);
            first = false;
        }
        if (AddEos && EosId >= 0 && !continuation) ids.Add(EosId);
        return ids;
    }

    /// <summary>Encodes text that holds no special token; <paramref name="atStart"/> is true for the input's first piece.</summary>
    protected abstract void EncodeText(string text, bool atStart, List<int> output);

    public byte[] DecodeToken(int previous, int token)
    {
        if ((uint)token >= (uint)VocabSize)
            throw new ArgumentOutOfRangeException(nameof(token), $"token id {token} outside the vocabulary of {VocabSize}");
        if (Vocabulary.Types[token] is TokenType.Control or TokenType.UserDefined)
            return Vocabulary.Types[token] == TokenType.Control && (token == BosId || token == EosId)
                ? [] // sequence markers are not text
                : Encoding.UTF8.GetBytes(Vocabulary.Tokens[token]);
        return DecodeNormal(previous, token);
    }

    /// <summary>The bytes of an ordinary token.</summary>
    protected abstract byte[] DecodeNormal(int previous, int token);

    /// <summary>True when <paramref name="previous"/> starts a sequence: nothing, or BOS.</summary>
    protected bool AtSequenceStart(int previous) => previous < 0 || previous == BosId;
}
