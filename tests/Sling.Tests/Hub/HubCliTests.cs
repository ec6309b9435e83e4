using Sling.Tests.Support;
using static Sling.Tests.Cli.CliRunner;

namespace Sling.Tests.Hub;

/// <summary>These tests set HF_* environment variables, so they run alone, not beside other tests.</summary>
[CollectionDefinition(nameof(EnvironmentCollection), DisableParallelization = true)]
public sealed class EnvironmentCollection;

[Collection(nameof(EnvironmentCollection))]
public class HubCliTests
{
    sealed class Environment : IDisposable
    {
        readonly Dictionary<string, string?> _saved = new();

        public Environment(params (string Name, string? Value)[] variables)
        {
            foreach (var (name, value) in variables)
            {
                _saved[name] = System.Environment.GetEnvironmentVariable(name);
                System.Environment.SetEnvironmentVariable(name, value);
            }
        }

        public void Dispose()
        {
            foreach (var (name, value) in _saved) System.Environment.SetEnvironmentVariable(name, value);
        }
    }

    [SharedFact(HubTests.StoriesHf, SharedData.Stories260KExpected)]
    public async Task RunAModelIdThenRunItAgainOffline()
    {
        string expected = File.ReadAllText(SharedData.PathOf(SharedData.Stories260KExpected)) + System.Environment.NewLine;
        using var home = new TempDirectory();
        await using (var hub = await FakeHub.StartAsync())
        {
            hub.AddRepository("test-org/stories260K", SharedData.PathOf(HubTests.StoriesHf));
            hub.CutOnce.Add("model.safetensors");
            using var env = new Environment(("HF_ENDPOINT", hub.Endpoint.ToString()), ("HF_HOME", home.Path), ("HF_HUB_CACHE", null), ("HF_HUB_OFFLINE", null), ("HF_TOKEN", null));
            var r = Run("run", "--model", "test-org/stories260K", "-t", "0", "-n", "200");
            Assert.True(r.ExitCode == 0, r.Stderr);
            Assert.Equal(expected, r.Stdout);
            Assert.Contains("resuming model.safetensors", r.Stderr);
            Assert.True(File.Exists(Path.Combine(home.Path, "hub", "models--test-org--stories260K", "snapshots", FakeHub.Commit, "config.json")));

            var missing = Run("run", "--model", "test-org/nothing", "-n", "1");
            Assert.Contains("test-org/nothing: not found on", AssertCleanFailure(missing));

            // `sling quantize` takes an id too (from_pretrained + save_pretrained).
            var quantize = Run("quantize", "-m", "test-org/stories260K", "-o", Path.Combine(home.Path, "int8"), "--bits", "8");
            Assert.True(quantize.ExitCode == 0, quantize.Stderr);
            Assert.True(File.Exists(Path.Combine(home.Path, "int8", "model.safetensors")));

            var download = Run("download", "test-org/stories260K", "--include", "*.json");
            Assert.Equal(0, download.ExitCode);
            Assert.Equal(Path.Combine(home.Path, "hub", "models--test-org--stories260K", "snapshots", FakeHub.Commit), download.Stdout.Trim());
        }
        // The Hub is gone: offline mode runs from the cache.
        using (new Environment(("HF_ENDPOINT", "http://127.0.0.1:9"), ("HF_HOME", home.Path), ("HF_HUB_OFFLINE", "1")))
        {
            var r = Run("run", "--model", "test-org/stories260K", "-t", "0", "-n", "200");
            Assert.True(r.ExitCode == 0, r.Stderr);
            Assert.Equal(expected, r.Stdout);
        }
    }
}
