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

        var answer = new GeneratingSequence(tokenizer, StopTokens, options, promptIds, context, onText);
        var clock = Stopwatch.StartNew();
        var fresh = promptIds.Skip(reused).ToArray();
        var logits = model.Prefill(state, fresh, reused);
        sequence.Fed.AddRange(fresh);
        var promptTime = clock.Elapsed;
        clock.Restart();

        for (int pos = promptIds.Count; ; pos++)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                answer.Cancel();
                break;
            }
            if (answer.Accept(logits) is not int next) break;
            logits = model.Forward(state, next, pos);
            sequence.Fed.Add(next);
        }
        answer.Complete();
        var generationTime = clock.Elapsed;
        var generated = answer.Generated;
        return new GenerationResult(answer.Text, generated.ToArray(), answer.Reason!.Value, promptIds.Count, promptTime, generated.Count, generationTime)
        {
            ReusedPromptTokens = reused,
        };
    }
}
