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
    public double PromptTokensPerSecond => PromptTime.TotalSeconds > 0 ? PromptTokens / PromptTime.TotalSeconds : 0;
    public double GenerationTokensPerSecond => GenerationTime.TotalSeconds > 0 ? GeneratedTokens / GenerationTime.TotalSeconds : 0;
}
