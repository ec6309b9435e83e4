using System.Security.Cryptography;
using Sling.Hub;
using Sling.Tests.Support;

namespace Sling.Tests.Hub;

/// <summary>Downloads from a local fake Hub into a temporary cache, through the library.</summary>
public class HubTests
{
    public const string StoriesHf = "models/stories260K-hf";

    static HubOptions Options(FakeHub hub, TempDirectory cache, IReadOnlyList<string>? include = null, string? token = null, bool offline = false) => new()
    {
        Endpoint = hub.Endpoint.ToString().TrimEnd('/'),
        CacheDirectory = cache.Path,
        Include = include ?? [],
        Token = token,
        Offline = offline,
    };

    [SharedFact(StoriesHf)]
    public async Task ASnapshotHasTheStandardLayoutAndTheFilesBytes()
    {
        await using var hub = await FakeHub.StartAsync();
        hub.AddRepository("test-org/stories260K", SharedData.PathOf(StoriesHf));
        using var cache = new TempDirectory();
        using var client = new HubClient(Options(hub, cache));
        string path = await client.DownloadAsync(new HubModelId("test-org/stories260K", "main"));

        string repo = Path.Combine(cache.Path, "models--test-org--stories260K");
        Assert.Equal(Path.Combine(repo, "snapshots", FakeHub.Commit), path);
        Assert.Equal(FakeHub.Commit, File.ReadAllText(Path.Combine(repo, "refs", "main")));
        foreach (string source in Directory.GetFiles(SharedData.PathOf(StoriesHf)))
        {
            string file = Path.Combine(path, Path.GetFileName(source));
            var link = new FileInfo(file);
            Assert.NotNull(link.LinkTarget); // a relative link into blobs/, as huggingface_hub makes it
            Assert.StartsWith("../../blobs/", link.LinkTarget!.Replace('\\', '/'));
            Assert.Equal(File.ReadAllBytes(source), File.ReadAllBytes(file));
        }
        // The weights' blob is named by its sha256.
        Assert.True(File.Exists(Path.Combine(repo, "blobs", Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(path, "model.safetensors")))))));
        Assert.Empty(Directory.GetFiles(Path.Combine(repo, "blobs"), "*.incomplete"));

        // Everything is there: a second download asks the Hub only for the revision's file list.
        int before = hub.Requests.Count;
        Assert.Equal(path, await client.DownloadAsync(new HubModelId("test-org/stories260K", "main")));
        Assert.Equal(["GET info test-org/stories260K@main"], hub.Requests.Skip(before).ToArray());
    }

    [SharedFact(StoriesHf)]
    public async Task ACutConnectionResumesWhereItStopped()
    {
        await using var hub = await FakeHub.StartAsync();
        hub.AddRepository("test-org/stories260K", SharedData.PathOf(StoriesHf));
        hub.CutOnce.Add("model.safetensors");
        using var cache = new TempDirectory();
        var log = new List<string>();
        using var client = new HubClient(Options(hub, cache) with { Log = log.Add });
        string path = await client.DownloadAsync(new HubModelId("test-org/stories260K", "main"));
        Assert.Equal(File.ReadAllBytes(SharedData.PathOf(StoriesHf + "/model.safetensors")), File.ReadAllBytes(Path.Combine(path, "model.safetensors")));
        // The hub sent half the file before cutting; the client resumes from what it had received (at most
        // that half: bytes in flight when a connection is reset can be lost), asking only for the rest.
        long half = new FileInfo(SharedData.PathOf(StoriesHf + "/model.safetensors")).Length / 2;
        string resumed = Assert.Single(log, l => l.StartsWith("resuming model.safetensors at ", StringComparison.Ordinal));
        long at = long.Parse(new string(resumed["resuming model.safetensors at ".Length..].Split(' ')[0].Where(char.IsAsciiDigit).ToArray()), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(at, 1, half);
        Assert.Contains($"model.safetensors bytes={at}-", hub.Ranges);
    }

    [SharedFact(StoriesHf)]
    public async Task OfflineUsesOnlyTheCache()
    {
        using var cache = new TempDirectory();
        string path;
        await using (var hub = await FakeHub.StartAsync())
        {
            hub.AddRepository("test-org/stories260K", SharedData.PathOf(StoriesHf));
            using var online = new HubClient(Options(hub, cache));
            path = await online.DownloadAsync(new HubModelId("test-org/stories260K", "main"));
        }
        using var offline = new HubClient(new HubOptions { Endpoint = "http://127.0.0.1:9", CacheDirectory = cache.Path, Offline = true });
        Assert.Equal(path, await offline.DownloadAsync(new HubModelId("test-org/stories260K", "main")));
        var e = await Assert.ThrowsAsync<SlingException>(() => offline.DownloadAsync(new HubModelId("test-org/other", "main")));
        Assert.Contains("not in the Hugging Face cache", e.Message);
        Assert.Contains("HF_HUB_OFFLINE=1", e.Message);
    }

    [SharedFact(StoriesHf)]
    public async Task MissingAndPrivateModelsAreClearErrorsAndLeaveNothingBehind()
    {
        await using var hub = await FakeHub.StartAsync();
        hub.AddRepository("test-org/private", SharedData.PathOf(StoriesHf), isPrivate: true);
        using var cache = new TempDirectory();
        using (var client = new HubClient(Options(hub, cache)))
        {
            var missing = await Assert.ThrowsAsync<SlingException>(() => client.DownloadAsync(new HubModelId("test-org/nothing", "main")));
            Assert.Contains("test-org/nothing: not found on", missing.Message);
            var denied = await Assert.ThrowsAsync<SlingException>(() => client.DownloadAsync(new HubModelId("test-org/private", "main")));
            Assert.Contains("access denied", denied.Message);
            Assert.Contains("HF_TOKEN", denied.Message);
        }
        Assert.DoesNotContain(Directory.GetFileSystemEntries(cache.Path, "*", SearchOption.AllDirectories), File.Exists);
        using var withToken = new HubClient(Options(hub, cache, token: FakeHub.Token));
        Assert.True(Directory.Exists(await withToken.DownloadAsync(new HubModelId("test-org/private", "main"))));
    }

    [SharedFact(StoriesHf)]
    public async Task IncludePatternsAndQuantsChooseFiles()
    {
        await using var hub = await FakeHub.StartAsync();
        using var folder = new TempDirectory();
        File.WriteAllText(Path.Combine(folder.Path, "README.md"), "# a GGUF repository");
        foreach (var quant in new[] { "Q4_0", "Q8_0" }) File.WriteAllBytes(Path.Combine(folder.Path, $"model-{quant}.gguf"), new byte[100]);
        hub.AddRepository("test-org/gguf", folder.Path);
        hub.AddRepository("test-org/stories260K", SharedData.PathOf(StoriesHf));
        using var cache = new TempDirectory();
        using var client = new HubClient(Options(hub, cache));
        var several = await Assert.ThrowsAsync<SlingException>(() => client.DownloadAsync(new HubModelId("test-org/gguf", "main")));
        Assert.Contains("several GGUF files", several.Message);
        Assert.True(HubModelId.TryParse("test-org/gguf:Q8_0", out var quantId));
        string file = await client.DownloadAsync(quantId);
        Assert.Equal("model-Q8_0.gguf", Path.GetFileName(file));
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(file)!));

        using var jsonOnly = new HubClient(Options(hub, cache, include: ["*.json"]));
        string snapshot = await jsonOnly.DownloadAsync(new HubModelId("test-org/stories260K", "main"));
        Assert.Equal(["config.json"], Directory.GetFiles(snapshot).Select(f => Path.GetFileName(f)).ToArray());
    }

    [Theory]
    [InlineData("microsoft/phi-2", "microsoft/phi-2", "main", null)]
    [InlineData("Qwen/Qwen2.5-0.5B-Instruct@v1.0", "Qwen/Qwen2.5-0.5B-Instruct", "v1.0", null)]
    [InlineData("TheBloke/TinyLlama-GGUF:Q4_0", "TheBloke/TinyLlama-GGUF", "main", "Q4_0")]
    public void ModelIdsParse(string text, string repo, string revision, string? quant)
    {
        Assert.True(HubModelId.TryParse(text, out var id));
        Assert.Equal(new HubModelId(repo, revision, quant), id);
    }

    [Theory]
    [InlineData("/abs/path")]
    [InlineData("./relative/model")]
    [InlineData("just-a-name")]
    [InlineData("a/../b")]
    [InlineData("org/name/extra")]
    public void PathsAreNotModelIds(string text) => Assert.False(HubModelId.TryParse(text, out _));
}
