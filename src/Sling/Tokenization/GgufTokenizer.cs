using Sling.Formats;

namespace Sling.Tokenization;

/// <summary>Builds the tokenizer a GGUF file describes in its tokenizer.ggml.* metadata.</summary>
public static class GgufTokenizer
{
    public static ITokenizer Load(string path)
    {
        using var gguf = GgufFile.Open(path);
        return FromMetadata(gguf);
    }

    public static ITokenizer FromMetadata(GgufFile g)
    {
        string model = g.Get<string>("tokenizer.ggml.model");
        string[] tokens = g.Get<string[]>("tokenizer.ggml.tokens");
        float[]? scores = g.GetOrDefault<float[]>("tokenizer.ggml.scores");
        int[]? types = g.GetOrDefault<int[]>("tokenizer.ggml.token_type");
        if (tokens.Length == 0) throw new ModelFormatException(g.Path, "tokenizer.ggml.tokens is empty");
        if (scores != null && scores.Length != tokens.Length)
            throw new ModelFormatException(g.Path, $"tokenizer.ggml.scores has {scores.Length} entries for {tokens.Length} tokens");
        if (types != null && types.Length != tokens.Length)
            throw new ModelFormatException(g.Path, $"tokenizer.ggml.token_type has {types.Length} entries for {tokens.Length} tokens");
        int Id(string key)
        {
            long? id = g.GetInteger(key);
            if (id is null) return -1;
            if (id < 0 || id >= tokens.Length) throw new ModelFormatException(g.Path, $"{key} = {id} is outside the vocabulary of {tokens.Length}");
            return (int)id;
        }
        PreTokenizerFamily? family = model == "gpt2" ? PreTokenizerOf(g) : null;
        var vocabulary = new Vocabulary(tokens, scores, types?.Select(t => Enum.IsDefined((TokenType)t) ? (TokenType)t : TokenType.Normal).ToArray())
        {
            BosId = family is { HasBos: false } ? -1 : Id("tokenizer.ggml.bos_token_id"),
            EosId = Id("tokenizer.ggml.eos_token_id"),
            UnknownId = Id("tokenizer.ggml.unknown_token_id"),
        };
        bool? addBos = g.GetBool("tokenizer.ggml.add_bos_token");
        bool addEos = g.GetBool("tokenizer.ggml.add_eos_token") ?? false;
        string? chatTemplate = g.GetOrDefault<string>("tokenizer.chat_template");

        switch (model)
        {
            case "llama":
                return new SentencePieceBpeTokenizer(vocabulary)
                {
                    AddSpacePrefix = g.GetBool("tokenizer.ggml.add_space_prefix") ?? true,
                    AddBosByDefault = addBos ?? true,
                    AddEos = addEos,
                    ChatTemplate = chatTemplate,
                };
            case "gpt2":
                string[] merges = g.Get<string[]>("tokenizer.ggml.merges");
                return new ByteLevelBpeTokenizer(vocabulary, merges, new SequentialRegexPreTokenizer(family!.Patterns), ignoreMerges: family.IgnoreMerges)
                {
                    AddBosByDefault = addBos ?? family.AddBos,
                    AddEos = addEos,
                    ChatTemplate = chatTemplate,
                };
            case "bert":
                return WordPieceTokenizer.FromPhantomSpaceVocabulary(vocabulary);
            default:
                throw new ModelFormatException(g.Path, $"tokenizer model '{model}' is not supported (supported: llama, gpt2, bert)");
        }
    }

    private static PreTokenizerFamily PreTokenizerOf(GgufFile g)
    {
        try
        {
            return PreTokenizerRules.For(g.GetOrDefault<string>("tokenizer.ggml.pre") ?? "default");
        }
        catch (SlingException e)
        {
            throw new ModelFormatException(g.Path, $"tokenizer.ggml.pre: {e.Message}");
        }
    }
}
