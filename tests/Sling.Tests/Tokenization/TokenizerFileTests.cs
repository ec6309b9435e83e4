using System.Text.Json.Nodes;
using Sling.Formats;
using Sling.Tests.Support;
using Sling.Tokenization;

namespace Sling.Tests.Tokenization;

/// <summary>tokenizer.model and tokenizer.json loaders against the original tokenizers' test vectors.</summary>
public class TokenizerFileTests
{
    private const string SpmModel = "tokenizers/llama2-spm/tokenizer.model";

    private static void AllVectorsPass(ITokenizer tokenizer, string vocab, bool roundTrip = true)
    {
        var (inputs, expected) = VocabTestVectors.Read(vocab);
        for (int i = 0; i < inputs.Count; i++)
        {
            var ids = tokenizer.Encode(inputs[i], addBos: false);
            Assert.True(expected[i].SequenceEqual(ids), $"{vocab} input {i} [{inputs[i]}]: expected {string.Join(" ", expected[i])}, got {string.Join(" ", ids)}");
            if (roundTrip) Assert.Equal(inputs[i], tokenizer.Decode(ids));
        }
    }

    [SharedFact(SpmModel, VocabTestVectors.Folder)]
    public void SentencePieceModelMatchesTheLlamaVectorsAndTheGgufVocabulary()
    {
        var model = TokenizerLoader.Load(SharedData.PathOf(SpmModel));
        Assert.Equal(32000, model.VocabSize);
        Assert.Equal((1, 2), (model.BosId, model.EosId));
        AllVectorsPass(model, "llama-spm");
        var gguf = VocabTestVectors.Tokenizer("llama-spm");
        foreach (var text in new[] { "Hello, y'all! How are you 😁 ?我想在apple工作1314151天～", "  leading spaces\tand\ttabs\n", "<s>inline special</s>" })
            Assert.Equal(gguf.Encode(text, true), model.Encode(text, true));
        Assert.Equal(1, model.Encode("Hi", addBos: true)[0]);
    }

