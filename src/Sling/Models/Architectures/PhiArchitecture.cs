using Sling.Formats;

namespace Sling.Models.Architectures;

/// <summary>
/// Phi-1, Phi-1.5 and Phi-2: one LayerNorm (with bias) per block feeding attention and MLP in
/// parallel, both added to the residual; rotary embedding on only the first
/// partial_rotary_factor of each head; a two-layer gelu_new MLP; biases everywhere; a final
/// LayerNorm and an lm_head with bias.
/// </summary>
internal sealed class PhiArchitecture : IArchitecture
{
    public IReadOnlyList<string> ArchitectureNames { get; } = ["PhiForCausalLM"];
    public IReadOnlyList<string> ModelTypes { get; } = ["phi"];

    public TransformerConfig ReadConfig(HuggingFaceConfig c)
    {
        DecoderConfig.RequireActivation(c, "gelu_new", "gelu_new", "gelu_pytorch_tanh", "gelu_fast");
        if (c.Bool("qk_layernorm", false))
            throw c.Error("qk_layernorm", "true is not supported");
        var config = DecoderConfig.Read(c, "PhiForCausalLM");
        double factor = c.Double("partial_rotary_factor", 0.5);
        int rotary = (int)(config.HeadDim * factor);
        if (factor <= 0 || factor > 1 || rotary < 2)
            throw c.Error("partial_rotary_factor", $"({factor}) gives no usable rotary dimension for head_dim {config.HeadDim}");
        return config with
        {
            Norm = NormKind.LayerNorm,
            NormEps = (float)c.Double("layer_norm_eps", 1e-5),
            Mlp = MlpKind.Gelu,
            ParallelResidual = true,
            RotaryDimOverride = rotary - rotary % 2,
        };
    }

    public TensorNames Names => TensorNames.Phi;
}
