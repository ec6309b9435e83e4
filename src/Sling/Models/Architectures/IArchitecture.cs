using Sling.Formats;

namespace Sling.Models.Architectures;

/// <summary>One Hugging Face model family: how its config.json and tensor names map onto the engine.</summary>
internal interface IArchitecture
{
    /// <summary>Names in config.json "architectures" this family answers to.</summary>
    IReadOnlyList<string> ArchitectureNames { get; }
    /// <summary>config.json "model_type" values this family answers to.</summary>
    IReadOnlyList<string> ModelTypes { get; }

    TransformerConfig ReadConfig(HuggingFaceConfig config);

    /// <summary>The family's tensor names (read by <see cref="WeightsBuilder"/> through a <see cref="CheckpointSource"/>).</summary>
    TensorNames Names { get; }
}
