using Sling.Formats;
using Sling.Kernels;
using Sling.Models.Architectures;

namespace Sling.Models;

/// <summary>
/// Loads a Hugging Face model folder (config.json + safetensors, single or sharded) directly: the
/// architecture maps tensor names onto the engine, and the weights stay in their file dtype,
/// memory-mapped.
/// </summary>
public static class HuggingFaceLoader
{
    public const string ConfigFileName = "config.json";
    public const string GenerationConfigFileName = "generation_config.json";

    public static bool IsModelFolder(string path) => Directory.Exists(path) && File.Exists(Path.Combine(path, ConfigFileName));

    internal static Transformer Load(string folder, ComputePool pool, LoadOptions? options = null)
    {
        options ??= new LoadOptions();
        var config = HuggingFaceConfig.Read(Path.Combine(folder, ConfigFileName));
        var architecture = ArchitectureRegistry.Find(config);
        var transformerConfig = architecture.ReadConfig(config);
        transformerConfig.Validate(config.Path);
        var tensors = TensorSet.Open(folder);
        try
        {
            if (options.DType != WeightDType.Auto && config.Has("quantization_config"))
                throw new SlingException($"{folder}: the weights are quantized; dtype {options.DType.ToString().ToLowerInvariant()} applies to float checkpoints");
            if (options.DType != WeightDType.Auto)
                tensors = ConvertThroughCache(folder, tensors, WeightConversion.Target(options.DType), options);
            var weights = architecture.ReadWeights(transformerConfig, new CheckpointReader(tensors, config));
            // Errors name the weight files (one, or the shards) rather than the folder alone.
            weights.Validate(transformerConfig, $"{string.Join(", ", tensors.Files.Select(f => f.Path))} (shapes from {config.Path})");
            return new Transformer(transformerConfig, weights, pool, tensors);
        }
        catch
        {
            tensors.Dispose();
            throw;
        }
    }

    // Converted weights are derived data: built once, then memory-mapped from the cache.
    private static TensorSet ConvertThroughCache(string folder, TensorSet tensors, TensorDType target, LoadOptions options)
    {
        if (!WeightConversion.NeedsConversion(tensors, target)) return tensors;
        var cache = options.Cache ?? ModelCache.Default();
        var sources = tensors.Files.Select(f => f.Path).Append(Path.Combine(folder, ConfigFileName));
        string key = ModelCache.Key(folder, sources, $"dtype={target.Name()}");
        var (path, hit) = cache.GetOrCreate(key, dir => WeightConversion.Convert(folder, tensors, target, dir));
        options.Log?.Invoke(hit
            ? $"weights as {target.Name()} from the cache: {path}"
            : $"converted weights to {target.Name()} and cached them: {path}");
        tensors.Dispose();
        return TensorSet.Open(path);
    }

    /// <summary>End-of-sequence ids from config.json and the folder's (already read) generation config.</summary>
    public static IReadOnlyCollection<int> EndOfSequenceIds(string folder, GenerationConfig generation)
    {
        var ids = new HashSet<int>(HuggingFaceConfig.Read(Path.Combine(folder, ConfigFileName)).Ints("eos_token_id"));
        ids.UnionWith(generation.EosTokenIds);
        return ids;
    }
}
