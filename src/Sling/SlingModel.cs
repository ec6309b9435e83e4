using Sling.Chat;
using Sling.Generation;
using Sling.Models;
using Sling.Tokenization;

namespace Sling;

/// <summary>
/// A language model loaded for use: the library's entry point. Opens a Hugging Face folder, a GGUF
/// file or a llama2.c checkpoint; generates text from a prompt or answers a conversation with the
/// model's own chat template, synchronously with a callback or as an async stream. Safe to use from
/// several threads at once (each call has its own sequence; the cores are shared).
/// </summary>
/// <example>
/// <code>
/// using var model = SlingModel.Load("models/Qwen2.5-0.5B-Instruct");
/// await foreach (var text in model.ChatAsync([ChatMessage.User("Why is the sky blue?")]))
///     Console.Write(text);
/// </code>
/// </example>
public sealed class SlingModel : IDisposable
{
    SlingModel(LoadedModel loaded)
    {
        Loaded = loaded;
        Format = ChatFormat.For(loaded);
        DefaultOptions = DefaultsFrom(loaded.GenerationDefaults);
    }

    internal LoadedModel Loaded { get; }
    internal ChatFormat Format { get; }

    /// <summary>Opens a model folder, GGUF file or llama2.c checkpoint (its tokenizer is found beside it
    /// unless <see cref="LoadOptions.TokenizerPath"/> names one).</summary>
    public static SlingModel Load(string path, LoadOptions? options = null) =>
        new(ModelLoader.Load(path, options ?? new LoadOptions()));

    /// <summary>Wraps a model already loaded with <see cref="ModelLoader"/>; disposing the result disposes it.</summary>
    public static SlingModel From(LoadedModel loaded) => new(loaded);

    /// <summary>Where the model was loaded from.</summary>
    public string Source => Loaded.Source;

    public TransformerConfig Config => Loaded.Config;

    public ITokenizer Tokenizer => Loaded.Tokenizer;

    /// <summary>Threads the model computes with.</summary>
    public int Threads => Loaded.Transformer.Pool.Threads;

    /// <summary>The model's chat template, or <see cref="ChatTemplate.Fallback"/> when it has none.</summary>
    public ChatTemplate ChatTemplate => Format.Template;

    /// <summary>False when the model brought no chat template and the plain fallback is used.</summary>
    public bool HasChatTemplate => !Format.IsFallback;

    /// <summary>Sling's defaults with the model's <c>generation_config.json</c> applied (e.g. greedy when it
    /// says <c>do_sample: false</c>); change what you need with <c>with { ... }</c>.</summary>
    public GenerationOptions DefaultOptions { get; }

    internal static GenerationOptions DefaultsFrom(Formats.GenerationConfig config)
    {
        var o = new GenerationOptions();
        return o with
        {
            Temperature = config.DoSample == false ? 0f : config.Temperature ?? o.Temperature,
            TopK = config.TopK ?? o.TopK,
            TopP = config.TopP ?? o.TopP,
            RepetitionPenalty = config.RepetitionPenalty ?? o.RepetitionPenalty,
        };
    }

    internal TextGenerator CreateGenerator(IEnumerable<int>? moreStopTokens = null)
    {
        var generator = Loaded.CreateGenerator();
        if (moreStopTokens is not null) generator.StopTokens.UnionWith(moreStopTokens);
        return generator;
    }

    /// <summary>Continues <paramref name="prompt"/>; text goes to <paramref name="onText"/> as it is known.</summary>
    public GenerationResult Generate(string prompt, GenerationOptions? options = null, Action<string>? onText = null, CancellationToken cancellationToken = default) =>
        CreateGenerator().Generate(prompt, options ?? DefaultOptions, onText, cancellationToken);

    /// <summary>Continues <paramref name="prompt"/>, streaming the text.</summary>
    public IAsyncEnumerable<string> GenerateAsync(string prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default) =>
        GenerationStream.Text((onText, token) => Generate(prompt, options, onText, token), cancellationToken);

    /// <summary>The prompt text the model's template makes of a conversation (transformers' <c>apply_chat_template(tokenize=False)</c>).</summary>
    public string FormatChat(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true) =>
        Format.Render(messages, addGenerationPrompt);

    /// <summary>Answers the last message of a conversation.</summary>
    public GenerationResult Chat(IReadOnlyList<ChatMessage> messages, GenerationOptions? options = null, Action<string>? onText = null, CancellationToken cancellationToken = default)
    {
        var o = options ?? DefaultOptions;
        var prompt = Format.Encode(messages);
        var state = Loaded.Transformer.CreateState(o.ContextLength, Math.Clamp(prompt.Count, 1, InferenceState.DefaultBatchCapacity));
        var chatOptions = o with { AddBos = false, StopStrings = [.. o.StopStrings, .. Format.StopStrings] };
        return CreateGenerator(Format.EndOfTurnTokens).Continue(new CachedSequence(state), prompt, chatOptions, onText, cancellationToken);
    }

    /// <summary>Answers the last message of a conversation, streaming the text.</summary>
    public IAsyncEnumerable<string> ChatAsync(IReadOnlyList<ChatMessage> messages, GenerationOptions? options = null, CancellationToken cancellationToken = default) =>
        GenerationStream.Text((onText, token) => Chat(messages, options, onText, token), cancellationToken);

    internal IAsyncEnumerable<GenerationStream.Piece> ChatStream(IReadOnlyList<ChatMessage> messages, GenerationOptions options, CancellationToken cancellationToken) =>
        GenerationStream.Run((onText, token) => Chat(messages, options, onText, token), cancellationToken);

    /// <summary>A conversation that keeps its turns in the cache, so each turn processes only its new tokens.</summary>
    public ChatSession StartChat(GenerationOptions? options = null, string? systemPrompt = null)
    {
        var session = new ChatSession(this, options ?? DefaultOptions);
        session.SetSystem(systemPrompt);
        return session;
    }

    /// <summary>This model as a <see cref="Microsoft.Extensions.AI.IChatClient"/>: swap a cloud model for a local one.</summary>
    public Microsoft.Extensions.AI.IChatClient AsChatClient() => new SlingChatClient(this);

    public void Dispose() => Loaded.Dispose();
}
