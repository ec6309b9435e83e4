namespace Sling.Tests.Support;

/// <summary>Reads a legacy llama2.c checkpoint into a <see cref="TinyLlama"/> (independently of the engine's reader).</summary>
public static class Llama2cReader
{
    public static TinyLlama ReadLegacy(string path)
    {
        using var r = new BinaryReader(File.OpenRead(path));
        var h = Enumerable.Range(0, 7).Select(_ => r.ReadInt32()).ToArray();
        var m = new TinyLlama
        {
            Dim = h[0], Hidden = h[1], Layers = h[2], Heads = h[3], KvHeads = h[4], Vocab = Math.Abs(h[5]), SeqLen = h[6],
            SharedClassifier = h[5] > 0,
        };
        int kvDim = m.KvHeads * m.HeadDim;
        double[] Vec(int n) => Enumerable.Range(0, n).Select(_ => (double)r.ReadSingle()).ToArray();
        double[][] Mat(int rows, int cols) => Enumerable.Range(0, rows).Select(_ => Vec(cols)).ToArray();
        double[][][] Mats(int rows, int cols) => Enumerable.Range(0, m.Layers).Select(_ => Mat(rows, cols)).ToArray();
        m.Embedding = Mat(m.Vocab, m.Dim);
        m.AttNorm = Mat(m.Layers, m.Dim);
        m.Wq = Mats(m.Dim, m.Dim);
        m.Wk = Mats(kvDim, m.Dim);
        m.Wv = Mats(kvDim, m.Dim);
        m.Wo = Mats(m.Dim, m.Dim);
        m.FfnNorm = Mat(m.Layers, m.Dim);
        m.W1 = Mats(m.Hidden, m.Dim);
        m.W2 = Mats(m.Dim, m.Hidden);
        m.W3 = Mats(m.Hidden, m.Dim);
        m.FinalNorm = Vec(m.Dim);
        r.BaseStream.Seek((long)m.SeqLen * m.HeadDim * 4, SeekOrigin.Current);
        if (!m.SharedClassifier) m.Classifier = Mat(m.Vocab, m.Dim);
        return m;
    }
}
