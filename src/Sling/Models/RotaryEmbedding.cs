namespace Sling.Models;

/// <summary>
/// Rotary position embedding. The frequencies are fixed per model; the cos/sin for a position are
/// computed once per token (in double, then rounded) and applied to every head of every layer.
/// </summary>
public sealed class RotaryEmbedding
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
        Cos = new float[pairs];
        Sin = new float[pairs];
    }

    /// <summary>cos/sin of the current position, one per rotated pair.</summary>
    public float[] Cos { get; }
    public float[] Sin { get; }

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

    public void SetPosition(int position)
    {
        double p = position * _positionScale;
        for (int i = 0; i < _inverseFrequencies.Length; i++)
        {
            double angle = p * _inverseFrequencies[i];
            Cos[i] = (float)Math.Cos(angle);
            Sin[i] = (float)Math.Sin(angle);
        }
    }

    /// <summary>Rotates every head in <paramref name="vector"/> (heads × headDim) by the current position.</summary>
    public void Apply(Span<float> vector, int heads, int headDim)
    {
        int pairs = _rotaryDim / 2;
        for (int h = 0; h < heads; h++)
        {
            var head = vector.Slice(h * headDim, headDim);
            if (_layout == RopeLayout.Interleaved)
            {
                for (int i = 0; i < pairs; i++)
                {
                    float a = head[2 * i], b = head[2 * i + 1];
                    head[2 * i] = a * Cos[i] - b * Sin[i];
                    head[2 * i + 1] = a * Sin[i] + b * Cos[i];
                }
            }
            else
            {
                for (int i = 0; i < pairs; i++)
                {
                    float a = head[i], b = head[i + pairs];
                    head[i] = a * Cos[i] - b * Sin[i];
                    head[i + pairs] = b * Cos[i] + a * Sin[i];
                }
            }
        }
    }
}
