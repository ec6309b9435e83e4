using System.Text.Json;
using System.Text.RegularExpressions;
using Sling.Formats;

namespace Sling.Tokenization;

/// <summary>
/// Builds a tokenizer from a Hugging Face tokenizer.json and, when present beside it,
/// tokenizer_config.json (BOS/EOS, add_bos_token/add_eos_token, chat template). Supported:
/// byte-level BPE (ByteLevel and Split pre-tokenizers), SentencePiece-style BPE (Prepend/Replace "▁"
/// normalizers or Metaspace, byte fallback) and WordPiece. Anything else is refused by name.
/// </summary>
public static class HuggingFaceTokenizer
{
    private const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";

    public static ITokenizer Load(string path)
    {
        using (var doc = JsonFile.Read(path))
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new ModelFormatException(path, "is not a JSON object");
            string configPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "tokenizer_config.json");
            var config = File.Exists(configPath) ? HuggingFaceConfig.Read(configPath) : null;
            return Build(path, root, config);
        }
    }

    private static ModelFormatException Bad(string path, string problem) => new(path, problem);

    private static JsonElement? Child(JsonElement e, string name)
        => e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    private static string? Text(JsonElement e, string name) => Child(e, name) is { ValueKind: JsonValueKind.String } v ? v.GetString() : null;

    /// <summary>A component and, for "Sequence" components, all of its parts, in order.</summary>
    private static IEnumerable<JsonElement> Flatten(JsonElement? e, string listName)
    {
        if (e is not { } c) yield break;
        if (Text(c, "type") == "Sequence" && Child(c, listName) is { ValueKind: JsonValueKind.Array } parts)
        {
            foreach (var p in parts.EnumerateArray())
                foreach (var inner in Flatten(p, listName)) yield return inner;
        }
        else yield return c;
    }

    private static ITokenizer Build(string path, JsonElement root, HuggingFaceConfig? config)
    {
        var model = Child(root, "model") ?? throw Bad(path, "missing field 'model'");
        string type = Text(model, "type") ?? (Child(model, "merges") != null ? "BPE" : "");
        var added = ReadAddedTokens(path, root);
        var (tokens, types) = ReadVocabulary(path, model, added, type);

        string? TokenText(string field)
        {
            if (config == null || !config.Has(field)) return null;
            var v = config.Root.GetProperty(field);
            return v.ValueKind == JsonValueKind.String ? v.GetString() : Text(v, "content");
        }
        int IdOf(string? token) => token == null ? -1 : Array.IndexOf(tokens, token);
        var (templateBos, templateAddsBos) = ReadTemplateBos(root);
        int bos = IdOf(TokenText("bos_token") ?? templateBos);
        int eos = IdOf(TokenText("eos_token"));
        var vocabulary = new Vocabulary(tokens, null, types)
        {
            BosId = bos,
            EosId = eos,
            UnknownId = IdOf(Text(model, "unk_token")),
        };
        var specials = new SpecialTokenMatcher(added.Select(a => (a.Content, a.Id)));
        bool addBosDefault = config?.Bool("add_bos_token", templateAddsBos) ?? templateAddsBos;
        bool addEos = config?.Bool("add_eos_token", false) ?? false;
        string? chatTemplate = config?.Has("chat_template") == true && config.Root.GetProperty("chat_template").ValueKind == JsonValueKind.String
            ? config.String("chat_template") : null;

        var preTokenizers = Flatten(Child(root, "pre_tokenizer"), "pretokenizers").ToList();
        var normalizers = Flatten(Child(root, "normalizer"), "normalizers").ToList();
        switch (type)
        {
            case "BPE":
            {
                var merges = ReadMerges(path, model);
                bool byteLevel = preTokenizers.Any(p => Text(p, "type") == "ByteLevel") || Text(Child(root, "decoder") ?? default, "type") == "ByteLevel";
                if (byteLevel)
                {
                    var patterns = new List<string>();
                    foreach (var p in preTokenizers)
                    {
                        switch (Text(p, "type"))
                        {
                            case "Split":
                                if (Text(p, "behavior") is { } behavior && behavior != "Isolated")
                                    throw Bad(path, $"Split pre-tokenizer behavior '{behavior}' is not supported (Isolated is)");
                                if (Child(p, "invert") is { ValueKind: JsonValueKind.True }) throw Bad(path, "inverted Split pre-tokenizers are not supported");
                                var pattern = Child(p, "pattern") ?? throw Bad(path, "Split pre-tokenizer without a pattern");
                                patterns.Add(Text(pattern, "Regex") ?? Regex.Escape(Text(pattern, "String") ?? throw Bad(path, "Split pattern is neither Regex nor String")));
                                break;
                            case "ByteLevel":
                                if (Child(p, "add_prefix_space") is { ValueKind: JsonValueKind.True }) throw Bad(path, "ByteLevel add_prefix_space is not supported");
                                if (Child(p, "use_regex") is not { ValueKind: JsonValueKind.False }) patterns.Add(Gpt2Pattern);
                                break;
                            case "Digits":
                                patterns.Add(Child(p, "individual_digits") is { ValueKind: JsonValueKind.True } ? @"\p{N}" : @"\p{N}+");
                                break;
                            default:
                                throw Bad(path, $"pre-tokenizer '{Text(p, "type")}' is not supported with byte-level BPE");
                        }
                    }
                    if (patterns.Count == 0) patterns.Add(Gpt2Pattern);
                    return new ByteLevelBpeTokenizer(vocabulary, merges.Select(m => $"{m.Left} {m.Right}"), new SequentialRegexPreTokenizer(patterns), specials,
                        ignoreMerges: Child(model, "ignore_merges") is { ValueKind: JsonValueKind.True })
                    {
                        AddBosByDefault = addBosDefault, AddEos = addEos, ChatTemplate = chatTemplate,
                    };
                }
                bool prepend = normalizers.Any(n => Text(n, "type") == "Prepend" && Text(n, "prepend") == "\u2581")
                               || preTokenizers.Any(p => Text(p, "type") == "Metaspace" && Text(p, "prepend_scheme") is null or "always" or "first"
                                                         && Child(p, "add_prefix_space") is not { ValueKind: JsonValueKind.False });
                bool spaces = prepend || normalizers.Any(n => Text(n, "type") == "Replace" && Text(n, "content") == "\u2581")
                              || preTokenizers.Any(p => Text(p, "type") == "Metaspace");
                if (!spaces && Child(model, "byte_fallback") is not { ValueKind: JsonValueKind.True })
                    throw Bad(path, "BPE without a ByteLevel pre-tokenizer or SentencePiece-style '▁' spaces is not supported");
                return new SentencePieceBpeTokenizer(vocabulary, merges, specials)
                {
                    AddSpacePrefix = prepend, AddBosByDefault = addBosDefault, AddEos = addEos, ChatTemplate = chatTemplate,
                };
            }
            case "WordPiece":
            {
                string prefix = Text(model, "continuing_subword_prefix") ?? "##";
                bool lowercase = normalizers.Where(n => Text(n, "type") == "BertNormalizer")
                    .Select(n => Child(n, "lowercase") is not { ValueKind: JsonValueKind.False }).DefaultIfEmpty(false).First();
                return WordPieceTokenizer.FromPrefixedVocabulary(vocabulary, prefix, lowercase);
            }
            default:
                throw Bad(path, $"tokenizer model type '{type}' is not supported (BPE, WordPiece)");
        }
    }

    private sealed record AddedToken(int Id, string Content, bool Special);

    private static List<AddedToken> ReadAddedTokens(string path, JsonElement root)
    {
        var list = new List<AddedToken>();
        if (Child(root, "added_tokens") is not { ValueKind: JsonValueKind.Array } array) return list;
        foreach (var t in array.EnumerateArray())
        {
            if (Child(t, "id") is not { ValueKind: JsonValueKind.Number } idElement || !idElement.TryGetInt32(out int id) || id < 0)
                throw Bad(path, $"added token {t.GetRawText()} has no valid id");
            string content = Text(t, "content") ?? throw Bad(path, $"added token {id} has no content");
            list.Add(new AddedToken(id, content, Child(t, "special") is { ValueKind: JsonValueKind.True }));
        }
        return list;
    }

    private static (string[] Tokens, TokenType[] Types) ReadVocabulary(string path, JsonElement model, List<AddedToken> added, string type)
    {
        if (Child(model, "vocab") is not { ValueKind: JsonValueKind.Object } vocab)
            throw Bad(path, type is "BPE" or "WordPiece" ? "model.vocab is missing or not an object" : $"tokenizer model type '{type}' is not supported (BPE, WordPiece)");
        var entries = new List<(string Token, int Id)>();
        foreach (var p in vocab.EnumerateObject())
        {
            if (!p.Value.TryGetInt32(out int id) || id < 0) throw Bad(path, $"vocab entry '{p.Name}' has invalid id {p.Value.GetRawText()}");
            entries.Add((p.Name, id));
        }
        int size = Math.Max(entries.Count == 0 ? 0 : entries.Max(e => e.Id), added.Count == 0 ? 0 : added.Max(a => a.Id)) + 1;
        if (size > entries.Count + added.Count + 1024)
            throw Bad(path, $"token ids reach {size - 1} but only {entries.Count + added.Count} tokens are defined");
        var tokens = new string[size];
        var types = new TokenType[size];
        Array.Fill(tokens, "");
        Array.Fill(types, TokenType.Unused);
        bool byteFallback = Child(model, "byte_fallback") is { ValueKind: JsonValueKind.True };
        foreach (var (token, id) in entries)
        {
            tokens[id] = token;
            types[id] = byteFallback && token.Length == 6 && token.StartsWith("<0x") && token.EndsWith('>') ? TokenType.Byte : TokenType.Normal;
        }
        foreach (var a in added)
        {
            tokens[a.Id] = a.Content;
            types[a.Id] = a.Special ? TokenType.Control : TokenType.UserDefined;
        }
        return (tokens, types);
    }

    private static List<(string Left, string Right)> ReadMerges(string path, JsonElement model)
    {
        var merges = new List<(string, string)>();
        if (Child(model, "merges") is not { ValueKind: JsonValueKind.Array } array) throw Bad(path, "BPE model.merges is missing");
        foreach (var m in array.EnumerateArray())
        {
            if (m.ValueKind == JsonValueKind.String)
            {
                string s = m.GetString()!;
                int space = s.IndexOf(' ', 1);
                if (space < 0) throw Bad(path, $"merge '{s}' is not two tokens separated by a space");
                merges.Add((s[..space], s[(space + 1)..]));
            }
            else if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2 && m[0].ValueKind == JsonValueKind.String && m[1].ValueKind == JsonValueKind.String)
                merges.Add((m[0].GetString()!, m[1].GetString()!));
            else throw Bad(path, $"merge {m.GetRawText()} is neither \"a b\" nor [\"a\", \"b\"]");
        }
        return merges;
    }

    // Llama 3 style: the post-processor template puts a special token before every sequence.
    private static (string? Token, bool Adds) ReadTemplateBos(JsonElement root)
    {
        foreach (var p in Flatten(Child(root, "post_processor"), "processors"))
        {
            if (Text(p, "type") != "TemplateProcessing" || Child(p, "single") is not { ValueKind: JsonValueKind.Array } single || single.GetArrayLength() == 0) continue;
            if (Child(single[0], "SpecialToken") is { } special && Text(special, "id") is { } id) return (id, true);
        }
        return (null, false);
    }
}
