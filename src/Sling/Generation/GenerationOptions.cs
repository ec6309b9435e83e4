namespace Sling.Generation;

public sealed record GenerationOptions
{
    /// <summary>0 = greedy (always the most likely token).</summary>
    public float Temperature { get; init; } = 0.8f;
    /// <summary>Keep only the K most likely tokens; 0 = no limit.</summary>
    public int TopK { get; init; } = 40;
    /// <summary>Keep the smallest set of tokens whose probabilities add up to P; 1 = no limit.</summary>
    public float TopP { get; init; } = 0.95f;
    /// <summary>Divides positive (multiplies negative) logits of recently seen tokens; 1 = off.</summary>
    public float RepetitionPenalty { get; init; } = 1.0f;
    /// <summary>Subtracted once from the logit of every token the answer already holds (OpenAI's presence_penalty).</summary>
    public float PresencePenalty { get; init; }
    /// <summary>Subtracted from a token's logit per time the answer already holds it (OpenAI's frequency_penalty).</summary>
    public float FrequencyPenalty { get; init; }
    /// <summary>How many recent tokens (prompt included) the repetition penalty looks at.</summary>
    public int RepetitionWindow { get; init; } = 64;
    public ulong Seed { get; init; } = 42;
    public int MaxTokens { get; init; } = 256;
    public IReadOnlyList<string> StopStrings { get; init; } = [];
    /// <summary>Positions to reserve for prompt and answer; null = the model's whole context.</summary>
    public int? ContextLength { get; init; }
    /// <summary>Prepend the model's beginning-of-sequence token to the prompt.</summary>
    public bool AddBos { get; init; } = true;

    public void Validate()
    {
        if (!(Temperature >= 0) || float.IsInfinity(Temperature)) throw new SlingException($"temperature must be 0 or more (got {Temperature})");
        if (TopK < 0) throw new SlingException($"top-k must be 0 or more (got {TopK})");
        if (!(TopP > 0 && TopP <= 1)) throw new SlingException($"top-p must be in (0, 1] (got {TopP})");
        if (!(RepetitionPenalty > 0)) throw new SlingException($"repetition penalty must be positive (got {RepetitionPenalty})");
        if (ContextLength is <= 0) throw new SlingException($"context length must be positive (got {ContextLength})");
        if (!float.IsFinite(PresencePenalty) || Math.Abs(PresencePenalty) > 2) throw new SlingException($"presence penalty must be in [-2, 2] (got {PresencePenalty})");
        if (!float.IsFinite(FrequencyPenalty) || Math.Abs(FrequencyPenalty) > 2) throw new SlingException($"frequency penalty must be in [-2, 2] (got {FrequencyPenalty})");
        if (MaxTokens < 0) throw new SlingException($"max tokens must be 0 or more (got {MaxTokens})");
    }
}
