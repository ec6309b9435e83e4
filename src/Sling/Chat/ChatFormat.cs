using Sling.Models;
using Sling.Tokenization;

namespace Sling.Chat;

/// <summary>
/// How a model turns a conversation into tokens: its own template (or the plain fallback), the
/// texts of its BOS/EOS tokens for the template, and the tokens that end an assistant turn.
/// </summary>
internal sealed class ChatFormat
{
    /// <summary>End-of-turn markers of the common chat formats (ChatML, Llama 3, Phi-3, Gemma, Command-R).</summary>
    static readonly string[] EndOfTurnMarkers =
        ["<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end|>", "<end_of_turn>", "<|END_OF_TURN_TOKEN|>", "<|endoftext|>", "<｜end▁of▁sentence｜>"];

    ChatFormat(ChatTemplate template, bool isFallback, string? bos, string? eos, IReadOnlyCollection<int> endOfTurn, ITokenizer tokenizer)
    {
        Template = template;
        IsFallback = isFallback;
        BosToken = bos;
        EosToken = eos;
        EndOfTurnTokens = endOfTurn;
        _tokenizer = tokenizer;
    }

    readonly ITokenizer _tokenizer;

    public ChatTemplate Template { get; }
    public bool IsFallback { get; }
    public string? BosToken { get; }
    public string? EosToken { get; }
    public IReadOnlyCollection<int> EndOfTurnTokens { get; }

    /// <summary>With the fallback template a model may go on to write the user's next turn: stop there.</summary>
    public IReadOnlyList<string> StopStrings => IsFallback ? ["\nuser:"] : [];

    public static ChatFormat For(LoadedModel model)
    {
        var tokenizer = model.Tokenizer;
        string? source = (tokenizer as VocabularyTokenizer)?.ChatTemplate;
        var template = source is null ? ChatTemplate.Fallback : ChatTemplate.Parse(source);
        string? bos = null, eos = null;
        var endOfTurn = new HashSet<int>();
        if (tokenizer is VocabularyTokenizer v)
        {
            if (v.BosId >= 0) bos = v.Vocabulary.Tokens[v.BosId];
            if (v.EosId >= 0) eos = v.Vocabulary.Tokens[v.EosId];
            for (int id = 0; id < v.VocabSize; id++)
                if (v.Vocabulary.Types[id] is TokenType.Control or TokenType.UserDefined && EndOfTurnMarkers.Contains(v.Vocabulary.Tokens[id]))
                    endOfTurn.Add(id);
        }
        return new ChatFormat(template, source is null, bos, eos, endOfTurn, tokenizer);
    }

    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true) =>
        Template.Render(messages, new ChatTemplateOptions { AddGenerationPrompt = addGenerationPrompt, BosToken = BosToken, EosToken = EosToken });

    /// <summary>The prompt's tokens. As transformers' apply_chat_template: a model's template writes
    /// BOS itself, so none is added; the fallback gets the tokenizer's usual BOS.</summary>
    public IReadOnlyList<int> Encode(IReadOnlyList<ChatMessage> messages) => Encode(Render(messages));

    public IReadOnlyList<int> Encode(string rendered) => _tokenizer.Encode(rendered, addBos: IsFallback);

    /// <summary>Tokens for text that follows tokens already in a sequence.</summary>
    public IReadOnlyList<int> EncodeContinuation(string text) => _tokenizer.EncodeContinuation(text);
}
