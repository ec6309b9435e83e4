using Sling.Evaluation;
using Sling.Generation;
using Sling.Models;
using Sling.Quantization;
using Sling.Tests.Support;

namespace Sling.Tests.Quantization;

/// <summary>
/// What quantization costs on real trained weights (stories260K in Hugging Face layout), measured
/// on 400 tokens the fp32 model samples at temperature 1 with a fixed seed.
/// </summary>
public class Stories260KQualityTests : IDisposable
{
    private const string Folder = "models/stories260K-hf";
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Source => SharedData.PathOf(Folder);

    private (LoadedModel Reference, IReadOnlyList<int> Tokens) ReferenceAndText()
    {
        var reference = ModelLoader.Load(Source);
        string path = _dir.File("text.txt");
        File.WriteAllText(path, Sample(reference, 2026));
        var tokens = reference.Tokenizer.Encode(File.ReadAllText(path), addBos: true);
        Assert.InRange(tokens.Count, 300, 520);
        return (reference, tokens);
    }

    /// <summary>~400 tokens the reference model writes from nothing, sampling at temperature 1 with <paramref name="seed"/>.</summary>
    private static string Sample(LoadedModel reference, ulong seed) =>
        reference.CreateGenerator().Generate("", new GenerationOptions { Temperature = 1, TopK = 0, TopP = 1, Seed = seed, MaxTokens = 400 }).Text;

    private ModelComparison.Result Quantized(WeightQuantizationConfig config, LoadedModel reference, IReadOnlyList<int> tokens, out LoadedModel model)
    {
        string output = _dir.File($"q{Guid.NewGuid():N}");
        ModelQuantizer.Quantize(Source, output, config);
        model = ModelLoader.Load(output);
        model.Transformer.IntegerActivations = false; // the cost of the weights alone, as NNCF reports it
        return ModelComparison.Compare(model.Transformer, reference.Transformer, tokens, 512, 256);
    }

    [SharedFact(Folder + "/model.safetensors", SharedData.Stories260KExpected)]
    public void Int8EverywhereKeepsTheGreedyTextAndCostsAlmostNothing()
    {
        var (reference, tokens) = ReferenceAndText();
        using (reference)
        {
            var result = Quantized(new WeightQuantizationConfig { Bits = 8, GroupSize = -1, AllLayers = true }, reference, tokens, out var model);
            using (model)
            {
                Assert.All(ModelSummary.Of(model.Transformer).Formats, f => Assert.Equal("int8_asym", f));
                Assert.True(result.MeanKlDivergence <= 0.001, $"mean KL {result.MeanKlDivergence}");
                var greedy = new GenerationOptions { Temperature = 0, MaxTokens = 200 };
                Assert.Equal(File.ReadAllText(SharedData.PathOf(SharedData.Stories260KExpected)), model.CreateGenerator().Generate("", greedy).Text);
            }
        }
    }

