using System.Text.Json;
using Sling.Formats;
using Sling.Generation;
using Sling.Models;
using Sling.Tests.Support;

namespace Sling.Tests.Models;

/// <summary>
/// Every tiny Hugging Face folder in ../shared/models/hf-tiny against logits that a float64 pass of
/// the transformers modeling definitions produced from the same stored weights.
/// </summary>
public class HuggingFaceGoldenTests
{
    public static TheoryData<string> Folders()
    {
        var data = new TheoryData<string>();
        // Always the architectures the product promises; more folders are picked up when they appear.
        var names = new SortedSet<string> { "llama", "llama3-rope-scaling", "mistral", "qwen2", "phi", "phi3" };
        if (SharedData.Has("models/hf-tiny"))
            foreach (var d in Directory.GetDirectories(SharedData.PathOf("models/hf-tiny")))
                if (File.Exists(Path.Combine(d, "golden.json"))) names.Add(Path.GetFileName(d));
        foreach (var n in names) data.Add(n);
        return data;
    }

    [SharedTheory("models/hf-tiny")]
    [MemberData(nameof(Folders))]
    public void LogitsAtEveryPositionMatchTheReference(string name)
    {
        string folder = SharedData.PathOf($"models/hf-tiny/{name}");
        Assert.True(Directory.Exists(folder), $"{folder} is missing");
        using var golden = SafeTensorsFile.Open(Path.Combine(folder, "golden.safetensors"));
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "golden.json")));
        int[] ids = json.RootElement.GetProperty("input_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        float[] reference = golden.ReadFloats("logits");
        using var model = ModelLoader.LoadTransformer(folder);
        int vocab = model.Config.VocabSize;
        Assert.Equal(ids.Length * vocab, reference.Length);

        // Token by token, and in uneven batches (5, 5, 5, 5, 4 of 24 tokens): both must match.
        Check(Engine.Logits(model, ids), "one token at a time");
        Check(Engine.BatchLogits(model, ids, 5), "batches of 5");

        void Check(float[][] actual, string how)
        {
        double num = 0, den = 0;
        for (int p = 0; p < ids.Length; p++)
            for (int v = 0; v < vocab; v++)
            {
                double d = actual[p][v] - reference[p * vocab + v];
                num += d * d;
                den += (double)reference[p * vocab + v] * reference[p * vocab + v];
            }
        double error = Math.Sqrt(num / den);
        Assert.True(error < 1e-4, $"{name}, {how}: relative L2 error {error:E2}");
        }
    }

    // An fp16 key/value cache halves the cache's memory; its rounding (~5e-4 per value) stays far below
    // what changes a model's answer, and is really applied (the logits differ from the fp32 cache's).
    [SharedTheory("models/hf-tiny")]
    [MemberData(nameof(Folders))]
    public void AnFp16CacheStaysCloseToTheReference(string name)
    {
        string folder = SharedData.PathOf($"models/hf-tiny/{name}");
        using var golden = SafeTensorsFile.Open(Path.Combine(folder, "golden.safetensors"));
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "golden.json")));
        int[] ids = json.RootElement.GetProperty("input_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var reference = golden.ReadFloats("logits");
        using var model = ModelLoader.LoadTransformer(folder);
        var exact = Engine.BatchLogits(model, ids, 8);
        model.CachePrecision = KvCachePrecision.F16;
        Assert.Equal(model.CreateState(64).CacheBytes * 2, model.CreateState(64, cachePrecision: KvCachePrecision.F32).CacheBytes);
        var half = Engine.BatchLogits(model, ids, 8);
        double error = ReferenceLlama.RelativeL2(Enumerable.Range(0, ids.Length).Select(p => reference.Skip(p * model.Config.VocabSize).Take(model.Config.VocabSize).Select(v => (double)v).ToArray()).ToArray(), half);
        Assert.True(error < 5e-3, $"{name}: fp16 cache relative L2 {error:E2}");
        Assert.NotEqual(exact.SelectMany(r => r), half.SelectMany(r => r));
    }

    // An int8 key/value cache (a code per value, a float scale per position and head) takes a little
    // over a quarter of the fp32 cache's memory; its rounding (up to 1/254 of each head's largest
    // value) keeps the logits close to the reference, and is really applied.
    [SharedTheory("models/hf-tiny")]
    [MemberData(nameof(Folders))]
    public void AnInt8CacheStaysCloseToTheReference(string name)
    {
        string folder = SharedData.PathOf($"models/hf-tiny/{name}");
        using var golden = SafeTensorsFile.Open(Path.Combine(folder, "golden.safetensors"));
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "golden.json")));
        int[] ids = json.RootElement.GetProperty("input_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var reference = golden.ReadFloats("logits");
        using var model = ModelLoader.LoadTransformer(folder);
        var exact = Engine.BatchLogits(model, ids, 8);
        model.CachePrecision = KvCachePrecision.Int8;
        var c = model.Config;
        long perPosition = 2L * c.Layers * (c.KvDim + c.KvDim / c.HeadDim * sizeof(float));
        Assert.Equal(64 * perPosition, model.CreateState(64).CacheBytes);
        var quantized = Engine.BatchLogits(model, ids, 8);
        var expected = Enumerable.Range(0, ids.Length).Select(p => reference.Skip(p * c.VocabSize).Take(c.VocabSize).Select(v => (double)v).ToArray()).ToArray();
        double error = ReferenceLlama.RelativeL2(expected, quantized), exactError = ReferenceLlama.RelativeL2(expected, exact);
        Assert.True(error < 1e-2, $"{name}: int8 cache relative L2 {error:E2}");
        Assert.True(error > exactError, $"{name}: the int8 cache's error {error:E2} is not above the fp32 cache's {exactError:E2}");
    }

    [SharedFact("models/stories260K-hf/model.safetensors", SharedData.Stories260KExpected)]
    public void Stories260KInHuggingFaceLayoutGreedyMatchesTheReferenceText()
    {
        using var model = ModelLoader.Load(SharedData.PathOf("models/stories260K-hf"));
        Assert.IsType<Sling.Tokenization.Llama2cTokenizer>(model.Tokenizer);
        var result = model.CreateGenerator().Generate("", new GenerationOptions { Temperature = 0, MaxTokens = 200 });
        Assert.Equal(File.ReadAllText(SharedData.PathOf(SharedData.Stories260KExpected)), result.Text);
        Assert.Equal(RopeLayout.RotateHalf, model.Config.Rope);
    }
}
