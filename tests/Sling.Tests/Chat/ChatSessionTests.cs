using Sling.Chat;
using Sling.Generation;
using Sling.Tests.Support;

namespace Sling.Tests.Chat;

public class ChatSessionTests
{
    static readonly GenerationOptions Greedy = new() { Temperature = 0, MaxTokens = 24, ContextLength = 512 };

    [SharedFact(ChatModels.Phi3Vocab, ChatModels.Phi35Template)]
    public void AModelsOwnTemplateAndSpecialTokensAreUsed()
    {
        using var dir = new TempDirectory();
        using var model = SlingModel.Load(ChatModels.WritePhi3Shaped(dir.Path));
        Assert.True(model.HasChatTemplate);
        var messages = new[] { ChatMessage.System("Be brief."), ChatMessage.User("Hi") };
        var reference = ChatTemplate.Parse(File.ReadAllText(SharedData.PathOf(ChatModels.Phi35Template)))
            .Render(messages, new ChatTemplateOptions { BosToken = "<s>", EosToken = "<|endoftext|>" });
        Assert.Equal(reference, model.FormatChat(messages));
        Assert.Equal("<|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\n", reference);

        // Markers are single special tokens, not spelled out; <|end|> ends an answer.
        var ids = model.Format.Encode(messages);
        var vocabulary = ((Sling.Tokenization.VocabularyTokenizer)model.Tokenizer).Vocabulary;
        int end = Array.IndexOf(vocabulary.Tokens.ToArray(), "<|end|>");
        Assert.Equal(2, ids.Count(id => id == end));
        Assert.Contains(end, model.Format.EndOfTurnTokens);
        Assert.NotEqual(vocabulary.BosId, ids[0]); // the template writes no BOS, so none is added
    }

    [SharedFact(ChatModels.Phi3Vocab, ChatModels.Phi35Template)]
    public void LaterTurnsProcessOnlyTheirNewTokensAndAnswerAsAFreshSequenceWould()
    {
        using var dir = new TempDirectory();
        using var model = SlingModel.Load(ChatModels.WritePhi3Shaped(dir.Path));
        AssertTurnsReuseTheCache(model);
    }

    [SharedFact(SharedData.Stories260K, SharedData.Stories260KTokenizer)]
    public void TheFallbackTemplateAlsoReusesTheCache()
    {
        using var model = SlingModel.Load(SharedData.PathOf(SharedData.Stories260K));
        Assert.False(model.HasChatTemplate);
        AssertTurnsReuseTheCache(model);
    }

    static void AssertTurnsReuseTheCache(SlingModel model)
    {
        var session = model.StartChat(Greedy, "You tell stories.");
        var first = session.Send("Once upon a time");
        var second = session.Send("What happened next?");
        var third = session.Send("And then?");
        Assert.All(new[] { first, second, third }, r => Assert.True(r.GeneratedTokens > 1, $"answer of {r.GeneratedTokens} tokens"));
        foreach (var (previous, next) in new[] { (first, second), (second, third) })
        {
            // The cache holds the previous prompt and answer (all but the last answer token, never fed).
            int cached = previous.PromptTokens + previous.GeneratedTokens - 1;
            Assert.Equal(cached, next.ReusedPromptTokens);
            Assert.True(next.ProcessedPromptTokens < next.PromptTokens / 2, $"{next.ProcessedPromptTokens} of {next.PromptTokens} processed");
        }

        // The same prompt tokens in a fresh sequence give the same greedy answer: the reused cache is right.
        var prompt = session.LastPrompt;
        var fresh = model.CreateGenerator(model.Format.EndOfTurnTokens).Continue(
            new CachedSequence(model.Loaded.Transformer.CreateState(512)), prompt,
            Greedy with { AddBos = false, StopStrings = model.Format.StopStrings }, null, default);
        Assert.Equal(fresh.Tokens, third.Tokens);
        Assert.Equal(0, fresh.ReusedPromptTokens);
        Assert.Equal(7, session.Messages.Count);
    }

    [SharedFact(SharedData.Stories260K, SharedData.Stories260KTokenizer)]
    public void ResetForgetsTheConversationButKeepsTheSystemMessage()
    {
        using var model = SlingModel.Load(SharedData.PathOf(SharedData.Stories260K));
        var session = model.StartChat(Greedy, "You tell stories.");
        var first = session.Send("Once upon a time");
        session.Reset();
        Assert.Single(session.Messages);
        var again = session.Send("Once upon a time");
        Assert.Equal(first.Text, again.Text);
    }

    [SharedFact(SharedData.Stories260K, SharedData.Stories260KTokenizer)]
    public void AFullContextDropsTheOldestTurnsWithANote()
    {
        using var model = SlingModel.Load(SharedData.PathOf(SharedData.Stories260K));
        var notes = new List<string>();
        var session = model.StartChat(Greedy with { ContextLength = 96, MaxTokens = 20 }, "Stories.");
        session.Notice = notes.Add;
        for (int i = 0; i < 6; i++) session.Send($"Tell me about the cat number {i}.");
        Assert.NotEmpty(notes);
        Assert.StartsWith("context full: dropped the oldest turn", notes[0]);
        Assert.Equal("system", session.Messages[0].Role);
        Assert.Equal("Tell me about the cat number 5.", session.Messages[^2].Content);
        Assert.True(session.LastResult!.PromptTokens + session.LastResult.GeneratedTokens <= 96);
    }

    [SharedFact(SharedData.Stories260K, SharedData.Stories260KTokenizer)]
    public void AMessageLongerThanTheContextIsAClearErrorAndLeavesTheConversation()
    {
        using var model = SlingModel.Load(SharedData.PathOf(SharedData.Stories260K));
        var session = model.StartChat(Greedy with { ContextLength = 64 });
        var e = Assert.Throws<SlingException>(() => session.Send(string.Join(" ", Enumerable.Repeat("cat", 200))));
        Assert.Contains("context holds 64", e.Message);
        Assert.Empty(session.Messages);
    }
}
