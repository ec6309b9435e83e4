using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Sling.Generation;
using AIChatMessage = Microsoft.Extensions.AI.ChatMessage;

namespace Sling.Chat;

/// <summary>
/// A Sling model behind <see cref="IChatClient"/>: <see cref="ChatOptions"/> maps to the sampling
/// settings (temperature, top-p, top-k, max output tokens, stop sequences, seed), over the model's
/// defaults; usage counts come back with the response. Concurrent calls share the model safely.
/// </summary>
internal sealed class SlingChatClient(SlingModel model) : IChatClient
{
    readonly ChatClientMetadata _metadata = new("sling", null, Path.GetFileName(model.Source.TrimEnd('/', '\\')));

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<AIChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var conversation = Convert(messages);
        var settings = Settings(options);
        var result = await Task.Run(() => model.Chat(conversation, settings, null, cancellationToken), cancellationToken).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        return new ChatResponse(new AIChatMessage(ChatRole.Assistant, result.Text))
        {
            ModelId = _metadata.DefaultModelId,
            FinishReason = Finish(result.StopReason),
            Usage = Usage(result),
            CreatedAt = DateTimeOffset.UtcNow,
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<AIChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var conversation = Convert(messages);
        var settings = Settings(options);
        string id = Guid.NewGuid().ToString("N");
        await foreach (var piece in model.ChatStream(conversation, settings, cancellationToken).ConfigureAwait(false))
        {
            if (piece.Text is { } text)
                yield return new ChatResponseUpdate(ChatRole.Assistant, text) { ResponseId = id, ModelId = _metadata.DefaultModelId };
            else if (piece.Result is { } result)
                yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(Usage(result))])
                {
                    ResponseId = id, ModelId = _metadata.DefaultModelId, FinishReason = Finish(result.StopReason),
                };
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(ChatClientMetadata) ? _metadata
        : serviceType.IsInstanceOfType(this) ? this
        : serviceType == typeof(SlingModel) ? model
        : null;

    public void Dispose()
    {
        // The model belongs to whoever loaded it.
    }

    static List<ChatMessage> Convert(IEnumerable<AIChatMessage> messages) =>
        messages.Select(m => new ChatMessage(m.Role.Value, m.Text)).ToList();

    GenerationOptions Settings(ChatOptions? options)
    {
        var o = model.DefaultOptions;
        if (options is null) return o;
        return o with
        {
            Temperature = options.Temperature ?? o.Temperature,
            TopP = options.TopP ?? o.TopP,
            TopK = options.TopK ?? o.TopK,
            MaxTokens = options.MaxOutputTokens ?? o.MaxTokens,
            StopStrings = options.StopSequences is { } stops ? [.. o.StopStrings, .. stops] : o.StopStrings,
            Seed = options.Seed is long seed ? unchecked((ulong)seed) : o.Seed,
        };
    }

    static ChatFinishReason Finish(StopReason reason) => reason switch
    {
        StopReason.MaxTokens or StopReason.ContextFull => ChatFinishReason.Length,
        _ => ChatFinishReason.Stop,
    };

    static UsageDetails Usage(GenerationResult result) => new()
    {
        InputTokenCount = result.PromptTokens,
        OutputTokenCount = result.GeneratedTokens,
        TotalTokenCount = result.PromptTokens + result.GeneratedTokens,
    };
}
