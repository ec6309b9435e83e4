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

    /// <summary>A writer whose reader goes away after a few writes, as `| head` does.</summary>
    private sealed class ClosingWriter(int writesBeforeClosing) : StringWriter
    {
        public int Writes { get; private set; }

        public override void Write(string? value)
        {
            if (++Writes > writesBeforeClosing) throw new IOException("Broken pipe", 32);
            base.Write(value);
        }
    }

    [SharedFact(Model)]
    public void AClosedStdoutEndsTheRunQuietly()
    {
        var stdout = new ClosingWriter(3);
        var stderr = new StringWriter();
        int code = Sling.Cli.SlingCommandLine.Run(["run", "-m", SharedData.PathOf(Model), "-n", "400", "-t", "0"], stdout, stderr);
        Assert.Equal(0, code);
        Assert.Equal("", stderr.ToString());
        Assert.Equal(4, stdout.Writes); // the failed write stops generation: nothing more is tried
    }

    [SharedFact("models/stories260K-hf/model.safetensors")]
    public void FileSystemRefusalsAreUserErrors()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("a-file"), "");
        // A cache folder under a file, a quantization output that is an existing file.
        AssertCleanFailure(Run("run", "-m", SharedData.PathOf("models/stories260K-hf"), "--dtype", "bf16", "--cache-dir", dir.File("a-file/cache"), "-n", "1"));
        AssertCleanFailure(Run("quantize", "-m", SharedData.PathOf("models/stories260K-hf"), "-o", dir.File("a-file"), "--group-size", "32"));
        AssertCleanFailure(Run("export-gguf", "-m", SharedData.PathOf("models/stories260K-hf"), "-o", dir.File("a-file/x.gguf"), "--type", "f32"));
    }

    [Fact]
    public void OptionErrorsAreOneLineInWordsWithAHint()
    {
        var line = AssertCleanFailure(Run("run", "-m", "x", "--seed", "abc"));
        Assert.Contains("--seed", line);
        Assert.Contains("whole number", line);
        Assert.Contains("see 'sling run --help'", line);
        Assert.DoesNotContain("System.", line);
        Assert.Contains("see 'sling run --help'", AssertCleanFailure(Run("run", "--bogus")));
    }

    [Fact]
    public void HelpNamesTheProgramSling()
    {
        var r = Run("--help");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("sling [command] [options]", r.Stdout);
        Assert.DoesNotContain("Sling.Cli", r.Stdout);
    }

    [SharedFact(Model, SharedData.Stories260KExpected)]
    public void PromptsComeFromAFileOrStdinAndJsonCarriesTheResult()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("prompt.txt"), "Once upon a time");
        var fromFile = Run("run", "-m", SharedData.PathOf(Model), "--prompt-file", dir.File("prompt.txt"), "-n", "10", "-t", "0");
        Assert.True(fromFile.ExitCode == 0, fromFile.Stderr);
        Assert.StartsWith("Once upon a time", fromFile.Stdout);

        var stdout = new StringWriter();
        int code = Sling.Cli.SlingCommandLine.Run(["run", "-m", SharedData.PathOf(Model), "-p", "-", "-n", "10", "-t", "0"], stdout, new StringWriter(), new StringReader("Once upon a time"));
        Assert.Equal(0, code);
        Assert.Equal(fromFile.Stdout, stdout.ToString());

        var json = Run("run", "-m", SharedData.PathOf(Model), "-n", "200", "-t", "0", "--json");
        Assert.True(json.ExitCode == 0, json.Stderr);
        using var doc = System.Text.Json.JsonDocument.Parse(json.Stdout);
        Assert.Equal(File.ReadAllText(SharedData.PathOf(SharedData.Stories260KExpected)), doc.RootElement.GetProperty("text").GetString());
        Assert.Equal(200, doc.RootElement.GetProperty("generated_tokens").GetInt32());
        Assert.Equal("max tokens", doc.RootElement.GetProperty("stop_reason").GetString());
        Assert.True(doc.RootElement.GetProperty("generation_tokens_per_second").GetDouble() > 0);
    }

    [SharedFact(Model)]
    public void UsingAModelAfterDisposeIsAnObjectDisposedException()
    {
        var model = Sling.Models.ModelLoader.LoadTransformer(SharedData.PathOf(Model));
        var state = model.CreateState();
        model.Dispose();
        Assert.Throws<ObjectDisposedException>(() => model.Forward(state, 1, 0));
        Assert.Throws<ObjectDisposedException>(() => model.CreateState());
    }
}
