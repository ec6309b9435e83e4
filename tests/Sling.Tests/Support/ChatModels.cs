using Sling.Formats;

namespace Sling.Tests.Support;

/// <summary>Small models to chat with: a random tiny llama carrying Phi-3's real vocabulary and Phi-3.5's chat template.</summary>
public static class ChatModels
{
    public const string Phi3Vocab = "tokenizers/llama.cpp-vocab/ggml-vocab-phi-3.gguf";
    public const string Phi35Template = "chat-templates/microsoft-Phi-3.5-mini-instruct.jinja";

    /// <summary>Writes the GGUF into <paramref name="folder"/> and returns its path.</summary>
    public static string WritePhi3Shaped(string folder, int seed = 7, int contextLength = 512)
    {
        string path = Path.Combine(folder, "phi3-chat.gguf");
        using var vocab = GgufFile.Open(SharedData.PathOf(Phi3Vocab));
        var tokens = (string[])vocab.Metadata["tokenizer.ggml.tokens"];
        var model = TinyLlama.Random(seed, vocab: tokens.Length, seqLen: contextLength);
        TinyLlamaGguf.Write(path, model, TinyLlamaGguf.F32, metadata =>
        {
            foreach (var key in metadata.Keys.Where(k => k.StartsWith("tokenizer.", StringComparison.Ordinal)).ToList()) metadata.Remove(key);
            foreach (var (key, value) in vocab.Metadata)
                if (key.StartsWith("tokenizer.", StringComparison.Ordinal)) metadata[key] = value;
            metadata["tokenizer.chat_template"] = File.ReadAllText(SharedData.PathOf(Phi35Template));
        });
        return path;
    }
}
