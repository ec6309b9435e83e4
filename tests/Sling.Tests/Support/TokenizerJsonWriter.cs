using System.Text.Json.Nodes;
using Sling.Formats;

namespace Sling.Tests.Support;

/// <summary>Writes the vocabulary of a GGUF file as a Hugging Face tokenizer.json of the matching kind.</summary>
public static class TokenizerJsonWriter
{
    public static JsonObject Vocab(string[] tokens)
    {
        var vocab = new JsonObject();
        for (int i = 0; i < tokens.Length; i++)
            if (!vocab.ContainsKey(tokens[i])) vocab[tokens[i]] = i;
        return vocab;
    }

    public static JsonArray AddedTokens(string[] tokens, int[] types)
    {
        var added = new JsonArray();
        for (int i = 0; i < tokens.Length; i++)
            if (types[i] is 3 or 4)
                added.Add(new JsonObject { ["id"] = i, ["content"] = tokens[i], ["special"] = types[i] == 3 });
        return added;
    }

    /// <summary>Byte-level BPE with the given pre-tokenizer JSON.</summary>
    public static void ByteLevel(string path, string ggufName, JsonNode preTokenizer)
    {
        using var g = GgufFile.Open(VocabTestVectors.PathOf(ggufName));
        var tokens = g.Get<string[]>("tokenizer.ggml.tokens");
        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = AddedTokens(tokens, g.Get<int[]>("tokenizer.ggml.token_type")),
            ["normalizer"] = null,
            ["pre_tokenizer"] = preTokenizer,
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel" },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["vocab"] = Vocab(tokens),
                ["merges"] = new JsonArray(g.Get<string[]>("tokenizer.ggml.merges").Select(m => (JsonNode)JsonValue.Create(m)!).ToArray()),
            },
        };
        File.WriteAllText(path, root.ToJsonString());
    }

    /// <summary>
    /// SentencePiece-style BPE as Hugging Face's converter writes it for Llama: merges extracted from
    /// the piece scores (every split of a piece into two pieces, best-scoring pieces first, a stable
    /// sort keeping vocabulary order among equals), "▁" normalizers, byte fallback.
    /// </summary>
    public static void SentencePiece(string path, string ggufName)
    {
        using var g = GgufFile.Open(VocabTestVectors.PathOf(ggufName));
        var tokens = g.Get<string[]>("tokenizer.ggml.tokens");
        var scores = g.Get<float[]>("tokenizer.ggml.scores");
        var types = g.Get<int[]>("tokenizer.ggml.token_type");
        var ids = new Dictionary<string, int>();
        for (int i = 0; i < tokens.Length; i++) ids.TryAdd(tokens[i], i);
        var merges = new List<(string L, string R, float Score)>();
        for (int i = 0; i < tokens.Length; i++)
        {
            string piece = tokens[i];
            var local = new List<(string, string, float)>();
            for (int cut = 1; cut < piece.Length; cut++)
                if (ids.ContainsKey(piece[..cut]) && ids.ContainsKey(piece[cut..])) local.Add((piece[..cut], piece[cut..], scores[i]));
            merges.AddRange(local.OrderBy(m => ids[m.Item1]).ThenBy(m => ids[m.Item2]));
        }
        var ordered = merges.OrderByDescending(m => m.Score).ToList(); // LINQ ordering is stable
        var root = new JsonObject
        {
            ["added_tokens"] = AddedTokens(tokens, types),
            ["normalizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["normalizers"] = new JsonArray(
                    new JsonObject { ["type"] = "Prepend", ["prepend"] = "\u2581" },
                    new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = " " }, ["content"] = "\u2581" }),
            },
            ["pre_tokenizer"] = null,
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["byte_fallback"] = true,
                ["unk_token"] = "<unk>",
                ["vocab"] = Vocab(tokens),
                ["merges"] = new JsonArray(ordered.Select(m => (JsonNode)new JsonArray(m.L, m.R)).ToArray()),
            },
        };
        File.WriteAllText(path, root.ToJsonString());
    }

    /// <summary>BERT WordPiece, with "##" continuations restored from llama.cpp's phantom-space spelling.</summary>
    public static void WordPiece(string path, string ggufName)
    {
        using var g = GgufFile.Open(VocabTestVectors.PathOf(ggufName));
        var tokens = g.Get<string[]>("tokenizer.ggml.tokens")
            .Select(t => t.StartsWith('[') && t.EndsWith(']') ? t : t.StartsWith('\u2581') ? t[1..] : "##" + t).ToArray();
        var root = new JsonObject
        {
            ["normalizer"] = new JsonObject { ["type"] = "BertNormalizer", ["lowercase"] = true },
            ["pre_tokenizer"] = new JsonObject { ["type"] = "BertPreTokenizer" },
            ["model"] = new JsonObject { ["type"] = "WordPiece", ["unk_token"] = "[UNK]", ["continuing_subword_prefix"] = "##", ["vocab"] = Vocab(tokens) },
        };
        File.WriteAllText(path, root.ToJsonString());
    }
}
