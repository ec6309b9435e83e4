namespace Sling.Models;

/// <summary>How to open a model.</summary>
public sealed record LoadOptions
{
    /// <summary>Tokenizer file; null = the one beside the model.</summary>
    public string? TokenizerPath { get; init; }
    /// <summary>Worker threads; 0 = all cores.</summary>
    public int Threads { get; init; }
    /// <summary>
    /// Weight dtype to compute with: "auto" uses the file's dtype in place; "f32", "f16" or "bf16"
    /// converts Hugging Face weights once and keeps the result in <see cref="Cache"/>.
    /// </summary>
    public string DType { get; init; } = "auto";
    /// <summary>Where derived weights are kept; null = <see cref="ModelCache.Default"/>.</summary>
    public ModelCache? Cache { get; init; }
    /// <summary>Receives one line per notable step (conversion, cache hits).</summary>
    public Action<string>? Log { get; init; }
}
