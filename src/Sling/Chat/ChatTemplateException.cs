namespace Sling.Chat;

/// <summary>A chat template that cannot be parsed, or that refused the conversation
/// (<c>raise_exception</c>, e.g. "System role not supported").</summary>
public sealed class ChatTemplateException : SlingException
{
    /// <summary>The template's line (1-based) where the error happened, 0 when unknown.</summary>
    public int Line { get; }

    /// <summary>True when the template itself raised the error (the conversation is not allowed).</summary>
    public bool RaisedByTemplate { get; }

    internal ChatTemplateException(string message, int line, bool raised) : base(message)
    {
        Line = line;
        RaisedByTemplate = raised;
    }
}
