using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Sling.Tests.Hub;

/// <summary>
/// A local stand-in for the Hugging Face Hub on 127.0.0.1, speaking the part of its HTTP API a
/// download uses: <c>GET /api/models/{repo}/revision/{rev}</c> (sha, siblings) and
/// <c>HEAD/GET /{repo}/resolve/{rev}/{file}</c> with ETag, X-Repo-Commit, Content-Length and Range.
/// Large files are named by sha256 (as LFS files are), small ones by sha1. It can cut a file's first
/// download halfway, and holds one private repository that needs a token.
/// </summary>
public sealed class FakeHub : IAsyncDisposable
{
    public const string Commit = "0123456789abcdef0123456789abcdef01234567";
    public const string Token = "hf_test_token";

    readonly WebApplication _app;
    readonly Dictionary<string, Dictionary<string, byte[]>> _repos = new();
    readonly HashSet<string> _private = [];
    readonly ConcurrentDictionary<string, int> _gets = new();

    public ConcurrentQueue<string> Requests { get; } = new();
    public ConcurrentQueue<string> Ranges { get; } = new();

    /// <summary>Files whose first GET stops after half the bytes (the connection is dropped).</summary>
    public HashSet<string> CutOnce { get; } = [];

    FakeHub(WebApplication app) => _app = app;

    public Uri Endpoint => new(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    public void AddRepository(string repo, string folder, bool isPrivate = false)
    {
        _repos[repo] = Directory.GetFiles(folder).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);
        if (isPrivate) _private.Add(repo);
    }

    public static async Task<FakeHub> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
        var app = builder.Build();
        var hub = new FakeHub(app);
        app.MapGet("/api/models/{org}/{name}/revision/{rev}", (HttpContext c, string org, string name, string rev) => hub.Info(c, $"{org}/{name}", rev));
        app.MapMethods("/{org}/{name}/resolve/{rev}/{file}", ["GET", "HEAD"], (HttpContext c, string org, string name, string rev, string file) => hub.Resolve(c, $"{org}/{name}", rev, file));
        await app.StartAsync();
        return hub;
    }

    bool Allowed(HttpContext c, string repo) =>
        !_private.Contains(repo) || c.Request.Headers.Authorization.ToString() == $"Bearer {Token}";

    IResult Info(HttpContext c, string repo, string revision)
    {
        Requests.Enqueue($"GET info {repo}@{revision}");
        if (!_repos.TryGetValue(repo, out var files) || revision is not ("main" or Commit)) return Results.NotFound(new { error = "Repository not found" });
        if (!Allowed(c, repo)) return Results.Unauthorized();
        return Results.Json(new { id = repo, sha = Commit, siblings = files.Keys.Order().Select(f => new { rfilename = f }) });
    }

    static string ETag(string file, byte[] data) =>
        file.EndsWith(".safetensors", StringComparison.Ordinal) ? Convert.ToHexStringLower(SHA256.HashData(data)) : Convert.ToHexStringLower(SHA1.HashData(data));

    async Task Resolve(HttpContext c, string repo, string revision, string file)
    {
        Requests.Enqueue($"{c.Request.Method} {repo}/{file}");
        if (!_repos.TryGetValue(repo, out var files) || revision is not ("main" or Commit) || !files.TryGetValue(file, out var data))
        {
            c.Response.StatusCode = 404;
            return;
        }
        if (!Allowed(c, repo))
        {
            c.Response.StatusCode = 401;
            return;
        }
        c.Response.Headers.ETag = $"\"{ETag(file, data)}\"";
        c.Response.Headers["X-Repo-Commit"] = Commit;
        c.Response.Headers.AcceptRanges = "bytes";
        long from = 0;
        if (c.Request.Headers.Range.ToString() is { Length: > 0 } range && range.StartsWith("bytes=", StringComparison.Ordinal))
        {
            Ranges.Enqueue($"{file} {range}");
            from = long.Parse(range["bytes=".Length..].TrimEnd('-'));
            c.Response.StatusCode = 206;
            c.Response.Headers.ContentRange = $"bytes {from}-{data.Length - 1}/{data.Length}";
        }
        c.Response.ContentLength = data.Length - from;
        if (HttpMethods.IsHead(c.Request.Method)) return;
        int count = _gets.AddOrUpdate(file, 1, (_, n) => n + 1);
        if (count == 1 && CutOnce.Contains(file))
        {
            await c.Response.Body.WriteAsync(data.AsMemory((int)from, (data.Length - (int)from) / 2));
            await c.Response.Body.FlushAsync();
            c.Abort(); // the connection is cut mid-file
            return;
        }
        await c.Response.Body.WriteAsync(data.AsMemory((int)from));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
