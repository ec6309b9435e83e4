namespace Sling.Tokenization;

/// <summary>Opens a tokenizer file by its kind, or finds the tokenizer that belongs to a model.</summary>
public static class TokenizerLoader
{
    public static ITokenizer Load(string path)
    {
        if (Directory.Exists(path))
            throw new Formats.ModelFormatException(path, "is a directory, expected a tokenizer file");
        if (!File.Exists(path)) throw new SlingException($"{path}: tokenizer file not found");
        string name = Path.GetFileName(path);
        try
        {
            if (name.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) return HuggingFaceTokenizer.Load(path);
            if (name.EndsWith(".model", StringComparison.OrdinalIgnoreCase)) return SentencePieceModelTokenizer.Load(path);
            if (Formats.GgufFile.HasMagic(path)) return GgufTokenizer.Load(path);
            return Llama2cTokenizer.Load(path);
        }
        catch (SlingException e) when (e is not Formats.ModelFormatException && !e.Message.Contains(name, StringComparison.Ordinal))
        {
            throw new Formats.ModelFormatException(path, e.Message); // every tokenizer error names its file
        }
    }

    /// <summary>
    /// The tokenizer in <paramref name="folder"/>: tokenizer.json, tokenizer.model, tokenizer.bin,
    /// or the only tok*.bin. Null when there is none.
    /// </summary>
    public static string? FindIn(string folder)
    {
        foreach (var standard in new[] { "tokenizer.json", "tokenizer.model", "tokenizer.bin" })
        {
            string p = Path.Combine(folder, standard);
            if (File.Exists(p)) return p;
        }
        var candidates = Directory.GetFiles(folder, "tok*.bin");
        if (candidates.Length > 1)
            throw new TokenizerNotFoundException($"{folder}: several tokenizers ({string.Join(", ", candidates.Select(Path.GetFileName))}); give the tokenizer file's path");
        return candidates.Length == 1 ? candidates[0] : null;
    }
}
