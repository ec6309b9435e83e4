namespace Sling.Models;

/// <summary>
/// Rotary position embedding. The frequencies are fixed per model and shared; the cos/sin of a batch's
/// positions are computed once per forward pass into the sequence's own tables.
/// </summary>
internal sealed class RotaryEmbedding
{
    private readonly double[] _inverseFrequencies;
    private readonly RopeLayout _layout;
    private readonly int _rotaryDim;
    private readonly double _positionScale;

    public RotaryEmbedding(TransformerConfig config)
    {
        _layout = config.Rope;
        _rotaryDim = config.RotaryDim;
        _positionScale = 1.0 / config.LinearRopeFactor;
        int pairs = _rotaryDim / 2;
        _inverseFrequencies = new double[pairs];
        for (int i = 0; i < pairs; i++)
            _inverseFrequencies[i] = 1.0 / Math.Pow(config.RopeTheta, 2.0 * i / _rotaryDim);
        if (config.Llama3Scaling is { } s) ApplyLlama3Scaling(_inverseFrequencies, s);
        if (config.RopeFrequencyFactors is { } factors)
            for (int i = 0; i < pairs; i++) _inverseFrequencies[i] /= factors[i];
    }

    /// <summary>
    /// Llama 3's scaling as per-pair divisors of the frequencies (what llama.cpp's converter writes
    /// as <c>rope_freqs</c>): 1 for short wavelengths, the factor for long ones, blended between.
    /// </summary>
    public static float[] Llama3Factors(double ropeTheta, int rotaryDim, Llama3RopeScaling s)
    {
        var inv = new double[rotaryDim / 2];
        for (int i = 0; i < inv.Length; i++) inv[i] = 1.0 / Math.Pow(ropeTheta, 2.0 * i / rotaryDim);
        var scaled = (double[])inv.Clone();
        ApplyLlama3Scaling(scaled, s);
        return inv.Select((f, i) => (float)(f / scaled[i])).ToArray();
    }

    public IReadOnlyList<double> InverseFrequencies => _inverseFrequencies;

    // Llama 3: long wavelengths are slowed by `factor`, short ones kept, and the band between blended.
    private static void ApplyLlama3Scaling(double[] inv, Llama3RopeScaling s)
    {
        double lowFreqWavelen = s.OriginalMaxPositions / s.LowFreqFactor;
        double highFreqWavelen = s.OriginalMaxPositions / s.HighFreqFactor;
        for (int i = 0; i < inv.Length; i++)
        {
            double wavelen = 2 * Math.PI / inv[i];
            if (wavelen < highFreqWavelen) continue;
            if (wavelen > lowFreqWavelen)
            {
                inv[i] /= s.Factor;
                continue;
            }
            double smooth = (s.OriginalMaxPositions / wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
            inv[i] = (1 - smooth) * inv[i] / s.Factor + smooth * inv[i];
        }
    }

    /// <summary>Rotated pairs per head.</summary>
    public int Pairs => _rotaryDim / 2;

    /// <summary>
    /// cos/sin for positions [start, start + count), one row of <see cref="Pairs"/> each (in double,
    /// then rounded). The tables belong to the caller's sequence, so sequences never share them.
    /// </summary>
    public void Fill(int start, int count, Span<float> cos, Span<float> sin)
    {
        int pairs = Pairs;
        for (int t = 0; t < count; t++)
        {
            double p = (start + t) * _positionScale;
            for (int i = 0; i < pairs; i++)
            {
                double angle = p * _inverseFrequencies[i];
                cos[t * pairs + i] = (float)Math.Cos(angle);
                sin[t * pairs + i] = (float)Math.Sin(angle);
            }
        }
    }

    /// <summary>Rotates every head in <paramref name="vector"/> (heads × headDim) by one position's cos/sin.</summary>
    public void Apply(Span<float> vector, int heads, int headDim, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        int pairs = Pairs;
        for (int h = 0; h < heads; h++)
        {
            var head = vector.Slice(h * headDim, headDim);
            if (_layout == RopeLayout.Interleaved)
            {
                for (int i = 0; i < pairs; i++)
                {
                    float a = head[2 * i], b = head[2 * i + 1];
                    head[2 * i] = a * cos[i] - b * sin[i];
                    head[2 * i + 1] = a * sin[i] + b * cos[i];
                }
            }
            else
            {
                for (int i = 0; i < pairs; i++)
                {
                    float a = head[i], b = head[i + pairs];
                    head[i] = a * cos[i] - b * sin[i];
                    head[i + pairs] = b * cos[i] + a * sin[i];
                }
            }
        }
    }
}
