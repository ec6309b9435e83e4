using Sling.Tests.Support;
using static Sling.Tests.Cli.CliRunner;

namespace Sling.Tests.Cli;

/// <summary>What a new user hit on a fresh clone: each case failed before its fix.</summary>
public class NewUserTests
{
    private const string Model = SharedData.Stories260K;

    [SharedFact(Model)]
    public void APromptStartingWithAtIsTextNotAResponseFile()
    {
        var r = Run("run", "-m", SharedData.PathOf(Model), "-p", "@Lily said hi", "-n", "3", "-t", "0");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.StartsWith("@Lily said hi", r.Stdout);
    }

    [SharedFact(Model)]
    public void AStrideLongerThanTheWindowIsRejected()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("t.txt"), "Once upon a time there was a little girl named Lily.");
        var line = AssertCleanFailure(Run("perplexity", "-m", SharedData.PathOf(Model), "--text", dir.File("t.txt"), "--window", "8", "--stride", "20"));
        Assert.Contains("--stride 20", line);
    }

    [SharedFact(Model)]
    public void TextThatIsNotUtf8IsAnErrorNamingTheOffset()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("t.txt"), [.. "Once upon a time"u8, 0xFF, 0xFE, .. " there"u8]);
        foreach (var command in new[] { new[] { "perplexity", "-m", SharedData.PathOf(Model) }, ["compare", "-m", SharedData.PathOf(Model), "-r", SharedData.PathOf(Model)] })
        {
            var line = AssertCleanFailure(Run([.. command, "--text", dir.File("t.txt")]));
            Assert.Contains("offset 16", line);
        }
    }

    [SharedFact(Model)]
    public void CompareTakesTokenizerAndThreads()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("t.txt"), "Once upon a time there was a little girl named Lily. She liked to play.");
        var r = Run("compare", "-m", SharedData.PathOf(Model), "-r", SharedData.PathOf(Model), "--text", dir.File("t.txt"),
            "--tokenizer", SharedData.PathOf(SharedData.Stories260KTokenizer), "--threads", "1");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("100.00 %", r.Stdout); // a model agrees with itself
    }
}
