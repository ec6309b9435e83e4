namespace Sling.Tests.Support;

/// <summary>Finds the read-only reference data in ../shared beside the project root.</summary>
public static class SharedData
{
    public static string? Root { get; } = Locate();

    private static string? Locate()
    {
        var env = Environment.GetEnvironmentVariable("SLING_SHARED");
        if (!string.IsNullOrEmpty(env) && Directory.Exists(env)) return env;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Sling.slnx")))
            {
                string shared = Path.Combine(dir.Parent?.FullName ?? dir.FullName, "shared");
                return Directory.Exists(shared) ? shared : null;
            }
        }
        return null;
    }

    public static string PathOf(string relative)
        => Path.Combine(Root ?? throw new InvalidOperationException("../shared is absent"), relative);

    public static bool Has(string relative) => Root != null && Path.Exists(Path.Combine(Root, relative));

    /// <summary>Why a test is skipped: the first of <paramref name="requiredPaths"/> that is absent, else <paramref name="unavailable"/> unless <paramref name="available"/>; null when it runs.</summary>
    public static string? SkipReason(string[] requiredPaths, bool available = true, string unavailable = "")
    {
        var missing = requiredPaths.FirstOrDefault(p => !Has(p));
        return missing != null ? $"reference data ../shared/{missing} is absent" : available ? null : unavailable;
    }

    /// <summary>The block-type files of ../shared/models/gguf/quant (model-TYPE.gguf), one per type llama-quantize wrote.</summary>
    public static TheoryData<string> QuantizedGgufTypes() =>
        new("q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_k", "q3_k_m", "q4_k_m", "q5_k_m", "q6_k", "iq4_nl", "iq4_xs");

    public const string Stories260K = "models/stories260K/stories260K.bin";
    public const string Stories260KTokenizer = "models/stories260K/tok512.bin";
    public const string Stories260KExpected = "models/stories260K/expected_greedy_200.txt";
}

/// <summary>A fact that is skipped, saying why, when the shared files it reads are absent.</summary>
public sealed class SharedFactAttribute : FactAttribute
{
    public SharedFactAttribute(params string[] requiredPaths)
    {
        var missing = requiredPaths.FirstOrDefault(p => !SharedData.Has(p));
        if (missing != null) Skip = $"reference data ../shared/{missing} is absent";
    }
}

/// <summary>A theory that is skipped, saying why, when the shared files it reads are absent.</summary>
public sealed class SharedTheoryAttribute : TheoryAttribute
{
    public SharedTheoryAttribute(params string[] requiredPaths)
    {
        var missing = requiredPaths.FirstOrDefault(p => !SharedData.Has(p));
        if (missing != null) Skip = $"reference data ../shared/{missing} is absent";
    }
}
