using System.Diagnostics;
using System.Threading.Channels;
using Sling.Generation;

namespace Sling.Server;

/// <summary>One request's prompt and settings, and the channel its answer streams through.</summary>
internal sealed class GenerationRequest(IReadOnlyList<int> prompt, GenerationOptions options, ISet<int> stopTokens, CancellationToken cancellation)
{
    public IReadOnlyList<int> Prompt { get; } = prompt;
    public GenerationOptions Options { get; } = options;
    public ISet<int> StopTokens { get; } = stopTokens;
    public CancellationToken Cancellation { get; } = cancellation;

    /// <summary>Text pieces as they are generated; completed when the answer ends.</summary>
    public Channel<string> Text { get; } = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    /// <summary>Completes with the whole answer's counts (or fails if the engine failed).</summary>
    public TaskCompletionSource<RequestOutcome> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Stopwatch Clock { get; } = Stopwatch.StartNew();

    /// <summary>From arrival to the first answer token.</summary>
    public TimeSpan? TimeToFirstToken { get; set; }
}

/// <summary>What a finished request produced.</summary>
internal sealed record RequestOutcome(string Text, int PromptTokens, int GeneratedTokens, StopReason Reason, TimeSpan? TimeToFirstToken);
