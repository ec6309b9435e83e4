namespace Sling.Tokenization;

/// <summary>
/// The regexes each byte-level BPE family splits text with before merging, by the family names
/// GGUF files record in "tokenizer.ggml.pre" (the same splits the families' tokenizer.json files
/// define). Unknown names are refused rather than guessed: a wrong split silently changes tokens.
/// </summary>
internal static class PreTokenizerRules
{
    private const string Gpt2 = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";
    private const string Llama3 = @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    private const string Qwen2 = @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    public static IReadOnlyList<string> For(string family) => family switch
    {
        "gpt-2" or "gpt2" or "default" or "mpt" or "olmo" or "phi-2" or "codegen" => [Gpt2],
        "starcoder" or "refact" or "command-r" or "smollm" or "codeshell" or "exaone" => [@"\p{N}", Gpt2],
        "llama-bpe" or "llama3" or "dbrx" or "smaug-bpe" => [Llama3],
        "qwen2" or "stablelm2" or "deepseek-r1-qwen" => [Qwen2],
        "deepseek-coder" => [@"[\r\n]", @"\s?\p{L}+", @"\s?\p{P}+", "[一-龥ࠀ-一가-퟿]+", @"\p{N}"],
        "falcon" => [@"[\p{P}\$\+<=>\^~\|`]+", Gpt2, "[0-9][0-9][0-9]"],
        _ => throw new SlingException($"byte-level BPE pre-tokenizer '{family}' is not supported (supported: gpt-2, starcoder, refact, smollm, llama-bpe, qwen2, deepseek-coder, falcon, …)"),
    };
}
