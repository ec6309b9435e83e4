using System.Security.Cryptography;
using System.Text;

namespace Sling.Models;

/// <summary>
/// A folder of derived model data (like Optimum's CACHE_DIR): whatever Sling computes from a model
/// at load — converted weights — is kept under a key made from the source files' names, sizes and
/// times plus what was derived, so the next load maps the result instead of recomputing it.
/// Entries are built in a temporary folder and renamed into place, so a crash never leaves a
/// half-written entry that looks complete.
/// </summary>
public sealed class ModelCache(string root)
{
    private const string FormatVersion = "sling-cache-1";
    public const string EnvironmentVariable = "SLING_CACHE_DIR";

    public string Root { get; } = root;

    public static ModelCache Default()
    {
        string? env = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(env)) return new ModelCache(env);
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return new ModelCache(Path.Combine(home, ".cache", "sling"));
    }

    /// <summary>A key that changes whenever a source file or the derivation changes.</summary>
    public static string Key(string sourceFolder, IEnumerable<string> sourceFiles, string derivation)
    {
        var text = new StringBuilder(FormatVersion).Append('\n').Append(Path.GetFullPath(sourceFolder)).Append('\n').Append(derivation).Append('\n');
        foreach (var file in sourceFiles.Order(StringComparer.Ordinal))
        {
            var info = new FileInfo(file);
            if (info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is FileInfo target) info = target;
            text.Append(info.Name).Append(' ').Append(info.Length).Append(' ').Append(info.LastWriteTimeUtc.Ticks).Append('\n');
        }
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())))[..32];
    }

    public string EntryPath(string key) => Path.Combine(Root, "models", key);

    /// <summary>The entry's folder, building it with <paramref name="build"/> first if it is not there.</summary>
    public (string Path, bool Hit) GetOrCreate(string key, Action<string> build)
    {
        string entry = EntryPath(key);
        if (Directory.Exists(entry)) return (entry, true);
        string temporary = $"{entry}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            Directory.CreateDirectory(temporary);
            build(temporary);
            try
            {
                Directory.Move(temporary, entry);
            }
            catch (IOException) when (Directory.Exists(entry))
            {
                // Another process finished the same entry first; theirs is as good as ours.
            }
            return (entry, false);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new SlingException($"model cache {Root}: cannot write ({e.Message}); set {EnvironmentVariable} to a writable folder");
        }
        finally
        {
            if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
        }
    }
}
