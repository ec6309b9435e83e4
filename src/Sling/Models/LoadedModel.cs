using Sling.Tokenization;

namespace Sling.Models;

/// <summary>A model ready to run, with the tokenizer that belongs to it.</summary>
public sealed class LoadedModel(Transformer transformer, ITokenizer tokenizer, string source) : IDisposable
{
    public Transformer Transformer { get; } = transformer;
    public ITokenizer Tokenizer { get; } = tokenizer;
    public string Source { get; } = source;
    public TransformerConfig Config => Transformer.Config;

    public void Dispose() => Transformer.Dispose();
}
