using System.Diagnostics;
using System.Text;
using Sling.Models;
using Sling.Tokenization;

namespace Sling.Generation;

/// <summary>
/// The generation loop: encodes the prompt, feeds it through the model, then samples one token at a
/// time, streaming the text as soon as whole characters are known, until EOS, a stop string, the
/// token limit or the end of the context.
/// </summary>
public sealed class TextGenerator(Transformer model, ITokenizer tokenizer)
{
    /// <summary>Tokens that end generation besides the tokenizer's EOS (e.g. a chat turn's end).</summary>
    public ISet<int> StopTokens { get; } = new HashSet<int>();

    /// <summary>
    /// Generates a continuation of <paramref name="prompt"/>, passing text to <paramref name="onText"/> as
    /// it is known. Cancelling <paramref name="cancellationToken"/> stops before the next token
    /// (<see cref="StopReason.Cancelled"/>); the text so far is returned.
    /// </summary>
    public GenerationResult Generate(string prompt, GenerationOptions options, Action<string>? onText = null, CancellationToken cancellationToken = default)
    {
        options.Validate();
        var promptIds = tokenizer.Encode(prompt, options.AddBos);
        if (promptIds.Count == 0)
            throw new SlingException("the prompt is empty and the tokenizer has no beginning-of-sequence token to start from");
        // Batch buffers as large as the prompt needs (up to the default): memory stays near weights + cache.
        var sequence = new CachedSequence(model.CreateState(options.ContextLength, Math.Clamp(promptIds.Count, 1, InferenceState.DefaultBatchCapacity)));
        return Continue(sequence, promptIds, options, onText, cancellationToken);
    }

    /// <summary>
    /// Generates after <paramref name="promptIds"/> in a sequence that may already hold some of them:
    /// only the tokens after the longest common prefix with what the cache holds go through the model
    /// (a chat's earlier turns are not processed again). The sequence then holds the prompt and the answer.
    /// </summary>
    internal GenerationResult Continue(CachedSequence sequence, IReadOnlyList<int> promptIds, GenerationOptions options,
        Action<string>? onText, CancellationToken cancellationToken)
    {
        options.Validate();
        var state = sequence.State;
        int context = state.ContextLength;
        if (promptIds.Count == 0) throw new SlingException("the prompt has no tokens");
        if (promptIds.Count > context)
            throw new SlingException($"the prompt is {promptIds.Count} tokens long but the context holds only {context}");
        // At least the last prompt token is run again: its logits choose the first answer token.
        int reused = Math.Min(sequence.CommonPrefix(promptIds), promptIds.Count - 1);
        sequence.Truncate(reused);

        var history = new List<int>(promptIds);
        var sampler = new Sampler(options);
        var decoder = new TokenStreamDecoder();
        var stops = new StopStringFilter(options.StopStrings);
        var text = new StringBuilder();
        var generated = new List<int>();
        void Emit(string piece)
        {
            if (piece.Length == 0) return;
            text.Append(piece);
            onText?.Invoke(piece);
        }

        var clock = Stopwatch.StartNew();
        var fresh = promptIds.Skip(reused).ToArray();
        var logits = model.Prefill(state, fresh, reused);
        sequence.Fed.AddRange(fresh);
        var promptTime = clock.Elapsed;
        clock.Restart();

        var reason = StopReason.MaxTokens;
        int previous = promptIds[^1];
        for (int pos = promptIds.Count; generated.Count < options.MaxTokens; pos++)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                reason = StopReason.Cancelled;
                break;
            }
            // Models often pad the embedding past the tokenizer (Phi-2, Qwen2.5): ids the tokenizer
            // cannot decode are never candidates.
            int next = sampler.Sample(logits.AsSpan(0, Math.Min(logits.Length, tokenizer.VocabSize)), history);
            if (next == tokenizer.EosId || StopTokens.Contains(next))
            {
                reason = StopReason.EndOfSequence;
                break;
            }
            generated.Add(next);
            history.Add(next);
            Emit(stops.Push(decoder.Append(tokenizer.DecodeToken(previous, next))));
            previous = next;
            if (stops.Stopped)
            {
                reason = StopReason.StopString;
                break;
            }
            if (generated.Count == options.MaxTokens) break;
            if (pos >= context)
            {
                reason = StopReason.ContextFull;
                break;
            }
            logits = model.Forward(state, next, pos);
            sequence.Fed.Add(next);
        }
        if (!stops.Stopped)
        {
            Emit(stops.Push(decoder.Flush()));
            if (stops.Stopped) reason = StopReason.StopString; // the last character completed a stop string
        }
        Emit(stops.Flush());
        var generationTime = clock.Elapsed;
        return new GenerationResult(text.ToString(), generated, reason, promptIds.Count, promptTime, generated.Count, generationTime)
        {
            ReusedPromptTokens = reused,
        };
    }
}
