using Sling.Formats;

namespace Sling.Models.Architectures;

/// <summary>
/// Phi-3: a Llama-style block whose q/k/v projections are stored fused as qkv_proj and whose
/// gate/up projections are fused as gate_up_proj. The fused matrices are split into row views,
/// without copying.
/// </summary>
internal sealed class Phi3Architecture : IArchitecture
{
    public IReadOnlyList<string> ArchitectureNames { get; } = ["Phi3ForCausalLM"];
    public IReadOnlyList<string> ModelTypes { get; } = ["phi3"];

    public TransformerConfig ReadConfig(HuggingFaceConfig c)
    {
        DecoderConfig.RequireActivation(c, "silu", "silu", "swish");
        var config = DecoderConfig.Read(c, "Phi3ForCausalLM");
        double factor = c.Double("partial_rotary_factor", 1.0);
        if (factor != 1.0) config = config with { RotaryDimOverride = (int)(config.HeadDim * factor) };
        if (c.Bool("use_sliding_window", false) && c.Has("sliding_window")) config = config with { SlidingWindow = c.Int("sliding_window") };
        return config;
    }

    public TensorNames Names => TensorNames.Phi3;
}
