namespace Sling.Kernels;

/// <summary>
/// One weight matrix times a batch of activation rows, its output rows cut into ranges that the
/// pool's threads take in turn. With integer activations the input is quantized once, before the split.
/// </summary>
internal sealed class MatMul : IParallelJob
{
    // Enough ranges that a thread finishing early finds more work, few enough that each stays long.
    private const int RangesPerThread = 8;
    private const int MinRowsPerRange = 16;

    private WeightMatrix? _weights;
    private ActivationRows? _input;
    private Q8Activations? _quantized;
    private float[]? _output;
    private int _ldy, _rowsPerRange;

    /// <summary>y[t·ldy + r] = W_r · x_t for every active row t of <paramref name="input"/>.</summary>
    public void Run(ComputePool pool, WeightMatrix weights, ActivationRows input, float[] output, int ldy, bool integer)
    {
        if (input.Cols != weights.Cols || ldy < weights.Rows || output.Length < (long)(input.Count - 1) * ldy + weights.Rows)
            throw new ArgumentException($"a {weights.Rows}x{weights.Cols} matrix cannot take {input.Count} rows of {input.Cols} into {output.Length} outputs");
        _weights = weights;
        _input = input;
        _output = output;
        _ldy = ldy;
        _quantized = null;
        if (integer && weights.TakesQ8)
        {
            _quantized = input.Quantized(pool);
            weights.PrepareQ8(_quantized);
        }
        long work = (long)weights.Rows * weights.Cols * input.Count;
        int ranges = work < (1 << 15) ? 1 : Math.Clamp(weights.Rows / MinRowsPerRange, 1, pool.Threads * RangesPerThread);
        _rowsPerRange = (weights.Rows + ranges - 1) / ranges;
        if (weights is RowBlockMatrix) // ranges follow the interleaved row blocks
            _rowsPerRange = (_rowsPerRange + RowBlockMatrix.RowsPerBlock - 1) / RowBlockMatrix.RowsPerBlock * RowBlockMatrix.RowsPerBlock;
        pool.Run((weights.Rows + _rowsPerRange - 1) / _rowsPerRange, this);
        _weights = null;
        _input = null;
        _output = null;
        _quantized = null;
    }

    public void Execute(int item)
    {
        var w = _weights!;
        int start = item * _rowsPerRange, end = Math.Min(w.Rows, start + _rowsPerRange);
        if (_quantized != null) w.MultiplyRows(_quantized, _output, _ldy, start, end);
        else w.MultiplyRows(_input!.Active, _input.Count, _output, _ldy, start, end);
    }
}
