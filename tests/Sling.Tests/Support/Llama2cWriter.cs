namespace Sling.Tests.Support;

/// <summary>Writes <see cref="TinyLlama"/> in the three llama2.c checkpoint layouts, as llama2.c's export.py does.</summary>
public static class Llama2cWriter
{
    public static void WriteLegacy(string path, TinyLlama m)
    {
        using var w = new BinaryWriter(File.Create(path));
        foreach (int v in new[] { m.Dim, m.Hidden, m.Layers, m.Heads, m.KvHeads, m.SharedClassifier ? m.Vocab : -m.Vocab, m.SeqLen })
            w.Write(v);
        Floats(w, m.Embedding);
        foreach (var x in m.AttNorm) Floats(w, x);
        foreach (var x in m.Wq) Floats(w, x);
        foreach (var x in m.Wk) Floats(w, x);
        foreach (var x in m.Wv) Floats(w, x);
        foreach (var x in m.Wo) Floats(w, x);
        foreach (var x in m.FfnNorm) Floats(w, x);
        foreach (var x in m.W1) Floats(w, x);
        foreach (var x in m.W2) Floats(w, x);
        foreach (var x in m.W3) Floats(w, x);
        Floats(w, m.FinalNorm);
        for (int i = 0; i < m.SeqLen * m.HeadDim; i++) w.Write(0f); // freq_cis tables, unused
        if (m.Classifier != null) Floats(w, m.Classifier);
    }

    private static void VersionedHeader(BinaryWriter w, TinyLlama m, int version, int? groupSize)
    {
        w.Write(0x616b3432u);
        w.Write(version);
        foreach (int v in new[] { m.Dim, m.Hidden, m.Layers, m.Heads, m.KvHeads, m.Vocab, m.SeqLen }) w.Write(v);
        w.Write((byte)(m.SharedClassifier ? 1 : 0));
        if (groupSize is int g) w.Write(g);
        while (w.BaseStream.Position < 256) w.Write((byte)0);
    }

    private static IEnumerable<double[][]> QuantizedOrder(TinyLlama m)
    {
        yield return m.Embedding;
        foreach (var group in new[] { m.Wq, m.Wk, m.Wv, m.Wo, m.W1, m.W2, m.W3 })
            foreach (var x in group) yield return x;
        if (m.Classifier != null) yield return m.Classifier;
    }

    public static void WriteVersion1(string path, TinyLlama m)
    {
        using var w = new BinaryWriter(File.Create(path));
        VersionedHeader(w, m, 1, null);
        foreach (var x in m.AttNorm) Floats(w, x);
        foreach (var x in m.FfnNorm) Floats(w, x);
        Floats(w, m.FinalNorm);
        foreach (var x in QuantizedOrder(m)) Floats(w, x);
    }

    /// <summary>Writes Q8_0 groups (scale = max|w|/127, code = round(w/scale)); returns the model the file really holds.</summary>
    public static TinyLlama WriteVersion2(string path, TinyLlama m, int groupSize)
    {
        using var w = new BinaryWriter(File.Create(path));
        VersionedHeader(w, m, 2, groupSize);
        foreach (var x in m.AttNorm) Floats(w, x);
        foreach (var x in m.FfnNorm) Floats(w, x);
        Floats(w, m.FinalNorm);
        foreach (var x in QuantizedOrder(m))
        {
            var flat = x.SelectMany(r => r).ToArray();
            var codes = new sbyte[flat.Length];
            var scales = new float[flat.Length / groupSize];
            for (int g = 0; g < scales.Length; g++)
            {
                double max = 0;
                for (int i = 0; i < groupSize; i++) max = Math.Max(max, Math.Abs(flat[g * groupSize + i]));
                float scale = (float)(max / 127.0);
                scales[g] = scale;
                for (int i = 0; i < groupSize; i++)
                    codes[g * groupSize + i] = scale == 0 ? (sbyte)0 : (sbyte)Math.Round(flat[g * groupSize + i] / scale);
            }
            foreach (var c in codes) w.Write(c);
            foreach (var s in scales) w.Write(s);
        }
        return m.MapMatrices(x =>
        {
            int cols = x[0].Length;
            var flat = x.SelectMany(r => r).ToArray();
            var result = new double[x.Length][];
            for (int r = 0; r < x.Length; r++)
            {
                result[r] = new double[cols];
                for (int c = 0; c < cols; c++)
                {
                    int i = r * cols + c, g = i / groupSize;
                    double max = 0;
                    for (int k = 0; k < groupSize; k++) max = Math.Max(max, Math.Abs(flat[g * groupSize + k]));
                    float scale = (float)(max / 127.0);
                    result[r][c] = scale == 0 ? 0 : Math.Round(flat[i] / scale) * (double)scale;
                }
            }
            return result;
        });
    }

    private static void Floats(BinaryWriter w, double[] v)
    {
        foreach (var x in v) w.Write((float)x);
    }

    private static void Floats(BinaryWriter w, double[][] rows)
    {
        foreach (var r in rows) Floats(w, r);
    }
}
