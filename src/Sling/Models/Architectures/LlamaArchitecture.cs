using Sling.Formats;

namespace Sling.Models.Architectures;

/// <summary>
/// Llama (TinyLlama, SmolLM, Llama 2/3), Mistral and Qwen2: pre-norm RMSNorm blocks, rotary
/// embeddings on rotate-half pairs, grouped-query attention, SwiGLU. Qwen2 adds q/k/v biases
/// (any attention bias present in the checkpoint is used); Mistral may limit attention to a window.
/// </summary>
internal sealed class LlamaArchitecture : IArchitecture
{
    public IReadOnlyList<string> ArchitectureNames { get; } = ["LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"];
    public IReadOnlyList<string> ModelTypes { get; } = ["llama", "mistral", "qwen2"];

    public TransformerConfig ReadConfig(HuggingFaceConfig c)
    {
        DecoderConfig.RequireActivation(c, "silu", "silu", "swish");
        var config = DecoderConfig.Read(c, c.Architecture() ?? c.String("model_type") ?? "llama");
        // Qwen2 declares a window but only uses it when use_sliding_window is set.
        bool windowed = c.String("model_type") == "mistral" || c.Bool("use_sliding_window", false);
        if (windowed && c.Has("sliding_window"))
            config = config with { SlidingWindow = c.Int("sliding_window") };
        return config;
    }

    public TensorNames Names => TensorNames.Llama;
}
