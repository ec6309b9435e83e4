namespace Sling.Tokenization;

/// <summary>
/// A tokenizer's vocabulary, whatever file it came from: token texts (in the model's own spelling,
/// e.g. "▁the" or "Ġthe"), scores, kinds and the special ids.
/// </summary>
public sealed class Vocabulary
{
    private readonly Dictionary<string, int> _ids;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _spanIds;

    public Vocabulary(string[] tokens, float[]? scores, TokenType[]? types)
    {
        if (scores != null && scores.Length != tokens.Length) throw new SlingException($"{scores.Length} scores for {tokens.Length} tokens");
        if (types != null && types.Length != tokens.Length) throw new SlingException($"{types.Length} token types for {tokens.Length} tokens");
        Tokens = tokens;
        Scores = scores ?? new float[tokens.Length];
        Types = types ?? Enumerable.Repeat(TokenType.Normal, tokens.Length).ToArray();
        _ids = new Dictionary<string, int>(tokens.Length, StringComparer.Ordinal);
        for (int i = 0; i < tokens.Length; i++) _ids.TryAdd(tokens[i], i); // the first of duplicates wins
        _spanIds = _ids.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public string[] Tokens { get; }
    public float[] Scores { get; }
    public TokenType[] Types { get; }
    public int Count => Tokens.Length;
    public int BosId { get; init; } = -1;
    public int EosId { get; init; } = -1;
    public int UnknownId { get; init; } = -1;

    public bool TryGetId(string token, out int id) => _ids.TryGetValue(token, out id);
    /// <summary>Lookup without allocating a string (hot loops of the tokenizers).</summary>
    public bool TryGetId(ReadOnlySpan<char> token, out int id) => _spanIds.TryGetValue(token, out id);
    public int IdOf(string token) => _ids.TryGetValue(token, out int id) ? id : -1;

    /// <summary>Tokens matched verbatim in the input before the model runs (control and user-defined).</summary>
    public IEnumerable<int> VerbatimTokens()
        => Enumerable.Range(0, Count).Where(i => Types[i] is TokenType.Control or TokenType.UserDefined && Tokens[i].Length > 0);
}
