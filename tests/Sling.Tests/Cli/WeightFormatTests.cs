using Sling.Tests.Support;
using static Sling.Tests.Cli.CliRunner;

namespace Sling.Tests.Cli;

/// <summary>`--weight-format`: compression at load, once, then from the model cache.</summary>
public class WeightFormatTests
{
    const string StoriesHf = "models/stories260K-hf";

    [SharedTheory(StoriesHf)]
    [InlineData(new[] { "--weight-format", "int4", "--group-size", "32" }, new[] { "--bits", "4", "--group-size", "32" }, "int4 asym, group 32, ratio 1")]
    [InlineData(new[] { "--weight-format", "int4", "--group-size", "32", "--ratio", "0.8", "--sym" }, new[] { "--bits", "4", "--group-size", "32", "--ratio", "0.8", "--sym" }, "int4 sym, group 32, ratio 0.8")]
    [InlineData(new[] { "--weight-format", "int8" }, new[] { "--bits", "8", "--all-layers" }, "int8 asym, group per channel, ratio 1")]
    public void CompressesOnceThenLoadsFromTheCacheAsSlingQuantizeWould(string[] format, string[] quantizeArgs, string described)
    {
        using var dir = new TempDirectory();
        string model = SharedData.PathOf(StoriesHf), cache = dir.File("cache");
        string[] run = ["run", "-m", model, "-t", "0", "-n", "60", "-p", "Once upon a time", "--cache-dir", cache, .. format];
        var first = Run(run);
        Assert.True(first.ExitCode == 0, first.Stderr);
        Assert.Contains($"compressed the weights ({described}) in", first.Stderr);
        var second = Run(run);
        Assert.Equal(0, second.ExitCode);
        Assert.Contains($"compressed weights ({described}) from the cache", second.Stderr);
        Assert.Equal(first.Stdout, second.Stdout);

        // The same text as the folder `sling quantize` writes with the same settings.
        string quantized = dir.File("quantized");
        Assert.Equal(0, Run(["quantize", "-m", model, "-o", quantized, .. quantizeArgs]).ExitCode);
        var reference = Run("run", "-m", quantized, "-t", "0", "-n", "60", "-p", "Once upon a time");
        Assert.Equal(reference.Stdout, first.Stdout);
    }

    [SharedFact(StoriesHf, SharedData.Stories260K)]
    public void FloatFormatsConvertAndMistakesAreOneLine()
    {
        using var dir = new TempDirectory();
        string model = SharedData.PathOf(StoriesHf);
        var fp16 = Run("run", "-m", model, "-t", "0", "-n", "20", "--weight-format", "fp16", "--cache-dir", dir.File("c"));
        var dtype = Run("run", "-m", model, "-t", "0", "-n", "20", "--dtype", "f16", "--cache-dir", dir.File("c"));
        Assert.Equal(0, fp16.ExitCode);
        Assert.Equal(dtype.Stdout, fp16.Stdout);
        Assert.Contains("expected int4, int8", AssertCleanFailure(Run("run", "-m", model, "--weight-format", "int3")));
        Assert.Contains("go with --weight-format", AssertCleanFailure(Run("run", "-m", model, "--ratio", "0.8")));
        Assert.Contains("not both", AssertCleanFailure(Run("run", "-m", model, "--weight-format", "int4", "--dtype", "bf16")));
        Assert.Contains("applies to Hugging Face folders", AssertCleanFailure(Run("run", "-m", SharedData.PathOf(SharedData.Stories260K), "--weight-format", "int4")));
    }
}
