namespace Sling.Tests.Support;

/// <summary>
/// A plain float64 forward pass of a Llama model, written loop by loop from the definition
/// (RMSNorm, interleaved-pair RoPE, grouped-query causal attention, SwiGLU), with no caching tricks:
/// each position's logits are recomputed from the whole prefix. The independent truth the engine is checked against.
/// </summary>
public static class ReferenceLlama
{
    public static double[][] Logits(TinyLlama m, IReadOnlyList<int> tokens, double theta = 10000.0)
    {
        int n = tokens.Count, d = m.Dim, hd = m.HeadDim;
        var x = tokens.Select(t => (double[])m.Embedding[t].Clone()).ToArray();
        for (int l = 0; l < m.Layers; l++)
        {
            var q = new double[n][]; var k = new double[n][]; var v = new double[n][];
            for (int p = 0; p < n; p++)
            {
                var h = RmsNorm(x[p], m.AttNorm[l]);
                q[p] = Rope(MatVec(m.Wq[l], h), p, hd, theta);
                k[p] = Rope(MatVec(m.Wk[l], h), p, hd, theta);
                v[p] = MatVec(m.Wv[l], h);
            }
            for (int p = 0; p < n; p++)
            {
                var att = new double[m.Heads * hd];
                for (int head = 0; head < m.Heads; head++)
                {
                    int kvHead = head / (m.Heads / m.KvHeads);
                    var scores = new double[p + 1];
                    for (int t = 0; t <= p; t++)
                    {
                        double s = 0;
                        for (int i = 0; i < hd; i++) s += q[p][head * hd + i] * k[t][kvHead * hd + i];
                        scores[t] = s / Math.Sqrt(hd);
                    }
                    double max = scores.Max();
                    double sum = scores.Sum(s => Math.Exp(s - max));
                    for (int t = 0; t <= p; t++)
                    {
                        double w = Math.Exp(scores[t] - max) / sum;
                        for (int i = 0; i < hd; i++) att[head * hd + i] += w * v[t][kvHead * hd + i];
                    }
                }
                var o = MatVec(m.Wo[l], att);
                for (int i = 0; i < d; i++) x[p][i] += o[i];
                var h2 = RmsNorm(x[p], m.FfnNorm[l]);
                var gate = MatVec(m.W1[l], h2);
                var up = MatVec(m.W3[l], h2);
                for (int i = 0; i < gate.Length; i++) gate[i] = gate[i] / (1 + Math.Exp(-gate[i])) * up[i];
                var down = MatVec(m.W2[l], gate);
                for (int i = 0; i < d; i++) x[p][i] += down[i];
            }
        }
        return x.Select(row => MatVec(m.ClassifierOrEmbedding, RmsNorm(row, m.FinalNorm))).ToArray();
    }

    private static double[] RmsNorm(double[] x, double[] w)
    {
        double ms = x.Sum(v => v * v) / x.Length;
        double inv = 1 / Math.Sqrt(ms + 1e-5);
        return x.Select((v, i) => v * inv * w[i]).ToArray();
    }

    private static double[] MatVec(double[][] w, double[] x)
    {
        var y = new double[w.Length];
        for (int r = 0; r < w.Length; r++)
        {
            double s = 0;
            for (int c = 0; c < x.Length; c++) s += w[r][c] * x[c];
            y[r] = s;
        }
        return y;
    }

    // Interleaved pairs (2i, 2i+1) of every head rotated by pos · θ^(−2i/hd).
    private static double[] Rope(double[] v, int pos, int hd, double theta)
    {
        var r = (double[])v.Clone();
        for (int start = 0; start < v.Length; start += hd)
            for (int i = 0; i < hd / 2; i++)
            {
                double angle = pos * Math.Pow(theta, -2.0 * i / hd);
                double a = v[start + 2 * i], b = v[start + 2 * i + 1];
                r[start + 2 * i] = a * Math.Cos(angle) - b * Math.Sin(angle);
                r[start + 2 * i + 1] = a * Math.Sin(angle) + b * Math.Cos(angle);
            }
        return r;
    }

    public static double RelativeL2(IReadOnlyList<double[]> reference, IReadOnlyList<float[]> actual)
    {
        double num = 0, den = 0;
        for (int p = 0; p < reference.Count; p++)
            for (int i = 0; i < reference[p].Length; i++)
            {
                double diff = actual[p][i] - reference[p][i];
                num += diff * diff;
                den += reference[p][i] * reference[p][i];
            }
        return Math.Sqrt(num / den);
    }
}
