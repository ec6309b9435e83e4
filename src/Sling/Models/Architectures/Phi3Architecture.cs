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

    public TransformerWeights ReadWeights(TransformerConfig c, CheckpointReader r)
    {
        var embedding = r.Embedding(c);
        var layers = new LayerWeights[c.Layers];
        for (int i = 0; i < c.Layers; i++)
        {
            string p = $"model.layers.{i}.";
            var qkv = r.Matrix(p + "self_attn.qkv_proj.weight", c.QDim + 2 * c.KvDim, c.Dim,
                "(num_attention_heads + 2 × num_key_value_heads) × head_dim, hidden_size");
            var gateUp = r.Matrix(p + "mlp.gate_up_proj.weight", 2 * c.HiddenDim, c.Dim, "2 × intermediate_size, hidden_size");
            layers[i] = new LayerWeights
            {
                AttentionNorm = r.RmsNorm(p + "input_layernorm.weight", c),
                MlpNorm = r.RmsNorm(p + "post_attention_layernorm.weight", c),
                Query = new Linear(qkv.SliceRows(0, c.QDim)),
                Key = new Linear(qkv.SliceRows(c.QDim, c.KvDim)),
                Value = new Linear(qkv.SliceRows(c.QDim + c.KvDim, c.KvDim)),
                Output = new Linear(r.Matrix(p + "self_attn.o_proj.weight", c.Dim, c.QDim, Shapes.AttentionOutput)),
                Gate = new Linear(gateUp.SliceRows(0, c.HiddenDim)),
                Up = new Linear(gateUp.SliceRows(c.HiddenDim, c.HiddenDim)),
                Down = new Linear(r.Matrix(p + "mlp.down_proj.weight", c.Dim, c.HiddenDim, Shapes.MlpOut)),
            };
        }
        return new TransformerWeights
        {
            Embedding = embedding,
            Layers = layers,
            FinalNorm = r.RmsNorm("model.norm.weight", c),
            Classifier = r.Classifier(embedding, c),
        };
    }
}
