using Sling.Formats;
using Sling.Tests.Support;
using Sling.Tokenization;

namespace Sling.Tests.Tokenization;

/// <summary>
/// The byte-level BPE families by their tokenizer.ggml.pre names. The expected splits are worked out
/// by hand from each family's tokenizer.json rules (digit grouping, punctuation, case shape).
/// </summary>
public class PreTokenizerRulesTests
{
    private const string Mixed = "Hello World's 12345 apples, HTTPServer!! naïve\n\n  x = 3.14159; 你好 ｈｉ ok";

    private static string[] Split(string family, string text)
    {
        var splitter = new SequentialRegexPreTokenizer(PreTokenizerRules.For(family).Patterns);
        return splitter.PreTokenize(text).Select(p => text.Substring(p.Offset, p.Length)).ToArray();
    }

    [Fact]
    public void EveryNameSplitsWithoutLosingText()
    {
        var names = PreTokenizerRules.Names.ToList();
        Assert.True(names.Count >= 80, $"{names.Count} names");
        foreach (var name in names)
        {
            var pieces = Split(name, Mixed);
            Assert.Equal(Mixed, string.Concat(pieces));
            Assert.All(pieces, p => Assert.NotEmpty(p));
        }
    }

    [Theory]
    [InlineData("llama-bpe", "12345 apples", new[] { "123", "45", " apples" })]
    [InlineData("qwen2", "2024", new[] { "2", "0", "2", "4" })]
    [InlineData("gpt-2", "it's 2024", new[] { "it", "'s", " 2024" })]
    [InlineData("starcoder", "x=42", new[] { "x", "=", "4", "2" })]
    [InlineData("default", "a+b=1234", new[] { "a", "+", "b", "=", "123", "4" })]
    [InlineData("gpt-4o", "HelloWorld's", new[] { "Hello", "World's" })]
    [InlineData("gpt-4o", "helloWORLD", new[] { "hello", "WORLD" })]
    [InlineData("tekken", "HelloWorld's", new[] { "Hello", "World", "'s" })]
    [InlineData("tiny_aya", "1234567", new[] { "1", "234", "567" })]
    [InlineData("superbpe", "1234567", new[] { "1", "234", "567" })]
    [InlineData("bloom", "Hello, world!", new[] { "Hello", ",", " world", "!" })]
    [InlineData("viking", "Hi 42", new[] { "Hi", " ", "4", "2" })]
    [InlineData("bailingmoe", "it's", new[] { "it", "'s" })]
    [InlineData("deepseek-v3", "3.14159", new[] { "3", ".", "141", "59" })]
    [InlineData("deepseek-llm", "Hi 42", new[] { "Hi", " ", "42" })]
    [InlineData("deepseek-llm", "Ωμέγα 𐐀𐐨!", new[] { "Ωμέγα", " 𐐀𐐨", "!" })]
    [InlineData("seed-coder", "a;\nb", new[] { "a", ";", "\n", "b" })]
    [InlineData("falcon", "a+b", new[] { "a", "+", "b" })]
    public void FamiliesSplitAsTheirRulesSay(string family, string text, string[] expected)
        => Assert.Equal(expected, Split(family, text));

    [Fact]
    public void NamesThatNeedCustomCodeOrRawTextAreRefusedWithTheReason()
    {
        Assert.Contains("custom code", Assert.Throws<SlingException>(() => PreTokenizerRules.For("kimi-k2")).Message);
        Assert.Contains("SentencePiece-style", Assert.Throws<SlingException>(() => PreTokenizerRules.For("gemma4")).Message);
        var unknown = Assert.Throws<SlingException>(() => PreTokenizerRules.For("no-such-family")).Message;
        Assert.Contains("'no-such-family' is not known", unknown);
        Assert.Contains("llama-bpe", unknown);
    }

    // A vocabulary where "hello" is a token that the merges cannot reach ("he" + "ll" + "o" is as far as they go).
    private static string WriteVocabulary(TempDirectory dir, string pre, bool? addBos = null)
    {
        string path = dir.File($"vocab-{pre}.gguf");
        using var w = new GgufWriter(path);
        w.Set("general.architecture", "llama");
        w.Set("tokenizer.ggml.model", "gpt2");
        w.Set("tokenizer.ggml.pre", pre);
        w.Set("tokenizer.ggml.tokens", new[] { "<s>", "h", "e", "l", "o", "Ġ", "he", "ll", "hello" });
        w.Set("tokenizer.ggml.token_type", new[] { 3, 1, 1, 1, 1, 1, 1, 1, 1 });
        w.Set("tokenizer.ggml.merges", new[] { "h e", "l l" });
        w.Set("tokenizer.ggml.bos_token_id", 0u);
        if (addBos is { } b) w.Set("tokenizer.ggml.add_bos_token", b);
        w.Complete();
        return path;
    }

    [Fact]
    public void Llama3FamiliesTakeAWholeWordTokenAndBeginWithBos()
    {
        using var dir = new TempDirectory();
        var llama3 = GgufTokenizer.Load(WriteVocabulary(dir, "llama-bpe"));
        Assert.Equal([0, 8], llama3.Encode("hello", addBos: true));
        var gpt2 = GgufTokenizer.Load(WriteVocabulary(dir, "gpt-2"));
        Assert.Equal([6, 7, 4], gpt2.Encode("hello", addBos: true));
        var told = GgufTokenizer.Load(WriteVocabulary(dir, "llama-bpe", addBos: false));
        Assert.Equal([8], told.Encode("hello", addBos: true));
        var glm = GgufTokenizer.Load(WriteVocabulary(dir, "chatglm-bpe", addBos: true));
        Assert.Equal(-1, glm.BosId);
    }

    // The same rule in a Hugging Face tokenizer.json: the BPE model's "ignore_merges".
    [Theory]
    [InlineData(true, new[] { 8 })]
    [InlineData(false, new[] { 6, 7, 4 })]
    public void ATokenizerJsonWithIgnoreMergesTakesAWholeWordToken(bool ignoreMerges, int[] expected)
    {
        using var dir = new TempDirectory();
        string[] tokens = ["<s>", "h", "e", "l", "o", "Ġ", "he", "ll", "hello"];
        var root = new System.Text.Json.Nodes.JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new System.Text.Json.Nodes.JsonArray(),
            ["pre_tokenizer"] = new System.Text.Json.Nodes.JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = true },
            ["decoder"] = new System.Text.Json.Nodes.JsonObject { ["type"] = "ByteLevel" },
            ["model"] = new System.Text.Json.Nodes.JsonObject
            {
                ["type"] = "BPE",
                ["ignore_merges"] = ignoreMerges,
                ["vocab"] = TokenizerJsonWriter.Vocab(tokens),
                ["merges"] = new System.Text.Json.Nodes.JsonArray("h e", "l l"),
            },
        };
        File.WriteAllText(dir.File("tokenizer.json"), root.ToJsonString());
        var tokenizer = TokenizerLoader.Load(dir.File("tokenizer.json"));
        Assert.Equal(expected, tokenizer.Encode("hello", addBos: false));
    }

    [Fact]
    public void AnUnsupportedNameInAFileNamesTheFileAndTheKey()
    {
        using var dir = new TempDirectory();
        string path = WriteVocabulary(dir, "kimi-k2");
        var e = Assert.Throws<ModelFormatException>(() => GgufTokenizer.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("tokenizer.ggml.pre", e.Message);
    }
}
