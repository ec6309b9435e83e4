namespace Sling.Quantization;

/// <summary>
/// What calibration learns about one linear layer's inputs: per input channel the count, sum, sum of
/// squares and sum of magnitudes over every calibration token, and a bounded random sample of whole
/// input rows (reservoir sampling) for the algorithms that need activations themselves. Memory is
/// bounded by the channels and the sample size, not by the calibration set.
/// </summary>
internal sealed class ActivationStatistics
{
    readonly double[] _sum, _squares, _magnitudes;
    readonly List<float[]> _rows = [];
    readonly int _capacity;
    readonly Random _random;

    public ActivationStatistics(int channels, int sampleRows, int seed)
    {
        Channels = channels;
        _sum = new double[channels];
        _squares = new double[channels];
        _magnitudes = new double[channels];
        _capacity = sampleRows;
        _random = new Random(seed);
    }

    public int Channels { get; }

    public long Count { get; private set; }
    public IReadOnlyList<float[]> SampleRows => _rows;

    public void Add(ReadOnlySpan<float> row)
    {
        for (int c = 0; c < Channels; c++)
        {
            double x = row[c];
            _sum[c] += x;
            _squares[c] += x * x;
            _magnitudes[c] += Math.Abs(x);
        }
        Count++;
        if (_rows.Count < _capacity) _rows.Add(row.ToArray());
        else if (_random.NextInt64(Count) is var k && k < _capacity) _rows[(int)k] = row.ToArray();
    }

    /// <summary>E[x_c²] per channel: the diagonal of the input Hessian (up to a factor 2).</summary>
    public double[] MeanSquares() => _squares.Select(s => s / Math.Max(1, Count)).ToArray();

    /// <summary>E[|x_c|] per channel.</summary>
    public double[] MeanMagnitudes() => _magnitudes.Select(s => s / Math.Max(1, Count)).ToArray();

    /// <summary>Var[x_c] per channel.</summary>
    public double[] Variances()
    {
        long n = Math.Max(1, Count);
        return _sum.Select((s, c) => Math.Max(0, _squares[c] / n - (s / n) * (s / n))).ToArray();
    }

    // NNCF's data-aware sensitivity metrics (the larger, the more a layer should stay in the backup precision).

    /// <summary>mean_activation_variance: the mean over channels of each channel's variance.</summary>
    public double MeanVariance => Variances().Average();

    /// <summary>max_activation_variance: the largest channel variance.</summary>
    public double MaxVariance => Variances().Max();

    /// <summary>mean_activation_magnitude: the mean over channels of E[|x_c|].</summary>
    public double MeanMagnitude => MeanMagnitudes().Average();

    /// <summary>The trace of the input Hessian 2·E[x xᵀ] per channel: 2·mean over channels of E[x_c²] (HAWQ's estimate).</summary>
    public double HessianTrace => 2 * MeanSquares().Average();
}
