using System.Text;
using Sling.Tokenization;

namespace Sling.Generation;

/// <summary>
/// One answer being generated, a token at a time: samples from the logits it is given, streams the
/// text as whole characters become known, and decides when to stop (end of sequence or of a turn, a
/// stop string, the token limit, the end of the context). The caller runs the model: a single
/// sequence (<see cref="TextGenerator"/>) or many in one batch (the server's scheduler).
/// </summary>
internal sealed class GeneratingSequence
{
    readonly ITokenizer _tokenizer;
    readonly ISet<int> _stopTokens;
    readonly GenerationOptions _options;
    readonly Sampler _sampler;
    readonly List<int> _history;
    readonly List<int> _generated = [];
    readonly TokenStreamDecoder _decoder = new();
    readonly StopStringFilter _stops;
    readonly StringBuilder _text = new();
    readonly Action<string>? _onText;
    readonly int _promptLength, _context;
    int _previous;
    bool _completed;

    public GeneratingSequence(ITokenizer tokenizer, ISet<int> stopTokens, GenerationOptions options, IReadOnlyList<int> prompt, int context, Action<string>? onText)
    {
        options.Validate();
        _tokenizer = tokenizer;
        _stopTokens = stopTokens;
        _options = options;
        _sampler = new Sampler(options);
        _history = new List<int>(prompt);
        _stops = new StopStringFilter(options.StopStrings);
        _onText = onText;
        _promptLength = prompt.Count;
        _context = context;
        _previous = prompt.Count > 0 ? prompt[^1] : -1;
    }

    /// <summary>Why generation ended; null while it goes on.</summary>
    public StopReason? Reason { get; private set; }

    public IReadOnlyList<int> Generated => _generated;

    public string Text => _text.ToString();

    /// <summary>
    /// Takes the logits after the last token and picks the next one. Returns the token to run through
    /// the model (at position prompt + generated − 1), or null when the answer is finished.
    /// </summary>
    public int? Accept(Span<float> logits)
    {
        if (Reason is not null) return null;
        if (_generated.Count >= _options.MaxTokens) return Finish(StopReason.MaxTokens);
        // Models often pad the embedding past the tokenizer (Phi-2, Qwen2.5): ids the tokenizer
        // cannot decode are never candidates.
        int next = _sampler.Sample(logits[..Math.Min(logits.Length, _tokenizer.VocabSize)], _history, _generated);
        if (next == _tokenizer.EosId || _stopTokens.Contains(next)) return Finish(StopReason.EndOfSequence);
        _generated.Add(next);
        _history.Add(next);
        Emit(_stops.Push(_decoder.Append(_tokenizer.DecodeToken(_previous, next))));
        _previous = next;
        if (_stops.Stopped) return Finish(StopReason.StopString);
        if (_generated.Count == _options.MaxTokens) return Finish(StopReason.MaxTokens);
        if (_promptLength + _generated.Count - 1 >= _context) return Finish(StopReason.ContextFull);
        return next;
    }

    /// <summary>Ends the answer early (the caller was cancelled).</summary>
    public void Cancel() => Reason ??= StopReason.Cancelled;

    /// <summary>Flushes text held back (a partial character, a possible stop string's start); call once at the end.</summary>
    public void Complete()
    {
        if (_completed) return;
        _completed = true;
        Reason ??= StopReason.MaxTokens;
        if (!_stops.Stopped)
        {
            Emit(_stops.Push(_decoder.Flush()));
            if (_stops.Stopped) Reason = StopReason.StopString; // the last character completed a stop string
        }
        Emit(_stops.Flush());
    }

    int? Finish(StopReason reason)
    {
        Reason = reason;
        return null;
    }

    void Emit(string piece)
    {
        if (piece.Length == 0) return;
        _text.Append(piece);
        _onText?.Invoke(piece);
    }
}
