namespace Sling.Generation;

public enum StopReason { EndOfSequence, StopString, MaxTokens, ContextFull, Cancelled }

/// <summary>What a generation produced and how fast.</summary>
public sealed record GenerationResult(
    string Text,
    IReadOnlyList<int> Tokens,
    StopReason StopReason,
    int PromptTokens,
    TimeSpan PromptTime,
    int GeneratedTokens,
    TimeSpan GenerationTime)
{
    /// <summary>Prompt tokens whose keys and values were already cached (a chat's earlier turns): not run again.</summary>
    public int ReusedPromptTokens { get; init; }

    /// <summary>Prompt tokens that went through the model in this call.</summary>
    public int ProcessedPromptTokens => PromptTokens - ReusedPromptTokens;

    public double PromptTokensPerSecond => PromptTime.TotalSeconds > 0 ? ProcessedPromptTokens / PromptTime.TotalSeconds : 0;
    public double GenerationTokensPerSecond => GenerationTime.TotalSeconds > 0 ? GeneratedTokens / GenerationTime.TotalSeconds : 0;
}
