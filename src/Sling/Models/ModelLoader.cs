using Sling.Formats;
using Sling.Kernels;
using Sling.Tokenization;

namespace Sling.Models;

/// <summary>Opens a model from a path, whatever its format, together with its tokenizer.</summary>
public static class ModelLoader
{
    /// <summary>Opens only the network (no tokenizer): a Hugging Face folder or a llama2.c checkpoint.</summary>
    public static Transformer LoadTransformer(string modelPath, int threads = 0) => LoadTransformer(modelPath, new LoadOptions { Threads = threads });

    /// <summary>
    /// The local path of <paramref name="model"/>: itself when it is a file or folder here; for a Hugging
    /// Face model id (<c>org/name</c>, <c>org/name@revision</c>) the snapshot in the Hub cache, downloaded first if needed.
    /// </summary>
    public static string Locate(string model, LoadOptions options)
    {
        if (!Hub.HubModelId.TryParse(model, out var id)) return model;
        using var client = new Hub.HubClient(options.Hub ?? Hub.HubOptions.FromEnvironment());
        return client.Download(id);
    }

    public static Transformer LoadTransformer(string modelPath, LoadOptions options)
    {
        var model = LoadTransformerOnly(Locate(modelPath, options), options);
        Pages.ReturnFreedHeap(); // loading's temporary native buffers (repacking, conversion) are freed by now
        return model;
    }

    private static Transformer LoadTransformerOnly(string modelPath, LoadOptions options)
    {
        var pool = ComputePool.Get(options.Threads);
        if (Directory.Exists(modelPath))
        {
            if (!HuggingFaceLoader.IsModelFolder(modelPath))
                throw new SlingException($"{modelPath}: a folder without config.json is not a Hugging Face model folder");
            return HuggingFaceLoader.Load(modelPath, pool, options);
        }
        if (!File.Exists(modelPath))
            throw new SlingException($"{modelPath}: model file not found");
        if (options.Quantization is not null)
            throw new SlingException($"{modelPath}: compression at load applies to Hugging Face folders; llama2.c and GGUF files run in their stored format");
        if (options.DType != WeightDType.Auto)
            throw new SlingException($"{modelPath}: dtype {options.DType.ToString().ToLowerInvariant()} was asked for, but llama2.c and GGUF files run in their stored format; conversion applies to Hugging Face folders");
        if (GgufFile.HasMagic(modelPath)) return GgufLoader.Load(modelPath, pool, options);
        return Llama2cCheckpoint.Load(modelPath, pool);
    }

    public static LoadedModel Load(string modelPath, string? tokenizerPath = null, int threads = 0)
        => Load(modelPath, new LoadOptions { TokenizerPath = tokenizerPath, Threads = threads });

    public static LoadedModel Load(string modelPath, LoadOptions options)
    {
        string? tokenizerPath = options.TokenizerPath;
        modelPath = Locate(modelPath, options);
        var transformer = LoadTransformer(modelPath, options);
        transformer.CachePrecision = options.KvCache;
        try
        {
            bool folder = Directory.Exists(modelPath);
            string dir = folder ? modelPath : Path.GetDirectoryName(Path.GetFullPath(modelPath))!;
            // A GGUF model carries its own vocabulary.
            string path = tokenizerPath ?? (GgufFile.HasMagic(modelPath) ? modelPath : null) ?? TokenizerLoader.FindIn(dir)
                ?? throw new TokenizerNotFoundException($"{modelPath}: no tokenizer (tokenizer.json, tokenizer.model, tokenizer.bin) beside the model; give the tokenizer file's path");
            var tokenizer = TokenizerLoader.Load(path);
            CheckVocabulary(tokenizer, transformer.Config, path);

            var defaults = folder ? GenerationConfig.Read(Path.Combine(modelPath, HuggingFaceLoader.GenerationConfigFileName)) : GenerationConfig.Empty;
            var stops = new HashSet<int>();
            if (tokenizer.EosId >= 0) stops.Add(tokenizer.EosId);
            if (folder) stops.UnionWith(HuggingFaceLoader.EndOfSequenceIds(modelPath, defaults));
            else if (tokenizer is Llama2cTokenizer) stops.Add(tokenizer.BosId); // llama2.c's stories models start each new story with BOS
            return new LoadedModel(transformer, tokenizer, modelPath, stops, defaults);
        }
        catch
        {
            transformer.Dispose();
            throw;
        }
    }

    public static void CheckVocabulary(ITokenizer tokenizer, TransformerConfig config, string tokenizerSource)
    {
        // Hugging Face models often pad the embedding beyond the tokenizer (e.g. to a multiple of 64);
        // a tokenizer larger than the model, or a llama2.c pair that differs at all, cannot be right.
        bool fits = tokenizer is Llama2cTokenizer ? tokenizer.VocabSize == config.VocabSize : tokenizer.VocabSize <= config.VocabSize;
        if (!fits)
            throw new SlingException(
                $"{tokenizerSource}: the tokenizer has {tokenizer.VocabSize} tokens but the model's vocabulary has {config.VocabSize}; they do not belong together");
    }
}