    // Measured over ten 400-token texts (seeds 1-8, 42, 2026): with NNCF's min/max scales, int4 asym g32
    // averages KL 0.078 vs 0.080 for sym, but the order flips on 4 of the 10 texts and the worst text
    // (seed 2026, the one fixed below) reaches 0.105; the least-squares scale search brings the mean to
    // 0.069 (sym 0.072) and every text under 0.10. The bar is asserted for the search; both variants
    // must keep asym ahead of sym on this text.
    [SharedFact(Folder + "/model.safetensors")]
    public void Int4AsymmetricGroup32StaysUnderTheKlBarAndBeatsSymmetric()
    {
        var (reference, tokens) = ReferenceAndText();
        using (reference)
        {
            ModelComparison.Result Measure(bool symmetric, bool search)
            {
                var r = Quantized(new WeightQuantizationConfig { Bits = 4, GroupSize = 32, Ratio = 1, Symmetric = symmetric, ScaleSearch = search }, reference, tokens, out var m);
                m.Dispose();
                return r;
            }
            var asym = Measure(false, false);
            var sym = Measure(true, false);
            var asymSearch = Measure(false, true);
            var symSearch = Measure(true, true);
            Assert.True(asymSearch.MeanKlDivergence <= 0.10, $"int4 asym g32 with scale search: mean KL {asymSearch.MeanKlDivergence}");
            Assert.True(asymSearch.MeanKlDivergence < symSearch.MeanKlDivergence, $"asym {asymSearch.MeanKlDivergence} vs sym {symSearch.MeanKlDivergence}");
            Assert.True(asym.MeanKlDivergence < sym.MeanKlDivergence, $"min/max scales: asym {asym.MeanKlDivergence} vs sym {sym.MeanKlDivergence}");
            Assert.True(asymSearch.MeanKlDivergence < asym.MeanKlDivergence, "the scale search must lower the divergence");
            Assert.True(asym.MeanKlDivergence <= 0.11, $"min/max asym: mean KL {asym.MeanKlDivergence}");
            Assert.True(asymSearch.TopOneAgreement > 0.75, $"top-1 agreement {asymSearch.TopOneAgreement}");
        }
    }

    // The integer kernels quantize activations to 8-bit blocks as llama.cpp does: on real weights the
    // perplexity they give stays within 0.5 % of the exact float activations' (int4 g32 and int8).
    // Measured over four sampled texts (~1,600 tokens): over one (~400) the change moved by ±0.2 % with
    // nothing but the kernels' order of rounding (AVX-512 against AVX2, repacked or not), as a flipped
    // activation code cascades through this 8-value-head model.
    [SharedTheory(Folder + "/model.safetensors")]
    [InlineData(4, 32)]
    [InlineData(8, -1)]
    public void IntegerActivationsChangePerplexityByLessThanHalfAPercent(int bits, int group)
    {
        var (reference, tokens) = ReferenceAndText();
        using (reference)
        {
            var text = tokens.ToList();
            foreach (ulong seed in new ulong[] { 7, 11, 13 }) text.AddRange(reference.Tokenizer.Encode(Sample(reference, seed), addBos: true));
            Assert.InRange(text.Count, 1200, 2100);
            Quantized(new WeightQuantizationConfig { Bits = bits, GroupSize = group, Ratio = 1, AllLayers = true }, reference, tokens, out var model);
            using (model)
            {
                double exact = Perplexity.Compute(model.Transformer, text, 512, 256).Perplexity;
                model.Transformer.IntegerActivations = true;
                double integer = Perplexity.Compute(model.Transformer, text, 512, 256).Perplexity;
                Assert.True(Math.Abs(integer - exact) / exact < 0.005, $"perplexity {exact:F6} with float activations, {integer:F6} with int8 blocks");
                Assert.NotEqual(exact, integer); // the integer path really ran
            }
        }
    }

    // The int8 key/value cache on a real trained model: perplexity within 2 % of the fp32 cache's. This
    // model's heads have 8 values, its scores are sharp: measured +1.25 % (5.321 -> 5.388), the same as
    // rounding an fp32 cache through int8 in float64 gives (5.386); the fp16 cache moves it by 0.02 %.
    [SharedFact(Folder + "/model.safetensors")]
    public void AnInt8CacheChangesPerplexityByLessThanTwoPercent()
    {
        var (reference, tokens) = ReferenceAndText();
        using (reference)
        {
            double exact = Perplexity.Compute(reference.Transformer, tokens, 512, 256).Perplexity;
            reference.Transformer.CachePrecision = KvCachePrecision.Int8;
            double int8 = Perplexity.Compute(reference.Transformer, tokens, 512, 256).Perplexity;
            Assert.True(Math.Abs(int8 - exact) / exact < 0.02, $"perplexity {exact:F4} with the fp32 cache, {int8:F4} with the int8 cache");
            Assert.NotEqual(exact, int8); // the int8 cache really ran
        }
    }
}
