namespace Sling.Kernels;

/// <summary>
/// Weight matrices that read the same activation rows (q/k/v, gate/up, or one alone) times those
/// rows, in one parallel operation: each matrix's output rows are cut into ranges, and the pool's
/// threads take ranges of all of them from one counter, so there is one wait per operation rather
/// than one per matrix. With integer activations the input is quantized once, before the split.
/// </summary>
internal sealed unsafe class MatMul : IParallelJob
{
    // Enough ranges that a thread finishing early finds more work, few enough that each stays long.
    private const int RangesPerThread = 8;
    private const int MinRowsPerRange = 16;
    private const int MaxProducts = 3;

    private readonly Product[] _products = new Product[MaxProducts];
    private int _count;
    private ActivationRows? _input;
    private Q8Activations? _quantized;

    private struct Product
    {
        public WeightMatrix Weights;
        public float* Output; // pinned or native for the operation
        public int OutputLength;
        public int RowsPerRange;
        public int FirstItem;
    }

    /// <summary>y[t·Rows + r] = W_r · x_t for every active row t of <paramref name="input"/>.</summary>
    public void Run(ComputePool pool, WeightMatrix weights, ActivationRows input, float[] output, bool integer)
    {
        fixed (float* y = output)
        {
            int items = Set(pool, 0, weights, input, y, output.Length, 0);
            Run(pool, input, integer, 1, items);
        }
    }

    /// <summary>Each (W, y) pair: y[t·W.Rows + r] = W_r · x_t, all in one parallel operation.</summary>
    public void Run(ComputePool pool, ActivationRows input, bool integer, params ReadOnlySpan<(WeightMatrix Weights, ActivationRows Output)> products)
    {
        if (products.Length is 0 or > MaxProducts) throw new ArgumentException($"1 to {MaxProducts} products share one input");
        int items = 0;
        for (int i = 0; i < products.Length; i++)
        {
            var (w, y) = products[i];
            items = Set(pool, i, w, input, y.Pointer, y.Length, items);
        }
        Run(pool, input, integer, products.Length, items);
    }

    // Product i's weights, output and row ranges; returns the work items counted so far.
    private int Set(ComputePool pool, int i, WeightMatrix w, ActivationRows input, float* y, int length, int items)
    {
        if (input.Cols != w.Cols || length < (long)input.Count * w.Rows)
            throw new ArgumentException($"a {w.Rows}x{w.Cols} matrix cannot take {input.Count} rows of {input.Cols} into {length} outputs");
        long work = (long)w.Rows * w.Cols * input.Count;
        int ranges = work < ComputePool.MinParallelWork ? 1 : Math.Clamp(w.Rows / MinRowsPerRange, 1, pool.Threads * RangesPerThread);
        int rows = (w.Rows + ranges - 1) / ranges;
        if (w is RowBlockMatrix) // ranges follow the interleaved row blocks
            rows = (rows + RowBlockMatrix.RowsPerBlock - 1) / RowBlockMatrix.RowsPerBlock * RowBlockMatrix.RowsPerBlock;
        _products[i] = new Product { Weights = w, Output = y, OutputLength = length, RowsPerRange = rows, FirstItem = items };
        return items + (w.Rows + rows - 1) / rows;
    }

    private void Run(ComputePool pool, ActivationRows input, bool integer, int count, int items)
    {
        bool quantize = integer;
        for (int i = 0; i < count; i++) quantize &= _products[i].Weights.TakesQ8;
        _count = count;
        _input = input;
        _quantized = null;
        if (quantize)
        {
            _quantized = input.Quantized(pool);
            for (int i = 0; i < _count; i++) _products[i].Weights.PrepareQ8(_quantized);
        }
        try
        {
            pool.Run(items, this);
        }
        finally
        {
            Array.Clear(_products);
            _input = null;
            _quantized = null;
        }
    }

    public void Execute(int item)
    {
        int i = _count - 1;
        while (_products[i].FirstItem > item) i--;
        ref var p = ref _products[i];
        var w = p.Weights;
        int start = (item - p.FirstItem) * p.RowsPerRange, end = Math.Min(w.Rows, start + p.RowsPerRange);
        var y = new Span<float>(p.Output, p.OutputLength);
        if (_quantized != null) w.MultiplyRows(_quantized, y, w.Rows, start, end);
        else w.MultiplyRows(_input!.Active, _input.Count, y, w.Rows, start, end);
    }
}
