using Sling.Formats;
using Sling.Generation;
using Sling.Kernels;
using Sling.Models;
using Sling.Tests.Support;

namespace Sling.Tests.Models;

/// <summary>The real trained stories260K model against the reference C implementation's output.</summary>
public class Stories260KTests
{
    private static readonly GenerationOptions Greedy200 = new() { Temperature = 0, MaxTokens = 200 };

    private static string Expected => File.ReadAllText(SharedData.PathOf(SharedData.Stories260KExpected));

    [SharedFact(SharedData.Stories260K, SharedData.Stories260KTokenizer, SharedData.Stories260KExpected)]
    public void GreedyTwoHundredTokensMatchTheReferenceImplementationExactly()
    {
        using var model = ModelLoader.Load(SharedData.PathOf(SharedData.Stories260K));
        var result = new TextGenerator(model.Transformer, model.Tokenizer).Generate("", Greedy200);
        Assert.Equal(Expected, result.Text);
        Assert.Equal(200, result.GeneratedTokens);
    }

    [SharedFact(SharedData.Stories260K, SharedData.Stories260KTokenizer, SharedData.Stories260KExpected)]
    public void TheSameWeightsInTheVersion1LayoutGiveTheSameText()
    {
        var weights = Llama2cReader.ReadLegacy(SharedData.PathOf(SharedData.Stories260K));
        using var dir = new TempDirectory();
        string path = dir.File("stories260K-v1.bin");
        Llama2cWriter.WriteVersion1(path, weights);
        using var model = ModelLoader.Load(path, SharedData.PathOf(SharedData.Stories260KTokenizer));
        Assert.Equal(Expected, new TextGenerator(model.Transformer, model.Tokenizer).Generate("", Greedy200).Text);
    }

    [SharedFact(SharedData.Stories260K)]
    public void LogitsMatchTheFloat64ReferenceOnRealWeights()
    {
        var weights = Llama2cReader.ReadLegacy(SharedData.PathOf(SharedData.Stories260K));
        using var model = Llama2cCheckpoint.Load(SharedData.PathOf(SharedData.Stories260K), ComputePool.Get(0));
        var tokens = new[] { 1 }.Concat(Engine.RandomTokens(11, 31, weights.Vocab)).ToArray();
        double error = ReferenceLlama.RelativeL2(ReferenceLlama.Logits(weights, tokens), Engine.Logits(model, tokens));
        Assert.True(error < 1e-5, $"relative L2 error {error}");
    }

    [SharedFact(SharedData.Stories260K, SharedData.Stories260KTokenizer)]
    public void SeededSamplingIsReproducibleAndSeedDependent()
    {
        using var model = ModelLoader.Load(SharedData.PathOf(SharedData.Stories260K));
        var generator = new TextGenerator(model.Transformer, model.Tokenizer);
        var options = new GenerationOptions { Temperature = 1.0f, TopK = 0, TopP = 0.9f, MaxTokens = 60, Seed = 1234 };
        string a = generator.Generate("Once upon a time", options).Text;
        string b = generator.Generate("Once upon a time", options).Text;
        string c = generator.Generate("Once upon a time", options with { Seed = 99 }).Text;
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }
}
