namespace Sling.Chat;

/// <summary>One turn of a conversation: <c>system</c>, <c>user</c> or <c>assistant</c> (or any role
/// the model's template knows) and its text.</summary>
public sealed record ChatMessage(string Role, string Content)
{
    public static ChatMessage System(string content) => new("system", content);
    public static ChatMessage User(string content) => new("user", content);
    public static ChatMessage Assistant(string content) => new("assistant", content);
}
