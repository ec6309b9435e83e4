namespace Sling.Quantization;

/// <summary>
/// Integer quantization of one row of weights, group by group, as NNCF defines it:
/// <list type="bullet">
/// <item>asymmetric: scale = (max − min)/(2^b − 1), zero = clip(−round(min/scale), 0, 2^b − 1),
/// code = clip(round(w/scale + zero), 0, 2^b − 1);</item>
/// <item>symmetric: the value of largest magnitude maps to −2^(b−1): scale = |min| / 2^(b−1) when
/// |min| ≥ max, else −max / 2^(b−1) (a negative scale), code = clip(round(w/scale), −2^(b−1), 2^(b−1) − 1),
/// stored offset by 2^(b−1).</item>
/// </list>
/// As NNCF computes and OpenVINO stores it, the codes come from the fp32 scale and the stored scale
/// is its nearest fp16: dequantization uses that fp16 scale. (Rounding the scale first and deriving
/// the codes from it measurably changes results: stories260K's int8 greedy text then departs from
/// the fp32 model's after ~60 tokens; with these semantics it stays identical.)
/// </summary>
public static class GroupQuantizer
{
    /// <summary>Quantizes <paramref name="row"/>; codes, scales and zeros get one entry per input / group.</summary>
    /// <param name="scaleSearch">Replace the min/max scale by the one with the least squared error (see <see cref="SearchScale"/>).</param>
    public static void QuantizeRow(ReadOnlySpan<float> row, QuantizedFormat format, Span<byte> codes, Span<Half> scales, Span<byte> zeros, bool scaleSearch = false)
    {
        int g = format.GroupSize;
        for (int group = 0; group * g < row.Length; group++)
        {
            var w = row.Slice(group * g, g);
            var (s, zero) = Parameters(w, format);
            if (scaleSearch) (s, zero) = SearchScale(w, format, s, zero);
            scales[group] = ToHalf(s);
            zeros[group] = (byte)zero;
            for (int i = 0; i < g; i++) codes[group * g + i] = (byte)Code(w[i], format, s, zero);
        }
    }

    /// <summary>Each group's min/max (fp32 scale, zero) of a row.</summary>
    public static (float Scale, int Zero)[] RowParameters(ReadOnlySpan<float> row, QuantizedFormat format)
    {
        var result = new (float, int)[row.Length / format.GroupSize];
        for (int group = 0; group < result.Length; group++) result[group] = Parameters(row.Slice(group * format.GroupSize, format.GroupSize), format);
        return result;
    }

    /// <summary>Quantizes a row with given per-group (fp32 scale, zero), stored as min/max parameters are.</summary>
    public static void QuantizeRow(ReadOnlySpan<float> row, QuantizedFormat format, (float Scale, int Zero)[] parameters, Span<byte> codes, Span<Half> scales, Span<byte> zeros)
    {
        int g = format.GroupSize;
        for (int group = 0; group < parameters.Length; group++)
        {
            var (s, zero) = parameters[group];
            scales[group] = ToHalf(s);
            zeros[group] = (byte)zero;
            for (int i = 0; i < g; i++) codes[group * g + i] = (byte)Code(row[group * g + i], format, s, zero);
        }
    }

    /// <summary>The fp32 scale and the zero point (the symmetric offset for symmetric formats) of one group.</summary>
    public static (float Scale, int Zero) Parameters(ReadOnlySpan<float> group, QuantizedFormat format)
        => format.Symmetric ? SymmetricParameters(group, format.Bits) : AsymmetricParameters(group, format.Bits);

    private static (float Scale, int Zero) AsymmetricParameters(ReadOnlySpan<float> w, int bits)
    {
        int levels = (1 << bits) - 1;
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        foreach (float v in w)
        {
            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }
        if (max - min <= float.Epsilon * 16)
        {
            // A constant group: represent the constant exactly with the top or bottom code.
            if (min == 0) return (1f, 0);
            return (Math.Abs(min) / levels, min > 0 ? 0 : levels);
        }
        float scale = (max - min) / levels;
        int zero = (int)Math.Clamp(-Math.Round(min / (double)scale, MidpointRounding.ToEven), 0, levels);
        return (scale, zero);
    }

