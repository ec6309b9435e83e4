namespace Sling.Formats;

/// <summary>A model, tokenizer or weights file that cannot be read as what it claims to be.</summary>
public sealed class ModelFormatException : SlingException
{
    public string FilePath { get; }

    public ModelFormatException(string filePath, string problem)
        : base($"{filePath}: {problem}")
    {
        FilePath = filePath;
    }
}
