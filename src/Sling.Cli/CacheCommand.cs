using System.CommandLine;
using System.Globalization;
using Sling.Models;

namespace Sling.Cli;

/// <summary>`sling cache list|clear`: what the model cache holds (converted and compressed weights, kernel layouts) and removing it.</summary>
internal static class CacheCommand
{
    public static Command Create(TextWriter stdout)
    {
        var list = new Command("list", "List the entries: size, last use, what each was derived from, and whether its model changed since");
        var clear = new Command("clear", "Remove entries (all, or with --stale only those whose model changed or went away)");
        var stale = new Option<bool>("--stale") { Description = "Only entries whose source files changed or were removed since the entry was made" };
        Option<string?> listDir = CommonOptions.CacheDir(), clearDir = CommonOptions.CacheDir();
        list.Options.Add(listDir);
        clear.Options.Add(clearDir);
        clear.Options.Add(stale);
        list.SetAction(parse =>
        {
            var cache = Open(parse.GetValue(listDir));
            var entries = cache.Entries();
            stdout.WriteLine($"{cache.Root}: {entries.Count} {(entries.Count == 1 ? "entry" : "entries")}, {Size(entries.Sum(e => e.Bytes))}");
            foreach (var e in entries)
            {
                string what = e.Source is null ? "(source not recorded)" : $"{Describe(e.Source.Derivation)} of {Origin(e.Source)}";
                string when = e.LastUsedUtc.ToLocalTime().ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
                stdout.WriteLine($"{Size(e.Bytes),10}  used {when}  {what}{(e.Stale ? "  [stale: the model changed]" : "")}");
                stdout.WriteLine($"{"",10}  {e.Path}");
            }
            return 0;
        });
        clear.SetAction(parse =>
        {
            var cache = Open(parse.GetValue(clearDir));
            bool onlyStale = parse.GetValue(stale);
            var gone = cache.Entries().Where(e => !onlyStale || e.Stale).ToList();
            foreach (var e in gone) ModelCache.Remove(e);
            stdout.WriteLine($"removed {gone.Count} {(gone.Count == 1 ? "entry" : "entries")} ({Size(gone.Sum(e => e.Bytes))}) from {cache.Root}");
            return 0;
        });
        return new Command("cache", "Show or clear the model cache (converted and compressed weights, kernel layouts)") { list, clear };
    }

    private static ModelCache Open(string? dir) => dir is null ? ModelCache.Default() : new ModelCache(dir);

    private static string Origin(ModelCache.Source source) => source.Files.Count == 1 ? source.Files[0].Path : source.Folder;

    // "quantize={json}" → "compressed weights {json}", "dtype=bf16" → "weights as bf16", "kernel-layout=1 isa=Avx512" → "kernel layout (Avx512)".
    private static string Describe(string derivation)
    {
        if (derivation.StartsWith("quantize=", StringComparison.Ordinal)) return "compressed weights " + derivation["quantize=".Length..];
        if (derivation.StartsWith("dtype=", StringComparison.Ordinal)) return "weights as " + derivation["dtype=".Length..];
        if (derivation.StartsWith("kernel-layout=", StringComparison.Ordinal))
            return "kernel layout" + (derivation.Split(' ').FirstOrDefault(p => p.StartsWith("isa=", StringComparison.Ordinal)) is { } isa ? $" ({isa[4..]})" : "");
        return derivation;
    }

    private static string Size(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):F1} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):F0} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:F0} KiB",
        _ => $"{bytes} B",
    };
}
