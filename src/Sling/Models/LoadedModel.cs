using Sling.Tokenization;

namespace Sling.Models;

/// <summary>A model ready to run, with the tokenizer that belongs to it and the ids that end a sequence.</summary>
public sealed class LoadedModel(Transformer transformer, ITokenizer tokenizer, string source, IReadOnlyCollection<int> stopTokens,
    Formats.GenerationConfig? generationDefaults = null) : IDisposable
{
    public Transformer Transformer { get; } = transformer;
    public ITokenizer Tokenizer { get; } = tokenizer;
    public string Source { get; } = source;
    public TransformerConfig Config => Transformer.Config;
    /// <summary>Token ids that end generation (EOS and any others the model declares).</summary>
    public IReadOnlyCollection<int> StopTokens { get; } = stopTokens;

    /// <summary>The sampling defaults the model folder suggests (generation_config.json).</summary>
    public Formats.GenerationConfig GenerationDefaults { get; } = generationDefaults ?? Formats.GenerationConfig.Empty;

    public Generation.TextGenerator CreateGenerator()
    {
        var generator = new Generation.TextGenerator(Transformer, Tokenizer);
        generator.StopTokens.UnionWith(StopTokens);
        return generator;
    }

    public void Dispose() => Transformer.Dispose();
}
