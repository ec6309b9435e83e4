using System.Numerics.Tensors;

namespace Sling.Quantization;

/// <summary>
/// Data-aware scale estimation (NNCF's scale_estimation): each group's scale and zero point are chosen
/// to minimize the error of the layer's output on the calibration inputs, ‖(w − ŵ) X‖² = Σ_t (δ·x_t)²
/// over the sampled input rows, not the error of the weights. Groups are visited in turn and a group
/// keeps the candidate (min/max's own parameters included) that lowers the row's whole output error,
/// cross terms with the other groups included, so the result is never worse than min/max. Cost per row:
/// samples × (columns + candidates × group size).
/// </summary>
internal sealed class ScaleEstimation
{
    /// <summary>Input rows the error is measured on (at most this many of the calibration sample).</summary>
    public const int MaxSamples = 128;

    readonly float[][] _x;

    /// <param name="samples">Calibration input rows of the layer.</param>
    /// <param name="inputScale">AWQ's scale when the weights' columns were multiplied by it (the input is then x / s).</param>
    public ScaleEstimation(IReadOnlyList<float[]> samples, double[]? inputScale = null)
    {
        _x = samples.Take(MaxSamples).Select(x =>
        {
            var row = (float[])x.Clone();
            if (inputScale is not null) for (int c = 0; c < row.Length; c++) row[c] = (float)(row[c] / inputScale[c]);
            return row;
        }).ToArray();
    }

    /// <summary>H = Σ_t x_t x_tᵀ over calibration rows (GPTQ's input Hessian).</summary>
    public static double[,] Hessian(IReadOnlyList<float[]> rows, int cols)
    {
        var h = new double[cols, cols];
        Parallel.For(0, cols, i =>
        {
            var line = new float[cols];
            foreach (var x in rows)
                if (x[i] != 0) TensorPrimitives.MultiplyAdd(x, x[i], line, line);
            for (int j = 0; j < cols; j++) h[i, j] = line[j];
        });
        return h;
    }

    /// <summary>The output error ‖(w − ŵ) X‖² of one row given its dequantized values.</summary>
    public double Error(ReadOnlySpan<float> w, ReadOnlySpan<float> dequantized)
    {
        var d = new float[w.Length];
        TensorPrimitives.Subtract(w, dequantized, d);
        double e = 0;
        foreach (var x in _x)
        {
            double r = TensorPrimitives.Dot(d, x);
            e += r * r;
        }
        return e;
    }

    /// <summary>Chooses each group's (fp32 scale, zero) for one row, starting from <paramref name="initial"/> (min/max).</summary>
    public (float Scale, int Zero)[] Choose(ReadOnlySpan<float> row, QuantizedFormat format, (float Scale, int Zero)[] initial)
    {
        int n = row.Length, g = format.GroupSize, groups = n / g, samples = _x.Length;
        var chosen = ((float, int)[])initial.Clone();
        var w = row.ToArray();
        // δ = w − ŵ for the current choice, and r_t = δ·x_t for every sample (kept up to date).
        var delta = new float[n];
        for (int k = 0; k < groups; k++) Residual(w, format, k * g, g, chosen[k], delta.AsSpan(k * g, g));
        var r = new double[samples];
        for (int t = 0; t < samples; t++) r[t] = TensorPrimitives.Dot(delta, _x[t]);
        var candidate = new float[g];
        var step = new float[g];
        var bestStep = new float[g];
        var bestR = new double[samples];
        for (int k = 0; k < groups; k++)
        {
            int at = k * g;
            var group = w.AsSpan(at, g);
            float min = TensorPrimitives.Min(group), max = TensorPrimitives.Max(group);
            var (s0, z0) = initial[k];
            (float, int) best = chosen[k];
            double bestChange = 0;
            bool found = false;
            for (int m = -15; m <= 10; m++)
            {
                if (m == 0) continue;
                float s = s0 * (1 + 0.02f * m);
                if (format.Symmetric) Consider((s, z0));
                else
                {
                    Consider((s, (int)Math.Clamp(Math.Round(-min / (double)s), 0, format.MaxCode)));
                    Consider((s, (int)Math.Clamp(Math.Round(format.MaxCode - max / (double)s), 0, format.MaxCode)));
                }
            }
            if (found)
            {
                chosen[k] = best;
                TensorPrimitives.Add(delta.AsSpan(at, g), bestStep, delta.AsSpan(at, g));
                for (int t = 0; t < samples; t++) r[t] += bestR[t];
            }

            void Consider((float Scale, int Zero) p)
            {
                if (p.Scale == 0 || !float.IsFinite(p.Scale) || !float.IsFinite((float)GroupQuantizer.ToHalfOrInfinity(p.Scale))) return;
                Residual(w, format, at, g, p, candidate);
                TensorPrimitives.Subtract(candidate, delta.AsSpan(at, g), step);
                // The output error changes by Σ_t (2 r_t d_t + d_t²) with d_t = step·x_t[group].
                double change = 0;
                for (int t = 0; t < samples; t++)
                {
                    double d = TensorPrimitives.Dot(step, _x[t].AsSpan(at, g));
                    change += (2 * r[t] + d) * d;
                }
                if (change < bestChange)
                {
                    bestChange = change;
                    best = p;
                    found = true;
                    step.CopyTo(bestStep, 0);
                    for (int t = 0; t < samples; t++) bestR[t] = TensorPrimitives.Dot(step, _x[t].AsSpan(at, g));
                }
            }
        }
        return chosen;
    }

    /// <summary>w − ŵ of one group under (scale, zero), with the fp16 scale the file stores.</summary>
    static void Residual(float[] w, QuantizedFormat format, int at, int g, (float Scale, int Zero) p, Span<float> output)
    {
        float stored = (float)GroupQuantizer.ToHalf(p.Scale);
        for (int i = 0; i < g; i++)
        {
            float x = w[at + i];
            output[i] = x - (GroupQuantizer.Code(x, format, p.Scale, p.Zero) - p.Zero) * stored;
        }
    }
}
