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
        if (options.Quantization is { } quantization)
            return Load(QuantizeThroughCache(folder, quantization, options), pool, options with { Quantization = null });
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
            ITensorSource source = new CheckpointSource(new CheckpointReader(tensors, config), architecture.Names);
            var layout = KernelLayoutCache.Open(folder, tensors.Files.Select(f => f.Path).Append(config.Path), options);
            var weights = WeightsBuilder.Build(transformerConfig, layout?.Wrap(source) ?? source);
            // Errors name the weight files (one, or the shards) rather than the folder alone.
            weights.Validate(transformerConfig, $"{string.Join(", ", tensors.Files.Select(f => f.Path))} (shapes from {config.Path})");
            var transformer = new Transformer(transformerConfig, weights, pool, tensors);
            foreach (var file in tensors.Files) file.ReleaseAll();
            layout?.Keep();
            return transformer;
        }
        catch
        {
            tensors.Dispose();
            throw;
        }
    }

    // Compressed weights are derived data too: quantized once (as `sling quantize` would), then mapped from the cache.
    private static string QuantizeThroughCache(string folder, Quantization.WeightQuantizationConfig quantization, LoadOptions options)
    {
        quantization.Validate();
        if (HuggingFaceConfig.Read(Path.Combine(folder, ConfigFileName)).Has("quantization_config"))
            throw new SlingException($"{folder}: the weights are already quantized; compression at load applies to float checkpoints");
        if (options.DType != WeightDType.Auto)
            throw new SlingException($"{folder}: give either a dtype or a compression, not both");
        var cache = options.Cache ?? ModelCache.Default();
        var sources = Directory.GetFiles(folder).Where(f => f.EndsWith(".safetensors", StringComparison.Ordinal) || f.EndsWith(".json", StringComparison.Ordinal));
        string settings = quantization.ToJson().ToJsonString();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (path, hit) = cache.GetOrCreate(ModelCache.Source.Of(folder, sources, "quantize=" + settings), dir => Sling.Quantization.ModelQuantizer.Quantize(folder, dir, quantization));
        options.Log?.Invoke(hit
            ? $"compressed weights ({Describe(quantization)}) from the cache: {path}"
            : $"compressed the weights ({Describe(quantization)}) in {clock.Elapsed.TotalSeconds:F1} s and cached them: {path}");
        return path;
    }

    private static string Describe(Quantization.WeightQuantizationConfig q) =>
        $"int{q.Bits} {(q.Symmetric ? "sym" : "asym")}, group {(q.GroupSize == -1 ? "per channel" : q.GroupSize.ToString(System.Globalization.CultureInfo.InvariantCulture))}, ratio {q.Ratio.ToString(System.Globalization.CultureInfo.InvariantCulture)}";

    // Converted weights are derived data: built once, then memory-mapped from the cache.
    private static TensorSet ConvertThroughCache(string folder, TensorSet tensors, TensorDType target, LoadOptions options)
    {
        if (!WeightConversion.NeedsConversion(tensors, target)) return tensors;
        var cache = options.Cache ?? ModelCache.Default();
        var sources = tensors.Files.Select(f => f.Path).Append(Path.Combine(folder, ConfigFileName));
        var (path, hit) = cache.GetOrCreate(ModelCache.Source.Of(folder, sources, $"dtype={target.Name()}"), dir => WeightConversion.Convert(folder, tensors, target, dir));
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
