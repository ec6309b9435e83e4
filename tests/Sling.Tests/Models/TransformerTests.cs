using Sling.Formats;
using Sling.Kernels;
using Sling.Models;
using Sling.Tests.Support;

namespace Sling.Tests.Models;

/// <summary>The fp32 engine against the float64 scalar reference, through every llama2.c layout.</summary>
public class TransformerTests
{
    private static double CompareWithReference(TinyLlama written, TinyLlama truth, Action<string, TinyLlama> write, int threads = 0)
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.bin");
        write(path, written);
        using var model = Llama2cCheckpoint.Load(path, ComputePool.Get(threads));
        var tokens = Engine.RandomTokens(7, truth.SeqLen, truth.Vocab);
        return ReferenceLlama.RelativeL2(ReferenceLlama.Logits(truth, tokens), Engine.Logits(model, tokens));
    }

    [Theory]
    [InlineData(true, 4, 2)]   // grouped-query attention, shared classifier
    [InlineData(false, 4, 4)]  // multi-head attention, separate classifier (negative vocab_size)
    [InlineData(true, 4, 1)]   // multi-query attention
    public void LegacyCheckpointMatchesFloat64Reference(bool shared, int heads, int kvHeads)
    {
        var m = TinyLlama.Random(1, heads: heads, kvHeads: kvHeads, shared: shared);
        Assert.True(CompareWithReference(m, m, Llama2cWriter.WriteLegacy) < 1e-5);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Version1CheckpointMatchesFloat64Reference(bool shared)
    {
        var m = TinyLlama.Random(2, shared: shared);
        Assert.True(CompareWithReference(m, m, Llama2cWriter.WriteVersion1) < 1e-5);
    }

    [Theory]
    [InlineData(true, 16)]
    [InlineData(false, 8)]
    public void Version2Int8CheckpointMatchesReferenceOfItsDequantizedWeights(bool shared, int groupSize)
    {
        var m = TinyLlama.Random(3, shared: shared);
        TinyLlama stored = null!;
        double error = CompareWithReference(m, m, (p, w) => stored = Llama2cWriter.WriteVersion2(p, w, groupSize));
        using var dir = new TempDirectory();
        string path = dir.File("q.bin");
        Llama2cWriter.WriteVersion2(path, m, groupSize);
        using var model = Llama2cCheckpoint.Load(path, ComputePool.Get(0));
        var tokens = Engine.RandomTokens(7, m.SeqLen, m.Vocab);
        // Exact up to fp32 rounding against what the file really holds...
        Assert.True(ReferenceLlama.RelativeL2(ReferenceLlama.Logits(stored, tokens), Engine.Logits(model, tokens)) < 1e-5);
        // ...and close to, but not the same as, the unquantized model.
        Assert.InRange(error, 1e-5, 0.05);
    }

    [Fact]
    public void ParallelAndSingleThreadedRunsGiveIdenticalLogits()
    {
        // Large enough that the matrix-vector products really fork.
        var m = TinyLlama.Random(4, dim: 256, hidden: 384, heads: 8, kvHeads: 4, vocab: 300, seqLen: 6);
        using var dir = new TempDirectory();
        string path = dir.File("m.bin");
        Llama2cWriter.WriteVersion1(path, m);
        using var one = Llama2cCheckpoint.Load(path, ComputePool.Get(1));
        using var many = Llama2cCheckpoint.Load(path, ComputePool.Get(4));
        var tokens = Engine.RandomTokens(9, 6, m.Vocab);
        var a = Engine.Logits(one, tokens);
        var b = Engine.Logits(many, tokens);
        for (int p = 0; p < tokens.Length; p++) Assert.Equal(a[p], b[p]);
        Assert.True(ReferenceLlama.RelativeL2(ReferenceLlama.Logits(m, tokens), b) < 1e-5);
    }

    [Fact]
    public void RotateHalfLayoutWithPermutedWeightsEqualsInterleavedLayout()
    {
        // Hugging Face's converter permutes the q/k rows of each head so that the pair (2i, 2i+1)
        // lands at (i, i + d/2); rotating halves must then give the same model.
        var m = TinyLlama.Random(5);
        var tokens = Engine.RandomTokens(3, m.SeqLen, m.Vocab);
        using var interleaved = Build(m, RopeLayout.Interleaved, permute: false);
        using var rotateHalf = Build(m, RopeLayout.RotateHalf, permute: true);
        using var wrong = Build(m, RopeLayout.RotateHalf, permute: false);
        var reference = ReferenceLlama.Logits(m, tokens);
        Assert.True(ReferenceLlama.RelativeL2(reference, Engine.Logits(interleaved, tokens)) < 1e-5);
        Assert.True(ReferenceLlama.RelativeL2(reference, Engine.Logits(rotateHalf, tokens)) < 1e-5);
        Assert.True(ReferenceLlama.RelativeL2(reference, Engine.Logits(wrong, tokens)) > 1e-2);
    }

    private static Transformer Build(TinyLlama m, RopeLayout layout, bool permute)
    {
        WeightMatrix M(double[][] rows) => F32Matrix.FromArray(rows.SelectMany(r => r.Select(v => (float)v)).ToArray(), rows.Length, rows[0].Length);
        float[] V(double[] v) => v.Select(x => (float)x).ToArray();
        var config = new TransformerConfig
        {
            Architecture = "test", Dim = m.Dim, HiddenDim = m.Hidden, Layers = m.Layers, Heads = m.Heads, KvHeads = m.KvHeads,
            VocabSize = m.Vocab, MaxSeqLen = m.SeqLen, Rope = layout,
        };
        var embedding = M(m.Embedding);
        var weights = new TransformerWeights
        {
            Embedding = embedding,
            FinalNorm = new NormWeights(V(m.FinalNorm), null),
            Classifier = new Linear(m.Classifier == null ? embedding : M(m.Classifier)),
            Layers = Enumerable.Range(0, m.Layers).Select(l => new LayerWeights
            {
                AttentionNorm = new NormWeights(V(m.AttNorm[l]), null),
                MlpNorm = new NormWeights(V(m.FfnNorm[l]), null),
                Query = new Linear(M(permute ? HuggingFaceWriter.PermuteForRotateHalf(m.Wq[l], m.Heads) : m.Wq[l])),
                Key = new Linear(M(permute ? HuggingFaceWriter.PermuteForRotateHalf(m.Wk[l], m.KvHeads) : m.Wk[l])),
                Value = new Linear(M(m.Wv[l])),
                Output = new Linear(M(m.Wo[l])),
                Gate = new Linear(M(m.W1[l])),
                Up = new Linear(M(m.W3[l])),
                Down = new Linear(M(m.W2[l])),
            }).ToArray(),
        };
        weights.Validate(config, "test");
        return new Transformer(config, weights, ComputePool.Get(1));
    }
}
