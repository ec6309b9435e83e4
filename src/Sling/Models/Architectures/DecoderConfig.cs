using Sling.Formats;

namespace Sling.Models.Architectures;

/// <summary>The config.json fields every supported decoder shares, read with field-named errors.</summary>
internal static class DecoderConfig
{
    public static TransformerConfig Read(HuggingFaceConfig c, string architecture)
    {
        int dim = c.Int("hidden_size");
        int heads = c.Int("num_attention_heads");
        int kvHeads = c.Int("num_key_value_heads", heads);
        int? headDim = c.Has("head_dim") ? c.Int("head_dim") : null;
        if (dim <= 0) throw c.Error("hidden_size", $"must be positive (got {dim})");
        if (heads <= 0) throw c.Error("num_attention_heads", $"must be positive (got {heads})");
        if (headDim == null && dim % heads != 0)
            throw c.Error("hidden_size", $"({dim}) is not divisible by 'num_attention_heads' ({heads})");
        if (kvHeads <= 0 || heads % kvHeads != 0)
            throw c.Error("num_key_value_heads", $"({kvHeads}) must divide 'num_attention_heads' ({heads})");
        foreach (var field in new[] { "intermediate_size", "num_hidden_layers", "vocab_size" })
            if (c.Int(field) <= 0) throw c.Error(field, $"must be positive (got {c.Int(field)})");

        var config = new TransformerConfig
        {
            Architecture = architecture,
            Dim = dim,
            HiddenDim = c.Int("intermediate_size"),
            Layers = c.Int("num_hidden_layers"),
            Heads = heads,
            KvHeads = kvHeads,
            HeadDimOverride = headDim,
            VocabSize = c.Int("vocab_size"),
            MaxSeqLen = c.Int("max_position_embeddings", 2048),
            RopeTheta = c.Double("rope_theta", 10000.0),
            Rope = RopeLayout.RotateHalf,
            NormEps = (float)c.Double("rms_norm_eps", 1e-6),
        };
        return ApplyRopeScaling(c, config);
    }

    public static string RequireActivation(HuggingFaceConfig c, string fallback, params string[] supported)
    {
        string act = c.String("hidden_act") ?? fallback;
        if (!supported.Contains(act))
            throw c.Error("hidden_act", $"'{act}' is not supported for this architecture (supported: {string.Join(", ", supported)})");
        return act;
    }

    private static TransformerConfig ApplyRopeScaling(HuggingFaceConfig c, TransformerConfig config)
    {
        var s = c.Object("rope_scaling");
        if (s == null) return config;
        string type = s.String("rope_type") ?? s.String("type") ?? "default";
        return type switch
        {
            "default" => config,
            "linear" => config with { LinearRopeFactor = s.Double("factor") },
            "llama3" => config with
            {
                Llama3Scaling = new Llama3RopeScaling(s.Double("factor"), s.Double("low_freq_factor"), s.Double("high_freq_factor"),
                    s.Int("original_max_position_embeddings")),
            },
            _ => throw c.Error("rope_scaling", $"type '{type}' is not supported (supported: default, linear, llama3)"),
        };
    }
}
