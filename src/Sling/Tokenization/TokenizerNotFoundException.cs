namespace Sling.Tokenization;

/// <summary>No tokenizer (or more than one) beside a model: the caller has to name the tokenizer file.</summary>
public sealed class TokenizerNotFoundException(string message) : SlingException(message);
