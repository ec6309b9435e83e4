using Microsoft.Extensions.AI;
using Sling.Generation;
using Sling.Tests.Support;
using AIChatMessage = Microsoft.Extensions.AI.ChatMessage;

namespace Sling.Tests.Chat;

public class ChatClientTests
{
    static readonly ChatOptions Greedy = new() { Temperature = 0, MaxOutputTokens = 40 };

    static SlingModel Stories() => SlingModel.Load(SharedData.PathOf(SharedData.Stories260K));

    static GenerationResult Reference(SlingModel model, string question, int maxTokens = 40) =>
        model.Chat([Sling.Chat.ChatMessage.User(question)], model.DefaultOptions with { Temperature = 0, MaxTokens = maxTokens });

    [SharedFact(SharedData.Stories260K, SharedData.Stories260KTokenizer)]
    public async Task AResponseIsTheGreedyAnswerWithUsage()
    {
        using var model = Stories();
        IChatClient client = model.AsChatClient();
        var response = await client.GetResponseAsync([new AIChatMessage(ChatRole.User, "Once upon a time")], Greedy);
        var reference = Reference(model, "Once upon a time");
        Assert.Equal(reference.Text, response.Text);
        Assert.Equal(ChatRole.Assistant, response.Messages.Single().Role);
        Assert.Equal(model.Format.Encode([Sling.Chat.ChatMessage.User("Once upon a time")]).Count, response.Usage!.InputTokenCount);
        Assert.Equal(40, response.Usage.OutputTokenCount);
        Assert.Equal(response.Usage.InputTokenCount + 40, response.Usage.TotalTokenCount);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal("sling", client.GetService<ChatClientMetadata>()!.ProviderName);
        Assert.Same(model, client.GetService<SlingModel>());
    }

    [SharedFact(SharedData.Stories260K, SharedData.Stories260KTokenizer)]
    public async Task AStreamSpellsTheSameAnswerAndEndsWithUsage()
    {
        using var model = Stories();
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in model.AsChatClient().GetStreamingResponseAsync([new AIChatMessage(ChatRole.User, "Once upon a time")], Greedy))
            updates.Add(update);
        Assert.True(updates.Count > 10);
        Assert.Equal(Reference(model, "Once upon a time").Text, string.Concat(updates.Select(u => u.Text)));
        var last = updates[^1];
        Assert.Equal(ChatFinishReason.Length, last.FinishReason);
        Assert.Equal(40, last.Contents.OfType<UsageContent>().Single().Details.OutputTokenCount);
        Assert.Single(updates.Select(u => u.ResponseId).Distinct());
    }

    [SharedFact(SharedData.Stories260K, SharedData.Stories260KTokenizer)]
    public async Task OptionsMapToSampling()
    {
        using var model = Stories();
        var client = model.AsChatClient();
        var messages = new[] { new AIChatMessage(ChatRole.User, "Once upon a time") };
        var full = Reference(model, "Once upon a time");
        // A stop sequence ends the answer before it; the finish reason says stop.
        string stop = full.Text.Substring(20, 6);
        var stopped = await client.GetResponseAsync(messages, new ChatOptions { Temperature = 0, MaxOutputTokens = 40, StopSequences = [stop] });
        Assert.Equal(full.Text[..full.Text.IndexOf(stop, StringComparison.Ordinal)], stopped.Text);
        Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);
        // The same seed gives the same sampled text; top-k 1 is greedy whatever the temperature.
        var sampled = new ChatOptions { Temperature = 1, TopP = 1, TopK = 0, Seed = 7, MaxOutputTokens = 30 };
        Assert.Equal((await client.GetResponseAsync(messages, sampled)).Text, (await client.GetResponseAsync(messages, sampled)).Text);
        var topOne = await client.GetResponseAsync(messages, new ChatOptions { Temperature = 1, TopK = 1, Seed = 3, MaxOutputTokens = 40 });
        Assert.Equal(full.Text, topOne.Text);
    }

    [SharedFact(SharedData.Stories260K, SharedData.Stories260KTokenizer)]
    public async Task CancellingAStreamStopsItAtOnce()
    {
        using var model = Stories();
        using var cancel = new CancellationTokenSource();
        int seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in model.AsChatClient().GetStreamingResponseAsync([new AIChatMessage(ChatRole.User, "Once upon a time")],
                               new ChatOptions { Temperature = 0, MaxOutputTokens = 200 }, cancel.Token))
            {
                if (++seen == 3) cancel.Cancel();
            }
        });
        Assert.Equal(3, seen);
    }

    [SharedFact(SharedData.Stories260K, SharedData.Stories260KTokenizer)]
    public void CancellationStopsGenerationWithinOneToken()
    {
        using var model = Stories();
        using var cancel = new CancellationTokenSource();
        int pieces = 0;
        var result = model.Chat([Sling.Chat.ChatMessage.User("Once upon a time")], model.DefaultOptions with { Temperature = 0, MaxTokens = 200 },
            _ => { if (++pieces == 5) cancel.Cancel(); }, cancel.Token);
        Assert.Equal(StopReason.Cancelled, result.StopReason);
        Assert.InRange(result.GeneratedTokens, 5, 6);
    }

    [SharedFact(SharedData.Stories260K, SharedData.Stories260KTokenizer)]
    public async Task ConcurrentCallsGiveTheSequentialAnswers()
    {
        using var model = Stories();
        var client = model.AsChatClient();
        string[] questions = ["Once upon a time", "The dog", "Lily went to the park", "A little bird"];
        var sequential = questions.Select(q => Reference(model, q).Text).ToArray();
        var concurrent = await Task.WhenAll(questions.Select(q => Task.Run(() => client.GetResponseAsync([new AIChatMessage(ChatRole.User, q)], Greedy))));
        Assert.Equal(sequential, concurrent.Select(r => r.Text).ToArray());
        Assert.Equal(4, sequential.Distinct().Count());
    }
}
