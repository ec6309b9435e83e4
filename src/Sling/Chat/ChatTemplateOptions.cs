namespace Sling.Chat;

/// <summary>The variables transformers' <c>apply_chat_template</c> passes beside the messages.</summary>
public sealed class ChatTemplateOptions
{
    /// <summary>End the prompt with the header of an assistant turn, so the model answers.</summary>
    public bool AddGenerationPrompt { get; init; } = true;

    /// <summary>Text of the beginning-of-sequence token (<c>bos_token</c>), usually the tokenizer's.</summary>
    public string? BosToken { get; init; }

    /// <summary>Text of the end-of-sequence token (<c>eos_token</c>).</summary>
    public string? EosToken { get; init; }

    /// <summary>The clock behind <c>strftime_now</c> (Llama 3.x puts today's date in the system turn).</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>More variables (<c>tools</c>, <c>documents</c>, ...): JSON elements, dictionaries, lists, strings, numbers.</summary>
    public IReadOnlyDictionary<string, object?>? Variables { get; init; }
}
