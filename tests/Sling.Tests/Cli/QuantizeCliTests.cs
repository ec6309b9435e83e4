using Sling.Tests.Support;
using static Sling.Tests.Cli.CliRunner;

namespace Sling.Tests.Cli;

public class QuantizeCliTests
{
    private const string Folder = "models/stories260K-hf";

    [SharedFact(Folder + "/model.safetensors", SharedData.Stories260KExpected)]
    public void QuantizeSummarizesAndTheFolderRunsAndCompares()
    {
        using var dir = new TempDirectory();
        string output = dir.File("q");
        var q = Run("quantize", "--model", SharedData.PathOf(Folder), "--output", output, "--bits", "4", "--group-size", "32", "--ratio", "0.8");
        Assert.Equal(0, q.ExitCode);
        Assert.Contains("int4_asym g32", q.Stdout);
        Assert.Contains("int8_asym", q.Stdout);
        var bits = System.Text.RegularExpressions.Regex.Match(q.Stdout, @"size 1,040,128 -> [\d,]+ bytes \(([\d.]+) bits per weight");
        Assert.True(bits.Success, q.Stdout);
        // One definition of bits per weight: sling info on the result says the same number.
        Assert.Contains($"{bits.Groups[1].Value} bits per weight", Run("info", "-m", output).Stdout);
        Assert.Contains("note: model.layers.0.mlp.down_proj.weight: 172 inputs are not divisible into groups of 32", q.Stderr);
        Assert.True(File.Exists(Path.Combine(output, "tok512.bin")), "tokenizer files are copied");
        Assert.Contains("\"quantization_config\"", File.ReadAllText(Path.Combine(output, "config.json")));

        var run = Run("run", "-m", output, "-t", "0", "-n", "20");
        Assert.Equal(0, run.ExitCode);
        Assert.StartsWith("Once upon a time", run.Stdout);

        string text = dir.File("text.txt");
        File.WriteAllText(text, File.ReadAllText(SharedData.PathOf(SharedData.Stories260KExpected)));
        var compare = Run("compare", "--model", output, "--reference", SharedData.PathOf(Folder), "--text", text);
        Assert.Equal(0, compare.ExitCode);
        Assert.Matches(@"mean KL divergence\s*│\s*0\.\d+", compare.Stdout);
        Assert.Contains("top-1 agreement", compare.Stdout);
        var ppl = Run("perplexity", "--model", SharedData.PathOf(Folder), "--text", text, "--window", "64");
        Assert.Equal(0, ppl.ExitCode);
        Assert.Matches(@"perplexity \d+\.\d+ \(\d+ tokens scored, window 64, stride 32\)", ppl.Stdout);
    }

    [Theory]
    [InlineData("--bits", "3", "bits must be 4 or 8")]
    [InlineData("--ratio", "1.5", "ratio must be in [0, 1]")]
    [InlineData("--group-size", "40", "multiple of 32")]
    [InlineData("--backup", "int2", "backup mode 'int2'")]
    public void InvalidSettingsAreOneClearLine(string option, string value, string expected)
    {
        using var dir = new TempDirectory();
        HuggingFaceWriter.WriteLlama(dir.File("m"), TinyLlama.Random(3, dim: 64, hidden: 128));
        Assert.Contains(expected, AssertCleanFailure(Run("quantize", "-m", dir.File("m"), "-o", dir.File("q"), option, value)));
    }

    [Fact]
    public void QuantizingALlama2cFileIsOneClearLine()
    {
        using var dir = new TempDirectory();
        Llama2cWriter.WriteLegacy(dir.File("m.bin"), TinyLlama.Random(3));
        Assert.Contains("not a Hugging Face model folder", AssertCleanFailure(Run("quantize", "-m", dir.File("m.bin"), "-o", dir.File("q"))));
    }

    [SharedFact(SharedData.Stories260K, SharedData.Stories260KTokenizer)]
    public void MissingTextIsOneClearLine()
    {
        Assert.Contains("text file not found", AssertCleanFailure(Run("perplexity", "-m", SharedData.PathOf(SharedData.Stories260K), "--text", "/nonexistent/text.txt")));
    }
}
