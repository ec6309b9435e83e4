namespace Sling.Models;

/// <summary>How to open a model.</summary>
public sealed record LoadOptions
{
    /// <summary>Tokenizer file; null = the one beside the model.</summary>
    public string? TokenizerPath { get; init; }
    /// <summary>Worker threads; 0 = all cores.</summary>
    public int Threads { get; init; }
    /// <summary>
    /// Weight dtype to compute with: <see cref="WeightDType.Auto"/> uses the file's dtype in place;
    /// F32, F16 or BF16 converts Hugging Face weights once and keeps the result in <see cref="Cache"/>.
    /// </summary>
    public WeightDType DType { get; init; } = WeightDType.Auto;
    /// <summary>
    /// Compress a Hugging Face folder's float weights at load (NNCF's data-free int4/int8, e.g.
    /// <see cref="Quantization.WeightQuantizationConfig.Int4Default"/>); done once, the result is kept
    /// in <see cref="Cache"/> keyed by the source files and these settings. Null = as stored.
    /// </summary>
    public Quantization.WeightQuantizationConfig? Quantization { get; init; }
    /// <summary>How sequences store keys and values: F32 (exact, the default) or F16 (half the memory).</summary>
    public KvCachePrecision KvCache { get; init; } = KvCachePrecision.F32;
    /// <summary>Where derived weights are kept; null = <see cref="ModelCache.Default"/>.</summary>
    public ModelCache? Cache { get; init; }
    /// <summary>
    /// Keep weights repacked for this CPU's kernels (GGUF blocks, quantized folders) in <see cref="Cache"/>,
    /// so the next load reads them instead of repacking; an entry takes the repacked weights' size on
    /// disk. Models under 64 MiB of repacked weights are not kept. Default: on.
    /// </summary>
    public bool KeepKernelLayout { get; init; } = true;
    /// <summary>The smallest repacked weights worth an entry (tests lower it).</summary>
    internal long KernelLayoutMinimumBytes { get; init; } = KernelLayoutCache.DefaultMinimumBytes;
    /// <summary>How a model id such as <c>org/name</c> is fetched from the Hugging Face Hub; null = from the environment (HF_ENDPOINT, HF_TOKEN, HF_HOME, HF_HUB_OFFLINE).</summary>
    public Hub.HubOptions? Hub { get; init; }
    /// <summary>Receives one line per notable step (conversion, cache hits).</summary>
    public Action<string>? Log { get; init; }
}

/// <summary>The float format weights are computed in.</summary>
public enum WeightDType
{
    /// <summary>As stored in the file, used in place (memory-mapped).</summary>
    Auto,
    F32,
    F16,
    BF16,
}
