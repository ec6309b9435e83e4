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

    public TransformerWeights ReadWeights(TransformerConfig c, CheckpointReader r)
    {
        var embedding = r.Embedding(c);
        var layers = new LayerWeights[c.Layers];
        for (int i = 0; i < c.Layers; i++)
        {
            string p = $"model.layers.{i}.";
            layers[i] = new LayerWeights
            {
                AttentionNorm = Norm(r, p + "input_layernorm", c.Dim),
                MlpNorm = null, // the MLP reads the same normed input as attention
                Query = Affine(r, p + "self_attn.q_proj", c.QDim, c.Dim, Shapes.Query),
                Key = Affine(r, p + "self_attn.k_proj", c.KvDim, c.Dim, Shapes.KeyValue),
                Value = Affine(r, p + "self_attn.v_proj", c.KvDim, c.Dim, Shapes.KeyValue),
                Output = Affine(r, p + "self_attn.dense", c.Dim, c.QDim, Shapes.AttentionOutput),
                Up = Affine(r, p + "mlp.fc1", c.HiddenDim, c.Dim, Shapes.MlpIn),
                Down = Affine(r, p + "mlp.fc2", c.Dim, c.HiddenDim, Shapes.MlpOut),
            };
        }
        return new TransformerWeights
        {
            Embedding = embedding,
            Layers = layers,
            FinalNorm = Norm(r, "model.final_layernorm", c.Dim),
            Classifier = r.Classifier(embedding, c, biasName: "lm_head.bias"),
        };
    }

    private static NormWeights Norm(CheckpointReader r, string name, int dim)
        => new(r.Vector(name + ".weight", dim, Shapes.Hidden), r.Vector(name + ".bias", dim, Shapes.Hidden));

    private static Linear Affine(CheckpointReader r, string name, int rows, int cols, string why)
        => new(r.Matrix(name + ".weight", rows, cols, why), r.Vector(name + ".bias", rows, why.Split(',')[0]));
}
