using System.Text.Json.Nodes;
using Sling.Formats;
using Sling.Models;
using Sling.Tests.Support;

namespace Sling.Tests.Models;

public class HuggingFaceLoaderTests
{
    private static (TempDirectory Dir, TinyLlama Model) Folder(int shards = 1, bool shared = false)
    {
        var dir = new TempDirectory();
        var m = TinyLlama.Random(21, shared: shared);
        HuggingFaceWriter.WriteLlama(dir.Path, m, shards);
        return (dir, m);
    }

    private static string LoadFails(string folder)
        => Assert.ThrowsAny<SlingException>(() => ModelLoader.LoadTransformer(folder).Dispose()).Message;

    [Theory]
    [InlineData(1, false)]
    [InlineData(3, true)]
    public void SingleAndShardedFoldersMatchTheFloat64Reference(int shards, bool shared)
    {
        var (dir, m) = Folder(shards, shared);
        using (dir)
        {
            using var model = ModelLoader.LoadTransformer(dir.Path);
            var tokens = Engine.RandomTokens(4, m.SeqLen, m.Vocab);
            Assert.True(ReferenceLlama.RelativeL2(ReferenceLlama.Logits(m, tokens), Engine.Logits(model, tokens)) < 1e-5);
            Assert.Equal(RopeLayout.RotateHalf, model.Config.Rope);
        }
    }

    [Fact]
    public void MissingConfigFieldIsNamed()
    {
        var (dir, _) = Folder();
        using (dir)
        {
            HuggingFaceWriter.EditConfig(dir.Path, c => c.Remove("hidden_size"));
            var message = LoadFails(dir.Path);
            Assert.Contains("config.json", message);
            Assert.Contains("'hidden_size'", message);
        }
    }

    [Theory]
    [InlineData("num_attention_heads", 5, "not divisible by 'num_attention_heads'")]
    [InlineData("num_key_value_heads", 3, "must divide 'num_attention_heads'")]
    [InlineData("hidden_size", "big", "must be an integer")]
    [InlineData("num_hidden_layers", 0, "must be positive")]
    public void InconsistentConfigFieldsAreNamed(string field, object value, string expected)
    {
        var (dir, _) = Folder();
        using (dir)
        {
            HuggingFaceWriter.EditConfig(dir.Path, c => c[field] = JsonValue.Create(value));
            var message = LoadFails(dir.Path);
            Assert.Contains($"'{field}'", message);
            Assert.Contains(expected, message);
        }
    }

    [Fact]
    public void ShapesThatDoNotMatchTheTensorsNameTheTensorAndFile()
    {
        var (dir, _) = Folder();
        using (dir)
        {
            HuggingFaceWriter.EditConfig(dir.Path, c => c["intermediate_size"] = 50);
            var message = LoadFails(dir.Path);
            Assert.Contains("model.safetensors", message);
            Assert.Contains("mlp.gate_proj.weight", message);
            Assert.Contains("intermediate_size", message);
        }
    }

    [Fact]
    public void ShardIndexPointingAtAMissingFileIsNamed()
    {
        var (dir, _) = Folder(shards: 2);
        using (dir)
        {
            File.Delete(dir.File("model-00002-of-00002.safetensors"));
            var message = LoadFails(dir.Path);
            Assert.Contains("model.safetensors.index.json", message);
            Assert.Contains("model-00002-of-00002.safetensors", message);
        }
    }

    [Fact]
    public void TensorRunningPastTheEndOfItsFileIsNamed()
    {
        var (dir, _) = Folder();
        using (dir)
        {
            string path = dir.File("model.safetensors");
            var bytes = File.ReadAllBytes(path);
            File.WriteAllBytes(path, bytes[..^64]);
            var message = LoadFails(dir.Path);
            Assert.Contains(path, message);
            Assert.Contains("past the end", message);
        }
    }

    [Fact]
    public void UnknownDtypeIsNamed()
    {
        var (dir, _) = Folder();
        using (dir)
        {
            string path = dir.File("model.safetensors");
            var bytes = File.ReadAllBytes(path);
            // Same-length substitution inside the JSON header keeps every offset valid.
            var text = System.Text.Encoding.Latin1.GetString(bytes);
            int at = text.IndexOf("\"F32\"", StringComparison.Ordinal);
            System.Text.Encoding.Latin1.GetBytes("\"Q77\"").CopyTo(bytes, at);
            File.WriteAllBytes(path, bytes);
            var message = LoadFails(dir.Path);
            Assert.Contains("unsupported dtype 'Q77'", message);
            Assert.Contains(path, message);
        }
    }

    [Fact]
    public void UnknownArchitectureNamesItAndTheSupportedList()
    {
        var (dir, _) = Folder();
        using (dir)
        {
            HuggingFaceWriter.EditConfig(dir.Path, c => { c["architectures"] = new JsonArray("GPTBigCodeForCausalLM"); c["model_type"] = "gpt_bigcode"; });
            var message = LoadFails(dir.Path);
            Assert.Contains("GPTBigCodeForCausalLM", message);
            Assert.Contains("LlamaForCausalLM", message);
            Assert.Contains("PhiForCausalLM", message);
            Assert.Contains("Phi3ForCausalLM", message);
        }
    }

    [Theory]
    [InlineData("hidden_act", "relu", "'relu' is not supported")]
    [InlineData("rope_scaling", "{\"rope_type\":\"yarn\",\"factor\":4}", "type 'yarn' is not supported")]
    public void UnsupportedVariantsAreNamed(string field, string value, string expected)
    {
        var (dir, _) = Folder();
        using (dir)
        {
            HuggingFaceWriter.EditConfig(dir.Path, c => c[field] = value.StartsWith('{') ? JsonNode.Parse(value) : JsonValue.Create(value));
            Assert.Contains(expected, LoadFails(dir.Path));
        }
    }

    [Fact]
    public void UntiedModelWithoutLmHeadIsRejected()
    {
        var (dir, _) = Folder(shared: true);
        using (dir)
        {
            HuggingFaceWriter.EditConfig(dir.Path, c => c["tie_word_embeddings"] = false);
            Assert.Contains("lm_head.weight", LoadFails(dir.Path));
        }
    }

    [Fact]
    public void MalformedConfigJsonIsNamed()
    {
        var (dir, _) = Folder();
        using (dir)
        {
            File.WriteAllText(dir.File("config.json"), "{\"hidden_size\": 64,");
            var message = LoadFails(dir.Path);
            Assert.Contains("config.json", message);
            Assert.Contains("not valid JSON", message);
        }
    }

    [Fact]
    public void FolderWithoutConfigIsRejected()
    {
        using var dir = new TempDirectory();
        Assert.Contains("config.json", LoadFails(dir.Path));
    }
}