    [SharedFact(VocabTestVectors.Folder)]
    public void ByteLevelTokenizerJsonMatchesTheGpt2Vectors()
    {
        using var dir = new TempDirectory();
        string path = dir.File("tokenizer.json");
        TokenizerJsonWriter.ByteLevel(path, "gpt-2", new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = true });
        var t = TokenizerLoader.Load(path);
        Assert.IsType<ByteLevelBpeTokenizer>(t);
        AllVectorsPass(t, "gpt-2");
    }

    [SharedFact(VocabTestVectors.Folder)]
    public void SplitSequenceTokenizerJsonMatchesTheDeepseekCoderVectors()
    {
        using var dir = new TempDirectory();
        string path = dir.File("tokenizer.json");
        JsonObject Split(string regex) => new() { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = regex }, ["behavior"] = "Isolated", ["invert"] = false };
        var pre = new JsonObject
        {
            ["type"] = "Sequence",
            ["pretokenizers"] = new JsonArray(Split("[\r\n]"), Split(@"\s?\p{L}+"), Split(@"\s?\p{P}+"), Split("[一-龥ࠀ-一가-퟿]+"), Split(@"\p{N}"),
                new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = false }),
        };
        TokenizerJsonWriter.ByteLevel(path, "deepseek-coder", pre);
        AllVectorsPass(TokenizerLoader.Load(path), "deepseek-coder");
    }

    [SharedFact(VocabTestVectors.Folder)]
    public void SentencePieceStyleTokenizerJsonWithMergeRanksMatchesTheLlamaVectors()
    {
        using var dir = new TempDirectory();
        string path = dir.File("tokenizer.json");
        TokenizerJsonWriter.SentencePiece(path, "llama-spm");
        File.WriteAllText(dir.File("tokenizer_config.json"),
            """{"add_bos_token": true, "add_eos_token": false, "bos_token": {"content": "<s>"}, "eos_token": "</s>", "chat_template": "{{ bos_token }}{{ messages }}"}""");
        var t = TokenizerLoader.Load(path);
        var sp = Assert.IsType<SentencePieceBpeTokenizer>(t);
        AllVectorsPass(t, "llama-spm");
        Assert.Equal((1, 2), (t.BosId, t.EosId));
        Assert.Equal(1, t.Encode("Hello", addBos: true)[0]);
        Assert.Equal("{{ bos_token }}{{ messages }}", sp.ChatTemplate);
    }

    [SharedFact(VocabTestVectors.Folder)]
    public void WordPieceTokenizerJsonMatchesTheBertVectors()
    {
        using var dir = new TempDirectory();
        string path = dir.File("tokenizer.json");
        TokenizerJsonWriter.WordPiece(path, "bert-bge");
        AllVectorsPass(TokenizerLoader.Load(path), "bert-bge", roundTrip: false);
    }

    [Theory]
    [InlineData("{not json", "not valid JSON")]
    [InlineData("[]", "not a JSON object")]
    [InlineData("{}", "missing field 'model'")]
    [InlineData("""{"model": {"type": "Unigram", "vocab": [["a", 0.0]]}}""", "'Unigram' is not supported")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {"a": -3}, "merges": []}}""", "invalid id")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {"a": 0}}}""", "merges is missing")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [7]}, "pre_tokenizer": {"type": "ByteLevel"}}""", "neither")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}, "pre_tokenizer": {"type": "Whitespace"}}""", "not supported")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "added_tokens": [{"content": "x"}]}""", "no valid id")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {"a": 99999999}, "merges": []}}""", "only 1 tokens are defined")]
    public void MalformedTokenizerJsonIsAClearError(string json, string expected)
    {
        using var dir = new TempDirectory();
        string path = dir.File("tokenizer.json");
        File.WriteAllText(path, json);
        var e = Assert.ThrowsAny<SlingException>(() => TokenizerLoader.Load(path));
        Assert.Contains(expected, e.Message);
        Assert.Contains(path, e.Message);
    }

    [Theory]
    [InlineData(new byte[] { 0x0A, 0x05, 0x0A })]           // piece length past the end
    [InlineData(new byte[] { 0x0A, 0xFF, 0xFF, 0xFF })]     // unterminated varint
    [InlineData(new byte[] { 0x0F })]                       // unknown wire type
    [InlineData(new byte[0])]                               // no pieces
    public void CorruptSentencePieceModelIsAClearError(byte[] content)
    {
        using var dir = new TempDirectory();
        string path = dir.File("tokenizer.model");
        File.WriteAllBytes(path, content);
        var e = Assert.Throws<ModelFormatException>(() => TokenizerLoader.Load(path));
        Assert.Contains(path, e.Message);
    }
}

public class SentencePieceWordSplittingTests
{
    [SharedFact(VocabTestVectors.Folder)]
    public void MergingWordByWordGivesTheIdsOfMergingTheWholeText()
    {
        using var g = GgufFile.Open(VocabTestVectors.PathOf("llama-spm"));
        var tokens = g.Get<string[]>("tokenizer.ggml.tokens");
        var scores = g.Get<float[]>("tokenizer.ggml.scores");
        var types = g.Get<int[]>("tokenizer.ggml.token_type").Select(t => (TokenType)t).ToArray();
        var perWord = new SentencePieceBpeTokenizer(new Vocabulary(tokens, scores, types) { UnknownId = 0 });
        // One extra token with "▁" inside a word forces the whole-text path; the text never contains it.
        var whole = new SentencePieceBpeTokenizer(new Vocabulary([.. tokens, "q\u2581zzz"], [.. scores, -1e9f], [.. types, TokenType.Normal]) { UnknownId = 0 });
        var (inputs, _) = VocabTestVectors.Read("llama-spm");
        string text = string.Join("  ", inputs) + string.Concat(Enumerable.Repeat(" Once upon a time, the   little girl said: \"!!!!\"\n", 50));
        Assert.Equal(whole.Encode(text, false), perWord.Encode(text, false));
        Assert.Equal(whole.Encode(text, false), perWord.Encode(text, false)); // again, from the word cache
    }
}
