using Sling.Formats;
using Sling.Kernels;
using Sling.Tokenization;

namespace Sling.Models;

/// <summary>Opens a model from a path, whatever its format, together with its tokenizer.</summary>
public static class ModelLoader
{
    public static LoadedModel Load(string modelPath, string? tokenizerPath = null, int threads = 0)
    {
        var matVec = new MatVec(threads);
        if (Directory.Exists(modelPath))
            throw new SlingException($"{modelPath}: model folders (Hugging Face layout) are not supported yet; pass a llama2.c .bin checkpoint");
        if (!File.Exists(modelPath))
            throw new SlingException($"{modelPath}: model file not found");

        var transformer = Llama2cCheckpoint.Load(modelPath, matVec);
        try
        {
            var tokenizer = Llama2cTokenizer.Load(tokenizerPath ?? FindLlama2cTokenizer(modelPath));
            CheckVocabulary(tokenizer, transformer.Config, tokenizerPath ?? modelPath);
            return new LoadedModel(transformer, tokenizer, modelPath);
        }
        catch
        {
            transformer.Dispose();
            throw;
        }
    }

    /// <summary>tokenizer.bin beside the checkpoint, else the only tok*.bin there.</summary>
    private static string FindLlama2cTokenizer(string modelPath)
    {
        string dir = Path.GetDirectoryName(Path.GetFullPath(modelPath))!;
        string standard = Path.Combine(dir, "tokenizer.bin");
        if (File.Exists(standard)) return standard;
        var candidates = Directory.GetFiles(dir, "tok*.bin");
        if (candidates.Length == 1) return candidates[0];
        throw new SlingException(candidates.Length == 0
            ? $"{modelPath}: no tokenizer.bin beside the model; pass --tokenizer PATH"
            : $"{modelPath}: several tokenizers beside the model ({string.Join(", ", candidates.Select(Path.GetFileName))}); pass --tokenizer PATH");
    }

    public static void CheckVocabulary(ITokenizer tokenizer, TransformerConfig config, string tokenizerSource)
    {
        if (tokenizer.VocabSize != config.VocabSize)
            throw new SlingException(
                $"{tokenizerSource}: the tokenizer has {tokenizer.VocabSize} tokens but the model's vocabulary has {config.VocabSize}; they do not belong together");
    }
}
