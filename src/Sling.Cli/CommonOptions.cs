using System.CommandLine;
using Sling.Models;

namespace Sling.Cli;

/// <summary>The options several commands share, written once so their names, help and defaults agree.</summary>
internal static class CommonOptions
{
    public const string ModelHelp = "Model: a Hugging Face folder, a GGUF file, a llama2.c .bin checkpoint, or a Hub id org/name[:QUANT][@revision]";

    public static Option<string> Model(string description = ModelHelp) => new("--model", "-m") { Description = description, Required = true };

    /// <summary>A model that may be replaced by <see cref="Synthetic"/>.</summary>
    public static Option<string?> OptionalModel() => new("--model", "-m") { Description = ModelHelp + " (or use --synthetic)" };

    public static Option<string?> Synthetic() => new("--synthetic") { Description = $"A model shape built in memory with random weights: {string.Join(", ", SyntheticModels.ShapeNames)}" };

    public static Option<string?> Tokenizer() => new("--tokenizer") { Description = "Tokenizer file (default: the one beside the model)" };

    public static Option<int> Threads(params string[] aliases) => new("--threads", aliases) { Description = "Worker threads; 0 = all cores", DefaultValueFactory = _ => 0 };

    public static Option<string?> CacheDir() => new("--cache-dir")
    {
        Description = "Where converted weights and kernel layouts are kept (default: $SLING_CACHE_DIR or ~/.cache/sling)",
    };

    public static Option<bool> NoLayoutCache() => new("--no-layout-cache")
    {
        Description = "Repack the weights for the kernels at every load instead of keeping the repacked form in the model cache (GGUF files, quantized folders)",
    };

    /// <summary>Exactly one of a model path and a synthetic shape.</summary>
    public static (string? Path, string? Shape) ModelOrSynthetic(ParseResult parse, Option<string?> model, Option<string?> synthetic)
    {
        string? path = parse.GetValue(model), shape = parse.GetValue(synthetic);
        if ((path == null) == (shape == null)) throw new SlingException("give either --model PATH or --synthetic SHAPE");
        return (path, shape);
    }
}
