using Sling.Tests.Support;
using static Sling.Tests.Cli.CliRunner;

namespace Sling.Tests.Cli;

public class RunCommandTests
{
    private static string Model => SharedData.PathOf(SharedData.Stories260K);
    private static string Tokenizer => SharedData.PathOf(SharedData.Stories260KTokenizer);

    [SharedFact(SharedData.Stories260K, SharedData.Stories260KTokenizer, SharedData.Stories260KExpected)]
    public void GreedyRunPrintsExactlyTheReferenceTextOnStdoutAndSpeedOnStderr()
    {
        var r = Run("run", "--model", Model, "--temperature", "0", "--max-tokens", "200", "--threads", "2");
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(File.ReadAllText(SharedData.PathOf(SharedData.Stories260KExpected)) + Environment.NewLine, r.Stdout);
        Assert.Matches(@"prompt: 1 tokens, first token after \d+ ms \| generated: 200 tokens, [\d.]+ tok/s", r.Stderr);
    }

    [SharedFact(SharedData.Stories260K, SharedData.Stories260KTokenizer)]
    public void SeedMakesSampledRunsReproducible()
    {
        string[] args = ["run", "-m", Model, "--tokenizer", Tokenizer, "-p", "Once upon a time", "-t", "1", "--top-p", "0.9", "-n", "40", "--seed", "5"];
        var a = Run(args);
        var b = Run(args);
        Assert.Equal(0, a.ExitCode);
        Assert.Equal(a.Stdout, b.Stdout);
        Assert.StartsWith("Once upon a time", a.Stdout);
        Assert.Contains("seed 5", a.Stderr);
        var quiet = Run([.. args, "--no-echo"]);
        Assert.Equal(a.Stdout["Once upon a time".Length..], quiet.Stdout);
    }

    // Each cache precision runs from the command line; an unknown one is one line naming the choices.
    [SharedFact(SharedData.Stories260K, SharedData.Stories260KTokenizer)]
    public void KvCachePrecisionsRunAndAnUnknownOneIsNamed()
    {
        foreach (var precision in new[] { "f32", "f16", "int8" })
        {
            var r = Run("run", "-m", Model, "--tokenizer", Tokenizer, "-p", "Once upon a time", "-n", "20", "--temperature", "0", "--kv-cache", precision);
            Assert.Equal(0, r.ExitCode);
            Assert.StartsWith("Once upon a time", r.Stdout);
        }
        var line = AssertCleanFailure(Run("run", "-m", Model, "--tokenizer", Tokenizer, "--kv-cache", "q4"));
        Assert.Contains("expected f32, f16 or int8", line);
    }

    [Fact]
    public void HelpListsTheOptions()
    {
        var r = Run("run", "--help");
        Assert.Equal(0, r.ExitCode);
        foreach (var option in new[] { "--model", "--tokenizer", "--prompt", "--temperature", "--top-k", "--top-p", "--seed", "--max-tokens", "--threads", "--stop" })
            Assert.Contains(option, r.Stdout);
    }

    [Fact]
    public void MissingModelFileIsOneClearLine()
    {
        var line = AssertCleanFailure(Run("run", "--model", "/nonexistent/model.bin"));
        Assert.Contains("/nonexistent/model.bin", line);
    }

    [SharedFact(SharedData.Stories260K, SharedData.Stories260KTokenizer)]
    public void TruncatedCheckpointIsOneClearLine()
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.bin");
        var bytes = File.ReadAllBytes(Model);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        Assert.Contains("truncated", AssertCleanFailure(Run("run", "-m", path, "--tokenizer", Tokenizer)));
    }

    [SharedFact(SharedData.Stories260K, SharedData.Stories260KTokenizer)]
    public void HeaderThatDoesNotMatchTheFileLengthIsOneClearLine()
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.bin");
        var bytes = File.ReadAllBytes(Model);
        BitConverter.GetBytes(6).CopyTo(bytes, 8); // n_layers 5 → 6
        File.WriteAllBytes(path, bytes);
        Assert.Contains("header describes", AssertCleanFailure(Run("run", "-m", path, "--tokenizer", Tokenizer)));
    }

    [SharedFact(SharedData.Stories260K)]
    public void TokenizerWithADifferentVocabularySizeIsOneClearLine()
    {
        using var dir = new TempDirectory();
        string tok = dir.File("tokenizer.bin");
        Llama2cTokenizerWriter.Write(tok, Llama2cTokenizerWriter.StandardVocabulary(("a", 0), ("b", 0)));
        var line = AssertCleanFailure(Run("run", "-m", Model, "--tokenizer", tok));
        Assert.Contains("261 tokens", line);
        Assert.Contains("512", line);
    }

    [SharedFact(SharedData.Stories260K, SharedData.Stories260KTokenizer)]
    public void PromptLongerThanTheContextIsOneClearLine()
    {
        string prompt = string.Join(" ", Enumerable.Repeat("The little dog ran to the park with his friend.", 80));
        Assert.Contains("context", AssertCleanFailure(Run("run", "-m", Model, "-p", prompt)));
    }

    [SharedFact(SharedData.Stories260K, SharedData.Stories260KTokenizer)]
    public void InvalidSamplingOptionsAreOneClearLine()
    {
        Assert.Contains("temperature", AssertCleanFailure(Run("run", "-m", Model, "-t", "-1")));
        Assert.Contains("top-p", AssertCleanFailure(Run("run", "-m", Model, "--top-p", "2")));
    }

    [Fact]
    public void MissingTokenizerBesideTheModelIsOneClearLine()
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.bin");
        Llama2cWriter.WriteLegacy(path, TinyLlama.Random(1));
        Assert.Contains("--tokenizer", AssertCleanFailure(Run("run", "-m", path)));
    }

    [Fact]
    public void DirectoryAsTokenizerIsOneClearLine()
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.bin");
        Llama2cWriter.WriteLegacy(path, TinyLlama.Random(1));
        Assert.Contains("directory", AssertCleanFailure(Run("run", "-m", path, "--tokenizer", dir.Path)));
    }
}
