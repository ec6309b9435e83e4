using Sling.Formats;

namespace Sling.Models.Architectures;

/// <summary>Finds the family of a config.json by its "architectures" entry, else its "model_type".</summary>
internal static class ArchitectureRegistry
{
    public static IReadOnlyList<IArchitecture> All { get; } = [new LlamaArchitecture(), new PhiArchitecture(), new Phi3Architecture()];

    public static string SupportedList => string.Join(", ", All.SelectMany(a => a.ArchitectureNames));

    public static IArchitecture Find(HuggingFaceConfig config)
    {
        string? name = config.Architecture();
        string? type = config.String("model_type");
        var match = All.FirstOrDefault(a => name != null && a.ArchitectureNames.Contains(name))
                    ?? All.FirstOrDefault(a => name == null && type != null && a.ModelTypes.Contains(type));
        if (match != null) return match;
        string what = name ?? (type != null ? $"model_type '{type}'" : "an unnamed architecture");
        throw new ModelFormatException(config.Path, $"architecture {what} is not supported (supported: {SupportedList})");
    }
}
