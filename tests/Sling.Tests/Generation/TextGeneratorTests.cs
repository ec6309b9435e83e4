using Sling.Generation;
using Sling.Models;
using Sling.Tests.Support;

namespace Sling.Tests.Generation;

public class TextGeneratorTests
{
    private static readonly string[] Required = [SharedData.Stories260K, SharedData.Stories260KTokenizer, SharedData.Stories260KExpected];
    private static string Expected => File.ReadAllText(SharedData.PathOf(SharedData.Stories260KExpected));

    private static LoadedModel Stories() => ModelLoader.Load(SharedData.PathOf(SharedData.Stories260K));

    [SharedFact(SharedData.Stories260K, SharedData.Stories260KTokenizer, SharedData.Stories260KExpected)]
    public void StreamsTheSameTextItReturns()
    {
        using var m = Stories();
        var pieces = new List<string>();
        var result = new TextGenerator(m.Transformer, m.Tokenizer).Generate("", new GenerationOptions { Temperature = 0, MaxTokens = 50 }, pieces.Add);
        Assert.Equal(result.Text, string.Concat(pieces));
        Assert.True(pieces.Count > 10);
        Assert.StartsWith(result.Text, Expected);
        Assert.Equal(StopReason.MaxTokens, result.StopReason);
        Assert.Equal(50, result.Tokens.Count);
    }

    [SharedFact(SharedData.Stories260K, SharedData.Stories260KTokenizer, SharedData.Stories260KExpected)]
    public void StopsBeforeTheFirstStopString()
    {
        using var m = Stories();
        var result = new TextGenerator(m.Transformer, m.Tokenizer).Generate("",
            new GenerationOptions { Temperature = 0, MaxTokens = 200, StopStrings = ["red ball"] });
        Assert.Equal(Expected[..Expected.IndexOf("red ball", StringComparison.Ordinal)], result.Text);
        Assert.Equal(StopReason.StopString, result.StopReason);
    }

    [SharedFact(SharedData.Stories260K, SharedData.Stories260KTokenizer)]
    public void APromptLongerThanTheContextIsRejected()
    {
        using var m = Stories();
        string prompt = string.Join(" ", Enumerable.Repeat("Lily played with the big red ball.", 100));
        var e = Assert.Throws<SlingException>(() => new TextGenerator(m.Transformer, m.Tokenizer).Generate(prompt, new GenerationOptions()));
        Assert.Contains("context", e.Message);
    }

    [SharedFact(SharedData.Stories260K, SharedData.Stories260KTokenizer)]
    public void GenerationEndsCleanlyWhenTheContextIsFull()
    {
        using var m = Stories();
        string prompt = string.Join(" ", Enumerable.Repeat("Lily played.", 120));
        int promptTokens = m.Tokenizer.Encode(prompt, true).Count;
        Assert.InRange(promptTokens, 400, 500);
        var result = new TextGenerator(m.Transformer, m.Tokenizer).Generate(prompt,
            new GenerationOptions { Temperature = 0, RepetitionPenalty = 1.3f, MaxTokens = 1000 });
        if (result.StopReason == StopReason.ContextFull)
            Assert.Equal(m.Config.MaxSeqLen - promptTokens + 1, result.GeneratedTokens);
        else
            Assert.Equal(StopReason.EndOfSequence, result.StopReason);
        Assert.True(promptTokens + result.GeneratedTokens <= m.Config.MaxSeqLen + 1);
    }
}
