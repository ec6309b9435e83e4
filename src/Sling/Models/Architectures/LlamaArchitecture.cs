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

    public TransformerWeights ReadWeights(TransformerConfig c, CheckpointReader r)
    {
        var embedding = r.Embedding(c);
        var layers = new LayerWeights[c.Layers];
        for (int i = 0; i < c.Layers; i++)
        {
            string p = $"model.layers.{i}.";
            layers[i] = new LayerWeights
            {
                AttentionNorm = r.RmsNorm(p + "input_layernorm.weight", c),
                MlpNorm = r.RmsNorm(p + "post_attention_layernorm.weight", c),
                Query = Projection(r, p + "self_attn.q_proj", c.QDim, c.Dim, Shapes.Query),
                Key = Projection(r, p + "self_attn.k_proj", c.KvDim, c.Dim, Shapes.KeyValue),
                Value = Projection(r, p + "self_attn.v_proj", c.KvDim, c.Dim, Shapes.KeyValue),
                Output = Projection(r, p + "self_attn.o_proj", c.Dim, c.QDim, Shapes.AttentionOutput),
                Gate = Projection(r, p + "mlp.gate_proj", c.HiddenDim, c.Dim, Shapes.MlpIn),
                Up = Projection(r, p + "mlp.up_proj", c.HiddenDim, c.Dim, Shapes.MlpIn),
                Down = Projection(r, p + "mlp.down_proj", c.Dim, c.HiddenDim, Shapes.MlpOut),
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

    private static Linear Projection(CheckpointReader r, string name, int rows, int cols, string why)
        => new(r.Matrix(name + ".weight", rows, cols, why), r.OptionalVector(name + ".bias", rows, why.Split(',')[0]));
}
