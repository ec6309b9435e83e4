namespace Sling.Bench;

/// <summary>"command --key value …" arguments of the benchmark tool.</summary>
internal sealed class BenchArgs
{
    private readonly Dictionary<string, string> _values = new();
    public string Command { get; private init; } = "";

    public static BenchArgs Parse(string[] args)
    {
        var result = new BenchArgs { Command = args.Length > 0 ? args[0] : "" };
        for (int i = 1; i + 1 < args.Length; i += 2)
            result._values[args[i].TrimStart('-')] = args[i + 1];
        return result;
    }

    public string? Get(string key) => _values.GetValueOrDefault(key);
    public string Required(string key) => Get(key) ?? throw new ArgumentException($"--{key} is required");
    public int Int(string key, int fallback) => Get(key) is { } v ? int.Parse(v) : fallback;
}
