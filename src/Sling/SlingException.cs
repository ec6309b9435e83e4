namespace Sling;

/// <summary>
/// An error caused by the user's input (a file, an option, a prompt), with a message meant to be shown
/// to the user as it is. Anything else escaping the library is a bug.
/// </summary>
public class SlingException : Exception
{
    public SlingException(string message) : base(message) { }
    public SlingException(string message, Exception inner) : base(message, inner) { }
}
