namespace Sling.Chat.Jinja;

/// <summary>A template that cannot be parsed or rendered; the message is what Jinja would say.</summary>
internal sealed class TemplateException(string message, int line = 0) : Exception(message)
{
    public int Line { get; } = line;

    /// <summary>True when the template itself called <c>raise_exception</c>.</summary>
    public bool Raised { get; init; }
}
