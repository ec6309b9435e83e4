using Sling.Generation;
using Sling.Models;

namespace Sling.Chat;

/// <summary>
/// A conversation kept in the model's key/value cache. Each turn renders the whole conversation with
/// the model's template; when the rendering extends the previous turn's text, only the new text is
/// tokenized and appended to the tokens already there (the answer's tokens stay exactly as they were
/// generated, as llama.cpp's chat does), so only the new turn goes through the model. Otherwise the
/// whole prompt is tokenized again and the cache is reused up to the first different token.
/// When the context fills, the oldest turns (after the system message) are dropped.
/// Not thread-safe: one turn at a time.
/// </summary>
public sealed class ChatSession
{
    readonly SlingModel _model;
    readonly List<ChatMessage> _messages = [];
    readonly CachedSequence _sequence;
    // The conversation as text and tokens up to the end of the last answer (empty when unknown).
    string _historyText = "";
    List<int> _historyTokens = [];

    internal ChatSession(SlingModel model, GenerationOptions options)
    {
        _model = model;
        Options = options;
        _sequence = new CachedSequence(model.Loaded.Transformer.CreateState(options.ContextLength));
    }

    /// <summary>Sampling and length settings for each answer.</summary>
    public GenerationOptions Options { get; set; }

    /// <summary>The conversation so far (system message first when there is one).</summary>
    public IReadOnlyList<ChatMessage> Messages => _messages;

    /// <summary>The last answer's counts and timings (prompt tokens reused from the cache included).</summary>
    public GenerationResult? LastResult { get; private set; }

    /// <summary>The tokens of the last turn's prompt (for checking the cache against a fresh sequence).</summary>
    internal IReadOnlyList<int> LastPrompt { get; private set; } = [];

    /// <summary>Receives a one-line note when older turns are dropped to fit the context.</summary>
    public Action<string>? Notice { get; set; }

    /// <summary>Sets (or with null removes) the system message; the next turn sees it.</summary>
    public void SetSystem(string? text)
    {
        if (_messages.Count > 0 && _messages[0].Role == "system") _messages.RemoveAt(0);
        if (text is not null) _messages.Insert(0, ChatMessage.System(text));
    }

    /// <summary>Forgets the conversation (the system message stays).</summary>
    public void Reset()
    {
        _messages.RemoveAll(m => m.Role != "system");
        _sequence.Truncate(0);
        ForgetHistory();
    }

    /// <summary>Sends a user message and generates the answer, passing text to <paramref name="onText"/>
    /// as it comes. Cancelling stops the answer; what was written so far stays in the conversation.</summary>
    public GenerationResult Send(string userText, Action<string>? onText = null, CancellationToken cancellationToken = default)
    {
        _messages.Add(ChatMessage.User(userText));
        IReadOnlyList<int> prompt;
        try
        {
            prompt = FitToContext();
        }
        catch
        {
            _messages.RemoveAt(_messages.Count - 1);
            throw;
        }
        LastPrompt = prompt;
        var format = _model.Format;
        int room = _sequence.State.ContextLength - prompt.Count;
        var options = Options with
        {
            AddBos = false,
            MaxTokens = Math.Min(Options.MaxTokens, room),
            StopStrings = [.. Options.StopStrings, .. format.StopStrings],
        };
        var result = _model.CreateGenerator(format.EndOfTurnTokens).Continue(_sequence, prompt, options, onText, cancellationToken);
        _messages.Add(ChatMessage.Assistant(result.Text));
        // A stop string's tokens were generated but its text is not in the answer: then the tokens no
        // longer spell the text, and the next turn tokenizes the whole conversation again.
        if (result.StopReason == StopReason.StopString) ForgetHistory();
        else
        {
            _historyText = _lastRendered + result.Text;
            _historyTokens = [.. prompt, .. result.Tokens];
        }
        LastResult = result;
        return result;
    }

    /// <summary>Sends a user message and streams the answer.</summary>
    public IAsyncEnumerable<string> SendAsync(string userText, CancellationToken cancellationToken = default) =>
        GenerationStream.Text((onText, token) => Send(userText, onText, token), cancellationToken);

    string _lastRendered = "";

    void ForgetHistory()
    {
        _historyText = "";
        _historyTokens = [];
    }

    IReadOnlyList<int> Encode()
    {
        var format = _model.Format;
        _lastRendered = format.Render(_messages);
        if (_historyTokens.Count > 0 && _lastRendered.StartsWith(_historyText, StringComparison.Ordinal))
            return [.. _historyTokens, .. format.EncodeContinuation(_lastRendered[_historyText.Length..])];
        return format.Encode(_lastRendered);
    }

    IReadOnlyList<int> FitToContext()
    {
        int context = _sequence.State.ContextLength;
        // Leave room for an answer: the requested length, at most half the context.
        int reserve = Math.Min(Math.Max(Options.MaxTokens, 1), context / 2);
        var prompt = Encode();
        while (prompt.Count + reserve > context)
        {
            int first = _messages[0].Role == "system" ? 1 : 0;
            // Keep the newest user message; drop the oldest turn before it (user + its answer).
            int dropEnd = _messages.FindIndex(first + 1, m => m.Role == "user");
            if (dropEnd < 0) break;
            int dropped = dropEnd - first;
            _messages.RemoveRange(first, dropped);
            Notice?.Invoke($"context full: dropped the oldest turn ({dropped} message{(dropped == 1 ? "" : "s")})");
            ForgetHistory();
            prompt = Encode();
        }
        if (prompt.Count >= context)
            throw new SlingException($"the conversation needs {prompt.Count} tokens but the context holds {context}; write a shorter message or use a longer context");
        return prompt;
    }
}
