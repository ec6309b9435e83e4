namespace Sling.Hub;

/// <summary>Where and how models are fetched from the Hugging Face Hub; defaults from the same
/// environment variables Python's huggingface_hub reads.</summary>
public sealed record HubOptions
{
    public const string DefaultEndpoint = "https://huggingface.co";

    /// <summary>The Hub's base URL ($HF_ENDPOINT).</summary>
    public string Endpoint { get; init; } = DefaultEndpoint;

    /// <summary>Access token for private or gated models ($HF_TOKEN).</summary>
    public string? Token { get; init; }

    /// <summary>The cache shared with Python tools: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub.</summary>
    public string CacheDirectory { get; init; } = DefaultCacheDirectory();

    /// <summary>Use only the cache, never the network ($HF_HUB_OFFLINE=1).</summary>
    public bool Offline { get; init; }

    /// <summary>File patterns to fetch (globs on the file name or path, e.g. "*Q4_0.gguf"); empty = what a model needs.</summary>
    public IReadOnlyList<string> Include { get; init; } = [];

    /// <summary>Called as files download: file name, bytes so far, total bytes (or null when unknown).</summary>
    public Action<string, long, long?>? Progress { get; init; }

    /// <summary>Receives one line per notable step (a file fetched, resumed, taken from the cache).</summary>
    public Action<string>? Log { get; init; }

    public static HubOptions FromEnvironment() => new()
    {
        Endpoint = Environment.GetEnvironmentVariable("HF_ENDPOINT") is { Length: > 0 } e ? e.TrimEnd('/') : DefaultEndpoint,
        Token = Environment.GetEnvironmentVariable("HF_TOKEN") is { Length: > 0 } t ? t : null,
        Offline = Environment.GetEnvironmentVariable("HF_HUB_OFFLINE") is "1" or "true" or "TRUE" or "yes",
    };

    static string DefaultCacheDirectory()
    {
        if (Environment.GetEnvironmentVariable("HF_HUB_CACHE") is { Length: > 0 } hub) return hub;
        if (Environment.GetEnvironmentVariable("HF_HOME") is { Length: > 0 } home) return Path.Combine(home, "hub");
        return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "huggingface", "hub");
    }
}
