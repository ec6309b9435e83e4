using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Sling.Hub;

/// <summary>
/// Fetches a model from the Hugging Face Hub into the cache layout Python's huggingface_hub uses
/// (<c>models--org--name/{blobs,snapshots/COMMIT,refs}</c>), so the files are shared with Python
/// tools: only the files a model needs, resumed with HTTP Range after a cut, size and sha256 checked,
/// written under a temporary name until complete (a snapshot never holds a partial file).
/// </summary>
public sealed class HubClient : IDisposable
{
    /// <summary>What a model folder needs, when no include pattern is given.</summary>
    static readonly string[] DefaultPatterns =
        ["*.json", "*.safetensors", "tokenizer.model", "tokenizer.bin", "tok*.bin", "*.jinja", "*.txt"];

    const int Attempts = 5;

    readonly HubOptions _options;
    readonly HttpClient _http, _noRedirect;

    public HubClient(HubOptions options)
    {
        _options = options;
        _http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        _noRedirect = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { Timeout = TimeSpan.FromMinutes(2) };
        foreach (var client in new[] { _http, _noRedirect })
        {
            client.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("sling", typeof(HubClient).Assembly.GetName().Version?.ToString() ?? "0"));
            if (options.Token is { } token) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
    }

    public void Dispose()
    {
        _http.Dispose();
        _noRedirect.Dispose();
    }

    string RepoFolder(HubModelId id) => Path.Combine(_options.CacheDirectory, id.CacheFolderName);

