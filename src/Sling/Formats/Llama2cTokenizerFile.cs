namespace Sling.Formats;

/// <summary>
/// llama2.c's tokenizer.bin: int32 max_token_length, then per token a float32 score, an int32 byte
/// length and the bytes. The file does not store the vocabulary size; it is the number of entries.
/// </summary>
public sealed record Llama2cTokenizerFile(byte[][] Tokens, float[] Scores, int MaxTokenLength)
{
    private const int MaxTokenBytes = 1 << 16;

    public static Llama2cTokenizerFile Read(string path)
    {
        using var file = MappedFile.Open(path);
        if (file.Length < 4)
            throw new ModelFormatException(path, $"only {file.Length} bytes, too short for a llama2.c tokenizer");
        int maxLength = file.Read<int>(0, "max_token_length");
        if (maxLength <= 0 || maxLength > MaxTokenBytes)
            throw new ModelFormatException(path, $"max_token_length {maxLength} is implausible; not a llama2.c tokenizer.bin?");
        var tokens = new List<byte[]>();
        var scores = new List<float>();
        long offset = 4;
        while (offset < file.Length)
        {
            int index = tokens.Count;
            if (!file.Contains(offset, 8))
                throw new ModelFormatException(path, $"token {index} is cut off at byte {offset} (truncated file)");
            float score = file.Read<float>(offset, "score");
            int length = file.Read<int>(offset + 4, "token length");
            if (length < 0 || length > maxLength)
                throw new ModelFormatException(path, $"token {index} claims {length} bytes, outside 0..max_token_length {maxLength}");
            if (!file.Contains(offset + 8, length))
                throw new ModelFormatException(path, $"token {index} runs past the end of the file (truncated file)");
            tokens.Add(file.Bytes(offset + 8, length, "token").ToArray());
            scores.Add(score);
            offset += 8 + length;
        }
        if (tokens.Count == 0)
            throw new ModelFormatException(path, "holds no tokens");
        return new Llama2cTokenizerFile(tokens.ToArray(), scores.ToArray(), maxLength);
    }
}