    private static (float Scale, int Zero) SymmetricParameters(ReadOnlySpan<float> w, int bits)
    {
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        foreach (float v in w)
        {
            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }
        float factor = 1 << (bits - 1);
        float signed = Math.Abs(min) >= max ? Math.Abs(min) : -max;
        if (signed == 0) return (1f, 1 << (bits - 1));
        return (signed / factor, 1 << (bits - 1));
    }

    /// <summary>
    /// A data-free improvement on min/max scales: try ranges shrunk by up to 30 % (outliers then clip,
    /// everything else gets finer steps), with the zero point re-centred for each, then refit the
    /// scale by least squares for the chosen codes; keep whatever gives the smallest squared error of
    /// the group. Same storage, same kernels; only the choice of scale and zero point changes.
    /// </summary>
    public static (float Scale, int Zero) SearchScale(ReadOnlySpan<float> group, QuantizedFormat format, float scale, int zero)
    {
        float[] w = group.ToArray(); // the candidates below are a local function, which cannot capture a span
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        foreach (float v in w)
        {
            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }
        var best = (scale, zero);
        double bestError = SquaredError(w, format, scale, zero);
        for (int step = 1; step <= 20; step++)
        {
            float s = scale * (1 - 0.015f * step);
            if (format.Symmetric) Consider(s, zero);
            else
            {
                Consider(s, (int)Math.Clamp(Math.Round(-min / (double)s), 0, format.MaxCode));
                Consider(s, (int)Math.Clamp(Math.Round(format.MaxCode - max / (double)s), 0, format.MaxCode));
            }
        }
        // Least-squares scale for the chosen codes: s = Σ w·(q − z) / Σ (q − z)².
        double num = 0, den = 0;
        foreach (float v in w)
        {
            int q = Code(v, format, best.scale, best.zero) - best.zero;
            num += v * (double)q;
            den += (double)q * q;
        }
        if (den > 0) Consider((float)(num / den), best.zero);
        return best;

        void Consider(float s, int z)
        {
            if (s == 0 || !float.IsFinite(s)) return;
            double e = SquaredError(w, format, s, z);
            if (e < bestError)
            {
                bestError = e;
                best = (s, z);
            }
        }
    }

    internal static int Code(float w, QuantizedFormat format, float scale, int zero)
    {
        // Symmetric codes are stored offset by their zero, so one clamp to [0, MaxCode] serves both.
        return Math.Clamp((int)Math.Round(w / (double)scale + zero, MidpointRounding.ToEven), 0, format.MaxCode);
    }

    private static double SquaredError(ReadOnlySpan<float> w, QuantizedFormat format, float scale, int zero)
    {
        float stored = (float)ToHalf(scale);
        double sum = 0;
        foreach (float v in w)
        {
            double d = v - (Code(v, format, scale, zero) - zero) * (double)stored;
            sum += d * d;
        }
        return sum;
    }

    /// <summary>The nearest fp16 (infinite when out of range), for checking candidates.</summary>
    internal static Half ToHalfOrInfinity(float value) => (Half)value;

    /// <summary>The nearest fp16, never zero.</summary>
    public static Half ToHalf(float value)
    {
        Half h = (Half)value;
        if (h == Half.Zero) h = value < 0 ? -Half.Epsilon : Half.Epsilon;
        if (Half.IsInfinity(h)) throw new SlingException($"a weight group's scale {value} does not fit in fp16");
        return h;
    }

    /// <summary>The weight a stored code stands for.</summary>
    public static float Dequantize(int code, int zero, Half scale) => (code - zero) * (float)scale;

    /// <summary>
    /// NNCF's data-free sensitivity input: quantize to <paramref name="format"/>, dequantize, and take the
    /// largest per-output-channel mean squared error.
    /// </summary>
    public static double QuantizationError(Func<int, float[]> readRow, int rows, int cols, QuantizedFormat format)
    {
        int groups = cols / format.GroupSize;
        var codes = new byte[cols];
        var scales = new Half[groups];
        var zeros = new byte[groups];
        double worst = 0;
        for (int r = 0; r < rows; r++)
        {
            var row = readRow(r);
            QuantizeRow(row, format, codes, scales, zeros);
            double sum = 0;
            for (int c = 0; c < cols; c++)
            {
                int g = c / format.GroupSize;
                int zero = format.Symmetric ? format.SymmetricZero : zeros[g];
                double d = Dequantize(codes[c], zero, scales[g]) - row[c];
                sum += d * d;
            }
            worst = Math.Max(worst, sum / cols);
        }
        return worst;
    }
}
