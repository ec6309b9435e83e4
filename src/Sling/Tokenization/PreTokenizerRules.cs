namespace Sling.Tokenization;

/// <summary>
/// How one byte-level BPE family splits text before merging: the regexes, applied one after the
/// other (each splits the pieces the previous one left), and the loader flags llama.cpp attaches to
/// the family — <see cref="IgnoreMerges"/> (a piece that is itself a token is not merged from its
/// characters, as Llama 3's tokenizer.json asks) and <see cref="AddBos"/> (the default when the file
/// does not say whether to begin with BOS).
/// </summary>
internal sealed record PreTokenizerFamily(string[] Patterns, bool IgnoreMerges = false, bool AddBos = false, bool HasBos = true);

/// <summary>
/// The pre-tokenizer families by the names GGUF files record in "tokenizer.ggml.pre" — every name
/// llama.cpp's vocabulary loader accepts. Where llama.cpp rewrote a tokenizer.json regex for its own
/// regex engine (no \p{Lu}, no case-insensitive groups, no possessive quantifiers), the original
/// tokenizer.json pattern is used: .NET's engine runs it as the Hugging Face tokenizer does.
/// Unknown names are refused rather than guessed: a wrong split silently changes tokens.
/// </summary>
internal static class PreTokenizerRules
{
    // Building blocks of the tokenizer.json patterns.
    private const string Gpt2 = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";
    private const string Contractions = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)";
    private const string Spaces = @"\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>Llama 3's pattern with the digit rule given (\p{N}{1,3}, \p{N}, \p{N}+).</summary>
    private static string Llama3Style(string digits, string letters = @"\p{L}+", string symbols = @"[^\s\p{L}\p{N}]+")
        => $@"{Contractions}|[^\r\n\p{{L}}\p{{N}}]?{letters}|{digits}| ?{symbols}[\r\n]*|{Spaces}";

    private static readonly string Llama3 = Llama3Style(@"\p{N}{1,3}");
    private static readonly string Qwen2 = Llama3Style(@"\p{N}");

    // GPT-4o's o200k split: words keep their case shape (an upper-case run, then lower case), so
    // "HelloWorld" is two pieces; contractions attach to the word; symbols take a following '/'.
    private const string Upper = @"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]";
    private const string Lower = @"[\p{Ll}\p{Lm}\p{Lo}\p{M}]";
    private static readonly string CaseWords =
        $@"[^\r\n\p{{L}}\p{{N}}]?{Upper}*{Lower}+{Contractions}?|[^\r\n\p{{L}}\p{{N}}]?{Upper}+{Lower}*{Contractions}?";
    private static readonly string O200k = $@"{CaseWords}|\p{{N}}{{1,3}}| ?[^\s\p{{L}}\p{{N}}]+[\r\n/]*|{Spaces}";
    private static readonly string Tekken =
        $@"[^\r\n\p{{L}}\p{{N}}]?{Upper}*{Lower}+|[^\r\n\p{{L}}\p{{N}}]?{Upper}+{Lower}*|\p{{N}}| ?[^\s\p{{L}}\p{{N}}]+[\r\n/]*|{Spaces}";

    // DeepSeek V3's split: digit triples, CJK/kana runs, then words led by one ASCII punctuation mark.
    private const string CjkKana = "[一-龥぀-ゟ゠-ヿ]+";
    private const string PunctuatedWords =
        @"[!""#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+";

    // BLOOM-style: runs of anything but whitespace and sentence punctuation, with one leading space.
    private const string Bloom = @" ?[^(\s|.,!?…。，、।۔،)]+";

    // DeepSeek LLM's letters: the cased letters (upper, lower, title case) — Latin, Greek, Cyrillic,
    // Armenian, Georgian, Cherokee, Glagolitic, Coptic, … — plus the cased scripts beyond the
    // 16-bit plane (Deseret, Osage, Old Hungarian, Warang Citi, Adlam) as UTF-16 surrogate pairs.
    private const string DeepSeekLetters =
        @"(?:[\p{Lu}\p{Ll}\p{Lt}]|\uD801[\uDC00-\uDC4F\uDCB0-\uDCD3\uDCD8-\uDCFB]|\uD803[\uDC80-\uDCB2\uDCC0-\uDCF2]|\uD806[\uDCA0-\uDCDF]|\uD83A[\uDD00-\uDD43])+";

    private static readonly (string[] Names, PreTokenizerFamily Family)[] Families =
    [
        // llama.cpp's fallback when a file names no pre-tokenizer (it warns that quality degrades).
        (["default"], new([@"[\p{P}\$\+<=>\^~\|]+", Gpt2, @"\p{N}+", "[0-9][0-9][0-9]"])),
        (["gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum", "modern-bert",
          "jina-v1-en", "jina-v2-code", "roberta-bpe", "exaone4", "mpt", "olmo", "jais", "trillion", "granite-docling"], new([Gpt2])),
        (["starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b", "mellum2"], new([@"\p{N}", Gpt2])),
        (["llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano"],
            new([Llama3], IgnoreMerges: true, AddBos: true)),
        (["dbrx", "smaug-bpe"], new([Llama3])),
        (["glm4", "chatglm-bpe"], new([Llama3], HasBos: false)),
        (["jais-2"], new([$@"{Contractions}|[^\r\n\p{{L}}\p{{N}}]?\p{{L}}+|\p{{N}}{{1,3}}| ?[^\s\p{{L}}\p{{N}}]+[\r\n]*|\s*[\r\n]+|" +
            @"\s{512}(?!\S)|\s{256}(?!\S)|\s{128}(?!\S)|\s{64}(?!\S)|\s{32}(?!\S)|\s{16}(?!\S)|\s{8}(?!\S)|\s{4}(?!\S)|\s{1,2}(?!\S)|\s{1}"])),
        (["qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2", "hunyuan", "solar-open", "grok-2"], new([Qwen2])),
        (["qwen35"], new([Llama3Style(@"\p{N}", letters: @"[\p{L}\p{M}]+", symbols: @"[^\s\p{L}\p{M}\p{N}]+")])),
        (["ufakzeka"], new([$@"[^\r\n\p{{L}}\p{{N}}]?\p{{L}}+|\p{{N}}| ?[^\s\p{{L}}\p{{N}}]+[\r\n]*|{Spaces}"])),
        (["laguna"], new([@"[^\n]+|[\n]+", Qwen2])),
        (["minicpm5"], new([@"\p{N}{1,3}", Llama3Style(@"\p{N}+")], IgnoreMerges: true)),
        (["seed-coder"], new([$@"{Contractions}|[^\r\n\p{{L}}\p{{N}}]?\p{{L}}+|\p{{N}}{{1}}| ?[^\s\p{{L}}\p{{N}}\r\n]+|{Spaces}"])),
        // tokenizer.json writes "?+" and "++" (possessive); .NET spells them as atomic groups.
        (["bailingmoe", "bailingmoe2", "llada-moe"],
            new([@"'(?i:[sdmt]|ll|ve|re)|(?>[^\r\n\p{L}\p{N}]?)\p{L}+|\p{N}| ?(?>[^\s\p{L}\p{N}]+)[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+"])),
        (["exaone-moe"], new([$@"{Contractions}|[^\r\n\p{{L}}\p{{N}}]?(?:\p{{L}}\p{{M}}*(?: \p{{L}}\p{{M}}*)*)+|\p{{N}}| ?[^\s\p{{L}}\p{{N}}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+"])),
        (["gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2"], new([O200k])),
        (["granite-embed-multi-97m"], new([O200k], IgnoreMerges: true)),
        (["tiny_aya", "cohere2moe"], new([@"\d{1,3}(?=(?:\d{3})*\b)", O200k])),
        (["tekken"], new([Tekken], IgnoreMerges: true, AddBos: true)),
        (["youtu"], new(["[가-힣ㄱ-ㆎ]+|[！…“”‘’—：；，、-〿︰-﹏]+|[ㄅ-ㄯ]+|[一-龥぀-ゟ゠-ヿ]+",
            $@"[^\r\n\p{{L}}\p{{N}}]?{Upper}*{Lower}+{Contractions}?|[^\r\n\p{{L}}\p{{N}}]?{Upper}+{Lower}*{Contractions}?|\p{{N}}| ?[^\s\p{{L}}\p{{N}}]+[\r\n/]*|{Spaces}"],
            IgnoreMerges: true)),
        (["deepseek-llm"], new([@"[\r\n]", @"\s?" + DeepSeekLetters, @"\s?[!-/:-~！-／：-～‘-‟　-。]+", @"\s+$", "[一-龥ࠀ-一가-퟿]+", @"\p{N}+"])),
        (["deepseek-coder"], new([@"[\r\n]", @"\s?\p{L}+", @"\s?\p{P}+", "[一-龥ࠀ-一가-퟿]+", @"\p{N}"])),
        (["deepseek-v3", "hunyuan-dense", "joyai-llm", "hy_v4"], new([@"\p{N}{1,3}", CjkKana, $@"{PunctuatedWords}[\r\n]*|{Spaces}"])),
        (["spark2_5"], new([@"\p{N}{1,3}", CjkKana, $@"{PunctuatedWords}|[\r\n]|\s+(?!\S)|\s+", @"\p{N}"])),
        (["falcon"], new([@"[\p{P}\$\+<=>\^~\|`]+", Gpt2, "[0-9][0-9][0-9]"])),
        (["poro-chat", "bloom", "gpt3-finnish"], new([Bloom])),
        (["viking"], new([Bloom, @"\p{N}"])),
        (["chameleon"], new(["<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", @"([\t\n]|    |  )", @"\p{N}",
            @"[\p{P}!-/:-@\[-`{-~]", Gpt2], AddBos: true)),
        (["superbpe"], new([@"\p{N}+", @"(?=(\d{3})+(?!\d))"])),
    ];

    /// <summary>Names llama.cpp knows whose splitting is not a byte-level regex split: custom code
    /// (Kimi K2's Han handling, AFMoE's digit grouping) or SentencePiece-style BPE over raw text.</summary>
    private static readonly Dictionary<string, string> Unsupported = new(StringComparer.Ordinal)
    {
        ["kimi-k2"] = "llama.cpp splits it with custom code, not a regex",
        ["afmoe"] = "llama.cpp splits its digits with custom code, not a regex",
        ["gemma4"] = "it is SentencePiece-style BPE over raw UTF-8, not byte-level BPE",
        ["granite-embed-multi-311m"] = "it is SentencePiece-style BPE over raw UTF-8, not byte-level BPE",
        ["sarvam-moe"] = "it is SentencePiece-style BPE over raw UTF-8, not byte-level BPE",
        ["whitespace"] = "it splits on whitespace without byte-level spelling (an embedding model's tokenizer)",
    };

    private static readonly Dictionary<string, PreTokenizerFamily> ByName = Families
        .SelectMany(f => f.Names.Select(n => (Name: n, f.Family)))
        .ToDictionary(p => p.Name, p => p.Family, StringComparer.Ordinal);

    /// <summary>Every name that loads.</summary>
    public static IEnumerable<string> Names => ByName.Keys;

    public static PreTokenizerFamily For(string name)
    {
        if (ByName.TryGetValue(name, out var family)) return family;
        if (Unsupported.TryGetValue(name, out var why))
            throw new SlingException($"byte-level BPE pre-tokenizer '{name}' is not supported: {why}");
        throw new SlingException($"byte-level BPE pre-tokenizer '{name}' is not known (known: {string.Join(", ", ByName.Keys.Order(StringComparer.Ordinal))})");
    }
}