    /// <summary>
    /// The local path of the model: its snapshot folder, or the GGUF file in it when the repository
    /// holds GGUF files instead of a model folder. Downloads what is missing (unless offline).
    /// </summary>
    public async Task<string> DownloadAsync(HubModelId id, CancellationToken cancellationToken = default)
    {
        if (_options.Offline) return FromCache(id, "HF_HUB_OFFLINE=1");
        RepositoryInfo info;
        try
        {
            info = await GetInfoAsync(id, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e) when (e.StatusCode is null && CachedSnapshot(id) is not null)
        {
            _options.Log?.Invoke($"the Hub at {_options.Endpoint} is not reachable ({e.Message}); using the cached copy");
            return FromCache(id, "the Hub is not reachable");
        }
        var files = Select(id, info.Files);
        string snapshot = Path.Combine(RepoFolder(id), "snapshots", info.Commit);
        foreach (string file in files) await FetchAsync(id, info.Commit, file, snapshot, cancellationToken).ConfigureAwait(false);
        if (id.Revision != info.Commit)
        {
            string refs = Path.Combine(RepoFolder(id), "refs", id.Revision);
            Directory.CreateDirectory(Path.GetDirectoryName(refs)!);
            await File.WriteAllTextAsync(refs, info.Commit, cancellationToken).ConfigureAwait(false);
        }
        return ModelPathIn(snapshot, files);
    }

    /// <summary>Blocking form for loaders.</summary>
    public string Download(HubModelId id) => DownloadAsync(id).GetAwaiter().GetResult();

    sealed record RepositoryInfo(string Commit, IReadOnlyList<string> Files);

    async Task<RepositoryInfo> GetInfoAsync(HubModelId id, CancellationToken cancellationToken)
    {
        string url = $"{_options.Endpoint}/api/models/{id.Repository}/revision/{Uri.EscapeDataString(id.Revision)}";
        using var response = await _http.GetAsync(url, cancellationToken).ConfigureAwait(false);
        Check(response, id, url);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false));
        var root = doc.RootElement;
        if (!root.TryGetProperty("sha", out var sha) || sha.ValueKind != JsonValueKind.String || !root.TryGetProperty("siblings", out var siblings) || siblings.ValueKind != JsonValueKind.Array)
            throw new SlingException($"{url}: the Hub's answer has no 'sha' and 'siblings'");
        var files = siblings.EnumerateArray()
            .Select(s => s.TryGetProperty("rfilename", out var f) ? f.GetString() : null)
            .Where(f => f is not null).Select(f => f!).ToList();
        return new RepositoryInfo(SafeName(sha.GetString()!, url), files);
    }

    void Check(HttpResponseMessage response, HubModelId id, string url)
    {
        switch (response.StatusCode)
        {
            case HttpStatusCode.NotFound:
                throw new SlingException($"{id}: not found on {_options.Endpoint} (no such model or revision; a private model needs HF_TOKEN; a local path by that name does not exist either)");
            case HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden:
                throw new SlingException($"{id}: access denied by {_options.Endpoint} ({(int)response.StatusCode}); " +
                    (_options.Token is null ? "set HF_TOKEN to a token that may read it" : "the token in HF_TOKEN may not read it (gated model: accept its terms on the Hub)"));
        }
        if (!response.IsSuccessStatusCode)
            throw new SlingException($"{url}: the Hub answered {(int)response.StatusCode} {response.ReasonPhrase}");
    }

    IReadOnlyList<string> Include(HubModelId id) =>
        id.Quant is { } quant ? [.. _options.Include, $"*{quant}*.gguf"] : _options.Include;

    IReadOnlyList<string> Select(HubModelId id, IReadOnlyList<string> files)
    {
        var include = Include(id);
        if (include.Count > 0)
        {
            var chosen = files.Where(f => include.Any(p => Matches(f, p))).ToList();
            if (chosen.Count == 0)
                throw new SlingException($"{id}: no file matches {string.Join(", ", include)} (the repository has {string.Join(", ", files.Take(20))}{(files.Count > 20 ? ", …" : "")})");
            if (id.Quant is not null && chosen.Count(f => f.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase)) > 1)
                throw new SlingException($"{id}: several GGUF files match ({string.Join(", ", chosen)}); name one more exactly");
            return chosen;
        }
        var needed = files.Where(f => DefaultPatterns.Any(p => Matches(f, p))).ToList();
        if (files.Any(f => f.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)) || files.Contains("config.json")) return needed;
        var ggufs = files.Where(f => f.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase)).ToList();
        if (ggufs.Count == 1) return ggufs;
        if (ggufs.Count > 1)
            throw new SlingException($"{id} holds several GGUF files ({string.Join(", ", ggufs)}); choose one as {id.Repository}:QUANT (e.g. :Q4_0)");
        if (needed.Count == 0) throw new SlingException($"{id}: no model files (safetensors, GGUF) in the repository");
        return needed;
    }

    /// <summary>A glob (* and ?) on the whole path, or on the file name when the pattern has no '/'.</summary>
    public static bool Matches(string path, string pattern)
    {
        string subject = pattern.Contains('/') ? path : Path.GetFileName(path);
        string regex = "^" + Regex.Escape(pattern).Replace(@"\*", ".*").Replace(@"\?", ".") + "$";
        return Regex.IsMatch(subject, regex, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
    }

    static string ModelPathIn(string snapshot, IReadOnlyList<string> files)
    {
        var ggufs = files.Where(f => f.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase)).ToList();
        return ggufs.Count == 1 && !files.Contains("config.json") ? Path.Combine(snapshot, ggufs[0]) : snapshot;
    }

    string? CachedSnapshot(HubModelId id)
    {
        string repo = RepoFolder(id);
        string commit = id.Revision;
        string refs = Path.Combine(repo, "refs", id.Revision);
        if (File.Exists(refs)) commit = File.ReadAllText(refs).Trim();
        string snapshot = Path.Combine(repo, "snapshots", commit);
        return Directory.Exists(snapshot) ? snapshot : null;
    }

    string FromCache(HubModelId id, string why)
    {
        string snapshot = CachedSnapshot(id)
            ?? throw new SlingException($"{id} is not in the Hugging Face cache ({_options.CacheDirectory}) and {why}; download it first (sling download {id})");
        var files = Directory.EnumerateFiles(snapshot, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(snapshot, f).Replace('\\', '/')).ToList();
        var include = Include(id);
        if (include.Count > 0) files = files.Where(f => include.Any(p => Matches(f, p))).ToList();
        return ModelPathIn(snapshot, files);
    }

    async Task FetchAsync(HubModelId id, string commit, string file, string snapshot, CancellationToken cancellationToken)
    {
        string target = Path.Combine(snapshot, SafeRelative(file, id));
        if (File.Exists(target)) return; // a complete file (links resolve to finished blobs only)
        string url = $"{_options.Endpoint}/{id.Repository}/resolve/{commit}/{string.Join('/', file.Split('/').Select(Uri.EscapeDataString))}";

        // HEAD without following redirects: the Hub names large files' content (X-Linked-Etag = sha256) there.
        using var head = await _noRedirect.SendAsync(new HttpRequestMessage(HttpMethod.Head, url), cancellationToken).ConfigureAwait(false);
        if ((int)head.StatusCode >= 400) Check(head, id, url);
        string? etag = Header(head, "X-Linked-Etag") ?? head.Headers.ETag?.Tag;
        long? size = long.TryParse(Header(head, "X-Linked-Size"), out long linked) ? linked : head.Content.Headers.ContentLength;
        if (etag is null) throw new SlingException($"{url}: the Hub sent no ETag for {file}");
        string blobName = SafeName(etag.Replace("W/", "", StringComparison.Ordinal).Trim('"'), url);
        string blobs = Path.Combine(RepoFolder(id), "blobs");
        string blob = Path.Combine(blobs, blobName);
        Directory.CreateDirectory(blobs);
        if (!File.Exists(blob))
        {
            await DownloadBlobAsync(url, file, blob, size, blobName, cancellationToken).ConfigureAwait(false);
            _options.Log?.Invoke($"downloaded {id.Repository}/{file} ({new FileInfo(blob).Length:N0} bytes)");
        }
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        try
        {
            File.CreateSymbolicLink(target, Path.GetRelativePath(Path.GetDirectoryName(target)!, blob));
        }
        catch (IOException) when (File.Exists(target))
        {
            // another process linked it first
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            File.Copy(blob, target, overwrite: true); // no symbolic links here: a copy, as huggingface_hub does on Windows
        }
    }

    async Task DownloadBlobAsync(string url, string file, string blob, long? size, string blobName, CancellationToken cancellationToken)
    {
        string partial = blob + ".incomplete";
        for (int attempt = 1; ; attempt++)
        {
            long have = File.Exists(partial) ? new FileInfo(partial).Length : 0;
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, url);
                if (have > 0) request.Headers.Range = new RangeHeaderValue(have, null);
                using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
                if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && size == have) break;
                if (!response.IsSuccessStatusCode) throw new SlingException($"{url}: the Hub answered {(int)response.StatusCode} {response.ReasonPhrase}");
                bool resumed = response.StatusCode == HttpStatusCode.PartialContent;
                if (have > 0) _options.Log?.Invoke(resumed ? $"resuming {file} at {have:N0} bytes" : $"restarting {file} (the server does not resume)");
                if (!resumed) have = 0;
                long? total = size ?? (response.Content.Headers.ContentLength is long length ? length + have : null);
                await using (var output = new FileStream(partial, resumed ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
                await using (var input = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false))
                {
                    var buffer = new byte[1 << 16];
                    int read;
                    while ((read = await input.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                    {
                        await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                        have += read;
                        _options.Progress?.Invoke(file, have, total);
                    }
                }
                if (total is long expected && have != expected)
                    throw new IOException($"the connection ended after {have:N0} of {expected:N0} bytes");
                break;
            }
            catch (Exception e) when ((e is IOException or HttpRequestException) && !cancellationToken.IsCancellationRequested)
            {
                if (attempt == Attempts)
                    throw new SlingException($"downloading {file} from {url} failed {Attempts} times ({e.Message}); the {new FileInfo(partial).Length:N0} bytes so far are kept and the next run resumes");
                await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt), cancellationToken).ConfigureAwait(false);
            }
        }
        if (size is long want && new FileInfo(partial).Length is var got && got != want)
        {
            File.Delete(partial);
            throw new SlingException($"{url}: {file} has {got:N0} bytes, the Hub said {want:N0}; the partial file was removed");
        }
        // Large files are named by their sha256: check it.
        if (blobName.Length == 64 && blobName.All(Uri.IsHexDigit))
        {
            string actual;
            await using (var stream = File.OpenRead(partial))
                actual = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false));
            if (!string.Equals(actual, blobName, StringComparison.OrdinalIgnoreCase))
            {
                File.Delete(partial);
                throw new SlingException($"{url}: {file} has sha256 {actual}, the Hub said {blobName}; the corrupt download was removed");
            }
        }
        File.Move(partial, blob, overwrite: true);
    }

    static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault()?.Trim('"') : null;

    /// <summary>A commit or blob name used in a path: letters, digits and a few safe characters only.</summary>
    static string SafeName(string name, string origin) =>
        name.Length is > 0 and <= 128 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') && name != "." && name != ".."
            ? name : throw new SlingException($"{origin}: unusable name '{name}' from the Hub");

    static string SafeRelative(string file, HubModelId id)
    {
        if (file.Length == 0 || Path.IsPathRooted(file) || file.Split('/').Any(p => p is "" or "." or ".."))
            throw new SlingException($"{id}: the Hub lists an unsafe file name '{file}'");
        return file.Replace('/', Path.DirectorySeparatorChar);
    }
}
