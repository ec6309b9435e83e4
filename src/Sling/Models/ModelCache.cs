using System.IO.Hashing;
using System.Text;
using System.Text.Json;

namespace Sling.Models;

/// <summary>
/// A folder of derived model data (like Optimum's CACHE_DIR): whatever Sling computes from a model
/// at load — converted or compressed weights, the kernels' layout — is kept under a key made from the
/// source files' names, sizes and times plus what was derived, so the next load uses the result
/// instead of recomputing it. Entries are built in a temporary folder and renamed into place, so a
/// crash never leaves a half-written entry that looks complete. Each entry records its sources
/// (<see cref="EntryFileName"/>), so <see cref="Entries"/> can say what it holds and whether its
/// model has changed since.
/// </summary>
public sealed class ModelCache(string root)
{
    private const string FormatVersion = "sling-cache-1";
    public const string EnvironmentVariable = "SLING_CACHE_DIR";
    /// <summary>The file in each entry that names what it was derived from.</summary>
    public const string EntryFileName = "sling-entry.json";
    // Entries are built under "{entry}.tmp-{process}-{guid}" and renamed into place.
    private const string TemporaryMark = ".tmp-";

    public string Root { get; } = root;

    public static ModelCache Default()
    {
        string? env = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(env)) return new ModelCache(env);
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return new ModelCache(Path.Combine(home, ".cache", "sling"));
    }

    /// <summary>A source file as an entry saw it: full path, the name of the file it is (a link's target,
    /// as Hub snapshots link to blobs), length and last write time (UTC ticks).</summary>
    public sealed record SourceFile(string Path, string Name, long Length, long LastWriteTicks)
    {
        /// <summary>The file as it is now.</summary>
        public static SourceFile Of(string path)
        {
            var info = new FileInfo(path);
            if (info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is FileInfo target) info = target;
            return new SourceFile(System.IO.Path.GetFullPath(path), info.Name, info.Exists ? info.Length : -1, info.Exists ? info.LastWriteTimeUtc.Ticks : 0);
        }

        /// <summary>True when the file is gone or no longer has this length and time.</summary>
        public bool Changed() => Of(Path) != this;
    }

    /// <summary>What an entry is derived from: a model folder, its files and the derivation (e.g. <c>dtype=bf16</c>).</summary>
    public sealed record Source(string Folder, IReadOnlyList<SourceFile> Files, string Derivation)
    {
        public static Source Of(string folder, IEnumerable<string> files, string derivation) =>
            new(Path.GetFullPath(folder), files.Order(StringComparer.Ordinal).Select(SourceFile.Of).ToArray(), derivation);

        /// <summary>The entry's key: changes whenever a source file or the derivation changes.</summary>
        [System.Text.Json.Serialization.JsonIgnore]
        public string Key
        {
            get
            {
                var text = new StringBuilder(FormatVersion).Append('\n').Append(Folder).Append('\n').Append(Derivation).Append('\n');
                foreach (var file in Files)
                    text.Append(file.Name).Append(' ').Append(file.Length).Append(' ').Append(file.LastWriteTicks).Append('\n');
                // A 128-bit non-cryptographic hash: keys only tell entries apart (nothing here is an attacker's input),
                // and loading a model then needs no cryptography library in memory.
                return Convert.ToHexStringLower(XxHash128.Hash(Encoding.UTF8.GetBytes(text.ToString())));
            }
        }
    }

    private string EntryPath(Source source) => Path.Combine(Root, "models", source.Key);

    /// <summary>The existing entry for <paramref name="source"/> (marked as used), or null.</summary>
    public string? Find(Source source)
    {
        string entry = EntryPath(source);
        return Use(entry) ? entry : null;
    }

    /// <summary>The entry for <paramref name="source"/>, building it with <paramref name="build"/> first if it is not there.</summary>
    public (string Path, bool Hit) GetOrCreate(Source source, Action<string> build)
    {
        string entry = EntryPath(source);
        if (Use(entry)) return (entry, true);
        string temporary = $"{entry}{TemporaryMark}{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            Directory.CreateDirectory(temporary);
            build(temporary);
            File.WriteAllBytes(Path.Combine(temporary, EntryFileName), JsonSerializer.SerializeToUtf8Bytes(source, SourceJson.Default.Source));
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

    // An entry's last use is its folder's time: set on every hit, so the least recently used can go first.
    private static bool Use(string entry)
    {
        if (!Directory.Exists(entry)) return false;
        try
        {
            Directory.SetLastWriteTimeUtc(entry, DateTime.UtcNow);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // a read-only cache still serves its entries
        }
        return true;
    }

    /// <summary>One entry: where it is, its size on disk, when it was last used, its source (null for an
    /// entry written before sources were recorded) and whether a source file changed or went away since.</summary>
    public sealed record Entry(string Path, long Bytes, DateTime LastUsedUtc, Source? Source, bool Stale);

    /// <summary>The cache's entries, most recently used first (unfinished temporary folders are not entries).</summary>
    public IReadOnlyList<Entry> Entries()
    {
        string models = Path.Combine(Root, "models");
        if (!Directory.Exists(models)) return [];
        var entries = new List<Entry>();
        foreach (var dir in new DirectoryInfo(models).EnumerateDirectories())
        {
            if (dir.Name.Contains(TemporaryMark, StringComparison.Ordinal)) continue;
            long bytes = dir.EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
            var source = ReadSource(Path.Combine(dir.FullName, EntryFileName));
            entries.Add(new Entry(dir.FullName, bytes, dir.LastWriteTimeUtc, source, source?.Files.Any(f => f.Changed()) == true));
        }
        return [.. entries.OrderByDescending(e => e.LastUsedUtc)];
    }

    private static Source? ReadSource(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(path), SourceJson.Default.Source);
        }
        catch (JsonException)
        {
            return null; // unreadable: treated as an entry of unknown source
        }
    }

    /// <summary>Deletes an entry (a process using it keeps its open files until it exits).</summary>
    public static void Remove(Entry entry) => Directory.Delete(entry.Path, recursive: true);
}

[System.Text.Json.Serialization.JsonSerializable(typeof(ModelCache.Source))]
[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
internal sealed partial class SourceJson : System.Text.Json.Serialization.JsonSerializerContext;
