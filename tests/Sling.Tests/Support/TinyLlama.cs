namespace Sling.Tests.Support;

/// <summary>
/// A small Llama-architecture model with random weights, held in double precision (values are
/// rounded to float first, since files store fp32). Rows are outputs, as in llama2.c and PyTorch.
/// </summary>
public sealed class TinyLlama
{
    public int Dim, Hidden, Layers, Heads, KvHeads, Vocab, SeqLen;
    public bool SharedClassifier;
    public double[][] Embedding = [];            // [vocab][dim]
    public double[][] AttNorm = [], FfnNorm = [];
    public double[][][] Wq = [], Wk = [], Wv = [], Wo = [], W1 = [], W2 = [], W3 = [];
    public double[] FinalNorm = [];
    public double[][]? Classifier;               // null when shared with the embedding

    public int HeadDim => Dim / Heads;
    public double[][] ClassifierOrEmbedding => Classifier ?? Embedding;

    public static TinyLlama Random(int seed, int dim = 32, int hidden = 48, int layers = 2, int heads = 4, int kvHeads = 2,
        int vocab = 40, int seqLen = 16, bool shared = true)
    {
        var rng = new System.Random(seed);
        double R(double scale) => (float)((rng.NextDouble() * 2 - 1) * scale);
        double[] Vec(int n, double center, double scale) => Enumerable.Range(0, n).Select(_ => (double)(float)(center + R(scale))).ToArray();
        double[][] Mat(int rows, int cols) => Enumerable.Range(0, rows).Select(_ => Enumerable.Range(0, cols).Select(_ => R(1.0 / Math.Sqrt(cols))).ToArray()).ToArray();
        int hd = dim / heads;
        var m = new TinyLlama
        {
            Dim = dim, Hidden = hidden, Layers = layers, Heads = heads, KvHeads = kvHeads, Vocab = vocab, SeqLen = seqLen,
            SharedClassifier = shared,
            Embedding = Mat(vocab, dim).Select(r => r.Select(v => v * 4).ToArray()).ToArray(),
            AttNorm = Enumerable.Range(0, layers).Select(_ => Vec(dim, 1, 0.2)).ToArray(),
            FfnNorm = Enumerable.Range(0, layers).Select(_ => Vec(dim, 1, 0.2)).ToArray(),
            Wq = Enumerable.Range(0, layers).Select(_ => Mat(heads * hd, dim)).ToArray(),
            Wk = Enumerable.Range(0, layers).Select(_ => Mat(kvHeads * hd, dim)).ToArray(),
            Wv = Enumerable.Range(0, layers).Select(_ => Mat(kvHeads * hd, dim)).ToArray(),
            Wo = Enumerable.Range(0, layers).Select(_ => Mat(dim, heads * hd)).ToArray(),
            W1 = Enumerable.Range(0, layers).Select(_ => Mat(hidden, dim)).ToArray(),
            W2 = Enumerable.Range(0, layers).Select(_ => Mat(dim, hidden)).ToArray(),
            W3 = Enumerable.Range(0, layers).Select(_ => Mat(hidden, dim)).ToArray(),
            FinalNorm = Vec(dim, 1, 0.2),
        };
        if (!shared) m.Classifier = Mat(vocab, dim);
        return m;
    }

    /// <summary>The same model with every matrix replaced by <paramref name="f"/>(matrix).</summary>
    public TinyLlama MapMatrices(Func<double[][], double[][]> f)
    {
        var c = (TinyLlama)MemberwiseClone();
        c.Embedding = f(Embedding);
        c.Wq = Wq.Select(f).ToArray(); c.Wk = Wk.Select(f).ToArray(); c.Wv = Wv.Select(f).ToArray(); c.Wo = Wo.Select(f).ToArray();
        c.W1 = W1.Select(f).ToArray(); c.W2 = W2.Select(f).ToArray(); c.W3 = W3.Select(f).ToArray();
        if (Classifier != null) c.Classifier = f(Classifier);
        return c;
    }
}
