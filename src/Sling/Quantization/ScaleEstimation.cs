namespace Sling.Quantization;

/// <summary>
/// Data-aware scale estimation (NNCF's scale_estimation): each group's scale and zero point are chosen
/// to minimize the error of the layer's output on the calibration inputs, ‖(W − Ŵ) X‖² = Σ_rows
/// δᵀ H δ with H = Σ_t x_t x_tᵀ, not the error of the weights. Groups are visited in turn and a group
/// keeps the candidate (min/max's own parameters included) that lowers the row's whole output error,
/// cross terms with the other groups included, so the result is never worse than min/max.
/// </summary>
internal sealed class ScaleEstimation(double[,] hessian)
{
    /// <summary>H = Σ_t x_t x_tᵀ over the calibration rows.</summary>
    public static double[,] Hessian(IReadOnlyList<float[]> rows, int cols)
    {
        var h = new double[cols, cols];
        Parallel.For(0, cols, i =>
        {
            foreach (var x in rows)
            {
                double xi = x[i];
                if (xi == 0) continue;
                for (int j = 0; j < cols; j++) h[i, j] += xi * x[j];
            }
        });
        return h;
    }

    /// <summary>The output error ‖(w − ŵ) X‖² of one row given its dequantized values.</summary>
    public double Error(ReadOnlySpan<float> w, ReadOnlySpan<float> dequantized)
    {
        var d = new double[w.Length];
        for (int i = 0; i < d.Length; i++) d[i] = w[i] - (double)dequantized[i];
        return QuadraticForm(hessian, d);
    }

    /// <summary>dᵀ H d.</summary>
    public static double QuadraticForm(double[,] h, double[] d)
    {
        double e = 0;
        for (int i = 0; i < d.Length; i++)
        {
            if (d[i] == 0) continue;
            double row = 0;
            for (int j = 0; j < d.Length; j++) row += h[i, j] * d[j];
            e += d[i] * row;
        }
        return e;
    }

    /// <summary>Chooses each group's (fp32 scale, zero) for one row, starting from <paramref name="initial"/> (min/max).</summary>
    public (float Scale, int Zero)[] Choose(ReadOnlySpan<float> row, QuantizedFormat format, (float Scale, int Zero)[] initial)
    {
        int n = row.Length, g = format.GroupSize, groups = n / g;
        var chosen = ((float, int)[])initial.Clone();
        var w = row.ToArray();
        // Δ = w − ŵ for the current choice, and v = H Δ (kept up to date as groups change).
        var delta = new double[n];
        for (int k = 0; k < groups; k++) Residual(w, format, k * g, g, chosen[k], delta);
        var v = new double[n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) v[i] += hessian[i, j] * delta[j];
        var candidate = new double[g];
        var step = new double[g];
        for (int k = 0; k < groups; k++)
        {
            int at = k * g;
            float min = float.PositiveInfinity, max = float.NegativeInfinity;
            for (int i = 0; i < g; i++)
            {
                min = Math.Min(min, w[at + i]);
                max = Math.Max(max, w[at + i]);
            }
            var (s0, z0) = initial[k];
            (float, int) best = chosen[k];
            double bestChange = 0;
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
            if (!best.Equals(chosen[k]))
            {
                Residual(w, format, at, g, best, candidate);
                for (int i = 0; i < g; i++) step[i] = candidate[at + i - at] - delta[at + i];
                for (int r = 0; r < n; r++)
                {
                    double add = 0;
                    for (int i = 0; i < g; i++) add += hessian[r, at + i] * step[i];
                    v[r] += add;
                }
                for (int i = 0; i < g; i++) delta[at + i] = candidate[i];
                chosen[k] = best;
            }

            void Consider((float Scale, int Zero) p)
            {
                if (p.Scale == 0 || !float.IsFinite(p.Scale) || !float.IsFinite((float)GroupQuantizer.ToHalfOrInfinity(p.Scale))) return;
                Residual(w, format, at, g, p, candidate);
                // Change of Δᵀ H Δ when this group's Δ moves by δ: 2 δᵀ v_g + δᵀ H_gg δ.
                double change = 0;
                for (int i = 0; i < g; i++)
                {
                    double di = candidate[i] - delta[at + i];
                    if (di == 0) continue;
                    change += 2 * di * v[at + i];
                    for (int j = 0; j < g; j++) change += di * hessian[at + i, at + j] * (candidate[j] - delta[at + j]);
                }
                if (change < bestChange)
                {
                    bestChange = change;
                    best = p;
                }
            }
        }
        return chosen;
    }

    /// <summary>w − ŵ of one group under (scale, zero), with the fp16 scale the file stores.</summary>
    static void Residual(float[] w, QuantizedFormat format, int at, int g, (float Scale, int Zero) p, double[] output)
    {
        float stored = (float)GroupQuantizer.ToHalf(p.Scale);
        bool local = output.Length == g;
        for (int i = 0; i < g; i++)
        {
            float x = w[at + i];
            int code = GroupQuantizer.Code(x, format, p.Scale, p.Zero);
            output[local ? i : at + i] = x - (code - p.Zero) * (double)stored;
        }
    }
}
