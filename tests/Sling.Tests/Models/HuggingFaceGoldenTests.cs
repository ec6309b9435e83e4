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

    // A compressed key/value cache against the golden logits: fp16 halves the cache's memory, its
    // rounding (~5e-4 per value) stays far below what changes an answer; int8 (a code per value, a float
    // scale per position and head) takes a little over a quarter, its rounding (up to 1/254 of each
    // head's largest value) stays within 1e-2. Both are really applied (the error is above the fp32
    // cache's).
    [SharedTheory("models/hf-tiny")]
    [MemberData(nameof(Folders))]
    public void CompressedCachesStayCloseToTheReference(string name)
    {
        string folder = SharedData.PathOf($"models/hf-tiny/{name}");
        using var golden = SafeTensorsFile.Open(Path.Combine(folder, "golden.safetensors"));
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "golden.json")));
        int[] ids = json.RootElement.GetProperty("input_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var reference = golden.ReadFloats("logits");
        using var model = ModelLoader.LoadTransformer(folder);
        var c = model.Config;
        var expected = Enumerable.Range(0, ids.Length).Select(p => reference.Skip(p * c.VocabSize).Take(c.VocabSize).Select(v => (double)v).ToArray()).ToArray();
        double exactError = ReferenceLlama.RelativeL2(expected, Engine.BatchLogits(model, ids, 8));
        long f32Bytes = model.CreateState(64).CacheBytes;
        foreach (var (precision, bytes, bound) in new[]
        {
            (KvCachePrecision.F16, f32Bytes / 2, 5e-3),
            (KvCachePrecision.Int8, 64 * 2L * c.Layers * (c.KvDim + c.KvDim / c.HeadDim * sizeof(float)), 1e-2),
        })
        {
            model.CachePrecision = precision;
            Assert.Equal(bytes, model.CreateState(64).CacheBytes);
            double error = ReferenceLlama.RelativeL2(expected, Engine.BatchLogits(model, ids, 8));
            Assert.True(error < bound, $"{name}: {precision} cache relative L2 {error:E2}");
            Assert.True(error > exactError, $"{name}: the {precision} cache's error {error:E2} is not above the fp32 cache's {exactError:E2}");
        }
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
