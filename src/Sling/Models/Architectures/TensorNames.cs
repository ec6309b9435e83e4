namespace Sling.Models.Architectures;

/// <summary>What a tensor is in the model, whichever file it comes from (llama.cpp's LLM_TENSOR_*).</summary>
internal enum TensorRole
{
    Embedding, AttentionNorm, Query, Key, Value, QueryKeyValue, AttentionOutput,
    MlpNorm, Gate, Up, GateUp, Down, FinalNorm, Output,
}

/// <summary>
/// One architecture family's tensor names: for each role its Hugging Face name and its GGUF name
/// (<c>{i}</c> stands for the layer; <c>.weight</c>/<c>.bias</c> are added by the reader), which
/// biases the family requires, and the config fields behind each shape (for errors). One table
/// per family feeds the Hugging Face loader, the GGUF loader and exporter, and the quantizer.
/// </summary>
internal sealed class TensorNames
{
    readonly Dictionary<TensorRole, (string HuggingFace, string Gguf)> _names;

    TensorNames(string family, Dictionary<TensorRole, (string, string)> names, params TensorRole[] requiredBiases)
    {
        Family = family;
        _names = names;
        RequiredBiases = requiredBiases;
    }

    public string Family { get; }

    /// <summary>Roles whose bias the family's checkpoints always carry (others are optional).</summary>
    public IReadOnlyCollection<TensorRole> RequiredBiases { get; }

    public bool Knows(TensorRole role) => _names.ContainsKey(role);

    public string HuggingFace(TensorRole role, int layer = -1) => Fill(_names[role].HuggingFace, layer);

    public string Gguf(TensorRole role, int layer = -1) => Fill(_names[role].Gguf, layer);

    static string Fill(string pattern, int layer) => layer < 0 ? pattern : pattern.Replace("{i}", layer.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);

    static Dictionary<TensorRole, (string, string)> Common() => new()
    {
        [TensorRole.Embedding] = ("model.embed_tokens", "token_embd"),
        [TensorRole.AttentionNorm] = ("model.layers.{i}.input_layernorm", "blk.{i}.attn_norm"),
        [TensorRole.Query] = ("model.layers.{i}.self_attn.q_proj", "blk.{i}.attn_q"),
        [TensorRole.Key] = ("model.layers.{i}.self_attn.k_proj", "blk.{i}.attn_k"),
        [TensorRole.Value] = ("model.layers.{i}.self_attn.v_proj", "blk.{i}.attn_v"),
        [TensorRole.AttentionOutput] = ("model.layers.{i}.self_attn.o_proj", "blk.{i}.attn_output"),
        [TensorRole.MlpNorm] = ("model.layers.{i}.post_attention_layernorm", "blk.{i}.ffn_norm"),
        [TensorRole.Gate] = ("model.layers.{i}.mlp.gate_proj", "blk.{i}.ffn_gate"),
        [TensorRole.Up] = ("model.layers.{i}.mlp.up_proj", "blk.{i}.ffn_up"),
        [TensorRole.Down] = ("model.layers.{i}.mlp.down_proj", "blk.{i}.ffn_down"),
        [TensorRole.FinalNorm] = ("model.norm", "output_norm"),
        [TensorRole.Output] = ("lm_head", "output"),
    };

    /// <summary>Llama, Mistral, Qwen2 (q/k/v biases optional), SmolLM, TinyLlama.</summary>
    public static TensorNames Llama { get; } = new("llama", Common());

    /// <summary>Phi-1/1.5/2: dense, fc1/fc2, final_layernorm; every projection has a bias; q/k/v may be fused in GGUF.</summary>
    public static TensorNames Phi { get; } = new("phi", With(Common(), new()
    {
        [TensorRole.AttentionOutput] = ("model.layers.{i}.self_attn.dense", "blk.{i}.attn_output"),
        [TensorRole.Up] = ("model.layers.{i}.mlp.fc1", "blk.{i}.ffn_up"),
        [TensorRole.Down] = ("model.layers.{i}.mlp.fc2", "blk.{i}.ffn_down"),
        [TensorRole.FinalNorm] = ("model.final_layernorm", "output_norm"),
        [TensorRole.QueryKeyValue] = ("model.layers.{i}.self_attn.qkv_proj", "blk.{i}.attn_qkv"),
    }), TensorRole.Query, TensorRole.Key, TensorRole.Value, TensorRole.QueryKeyValue, TensorRole.AttentionOutput, TensorRole.Up, TensorRole.Down);

    /// <summary>Phi-3: q/k/v fused in qkv_proj, gate and up fused in gate_up_proj (GGUF: attn_qkv, ffn_up).</summary>
    public static TensorNames Phi3 { get; } = new("phi3", With(Common(), new()
    {
        [TensorRole.QueryKeyValue] = ("model.layers.{i}.self_attn.qkv_proj", "blk.{i}.attn_qkv"),
        [TensorRole.GateUp] = ("model.layers.{i}.mlp.gate_up_proj", "blk.{i}.ffn_up"),
    }));

    static Dictionary<TensorRole, (string, string)> With(Dictionary<TensorRole, (string, string)> names, Dictionary<TensorRole, (string, string)> changes)
    {
        foreach (var (role, name) in changes) names[role] = name;
        return names;
    }

    public static IReadOnlyList<TensorNames> All { get; } = [Llama, Phi, Phi3];

    /// <summary>The role of a Hugging Face tensor name (with .weight/.bias) in any family's table; null for none.</summary>
    public static TensorRole? RoleOfHuggingFace(string name)
    {
        string stem = name.EndsWith(".weight", StringComparison.Ordinal) ? name[..^7] : name.EndsWith(".bias", StringComparison.Ordinal) ? name[..^5] : name;
        foreach (var table in All)
            foreach (var (role, (hf, _)) in table._names)
                if (Matches(hf, stem)) return role;
        return null;
    }

    static bool Matches(string pattern, string name)
    {
        int at = pattern.IndexOf("{i}", StringComparison.Ordinal);
        if (at < 0) return pattern == name;
        string head = pattern[..at], tail = pattern[(at + 3)..];
        return name.Length > head.Length + tail.Length && name.StartsWith(head, StringComparison.Ordinal) && name.EndsWith(tail, StringComparison.Ordinal)
               && name[head.Length..^tail.Length].All(char.IsAsciiDigit);
    }

    /// <summary>The config.json fields behind a role's shape, for errors.</summary>
    public static string ShapeFields(TensorRole role) => role switch
    {
        TensorRole.Embedding or TensorRole.Output => "vocab_size, hidden_size",
        TensorRole.Query => "num_attention_heads × head_dim, hidden_size",
        TensorRole.Key or TensorRole.Value => "num_key_value_heads × head_dim, hidden_size",
        TensorRole.QueryKeyValue => "(num_attention_heads + 2 × num_key_value_heads) × head_dim, hidden_size",
        TensorRole.AttentionOutput => "hidden_size, num_attention_heads × head_dim",
        TensorRole.Gate or TensorRole.Up => "intermediate_size, hidden_size",
        TensorRole.GateUp => "2 × intermediate_size, hidden_size",
        TensorRole.Down => "hidden_size, intermediate_size",
        _ => "hidden_size",
    };
}
