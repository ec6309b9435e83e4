using Sling.Models.Architectures;

namespace Sling.Tests.Models;

public class TensorNamesTests
{
    [Theory]
    [InlineData("model.embed_tokens.weight", "Embedding")]
    [InlineData("lm_head.weight", "Output")]
    [InlineData("model.layers.12.self_attn.q_proj.weight", "Query")]
    [InlineData("model.layers.0.self_attn.q_proj.bias", "Query")]
    [InlineData("model.layers.3.self_attn.dense.weight", "AttentionOutput")]
    [InlineData("model.layers.3.mlp.fc1.weight", "Up")]
    [InlineData("model.layers.7.mlp.gate_up_proj.weight", "GateUp")]
    [InlineData("model.layers.7.self_attn.qkv_proj.weight", "QueryKeyValue")]
    [InlineData("model.final_layernorm.weight", "FinalNorm")]
    [InlineData("model.layers.1.post_attention_layernorm.weight", "MlpNorm")]
    public void HuggingFaceNamesHaveTheirRoles(string name, string role) => Assert.Equal(Enum.Parse<TensorRole>(role), TensorNames.RoleOfHuggingFace(name));

    [Theory]
    [InlineData("model.layers.x.self_attn.q_proj.weight")]
    [InlineData("model.layers.1.self_attn.q_proj.extra.weight")]
    [InlineData("transformer.h.0.attn.weight")]
    public void OtherNamesHaveNone(string name) => Assert.Null(TensorNames.RoleOfHuggingFace(name));

    [Fact]
    public void EachFamilyNamesItsTensorsAsBothFormatsDo()
    {
        Assert.Equal("blk.4.attn_q", TensorNames.Llama.Gguf(TensorRole.Query, 4));
        Assert.Equal("model.layers.4.mlp.down_proj", TensorNames.Llama.HuggingFace(TensorRole.Down, 4));
        Assert.Equal("blk.0.ffn_up", TensorNames.Phi3.Gguf(TensorRole.GateUp, 0)); // phi3 keeps gate‖up in ffn_up
        Assert.Equal("model.layers.0.mlp.fc2", TensorNames.Phi.HuggingFace(TensorRole.Down, 0));
        Assert.Equal("output_norm", TensorNames.Phi.Gguf(TensorRole.FinalNorm));
        Assert.False(TensorNames.Llama.Knows(TensorRole.GateUp));
        Assert.Contains(TensorRole.Query, TensorNames.Phi.RequiredBiases);
        Assert.Empty(TensorNames.Llama.RequiredBiases);
    }
}
