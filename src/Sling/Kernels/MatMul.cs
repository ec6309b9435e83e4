namespace Sling.Kernels;

/// <summary>
/// Weight matrices that read the same activation rows (q/k/v, gate/up, or one alone) times those
/// rows, in one parallel operation: each matrix's output rows are cut into ranges, and the pool's
/// threads take ranges of all of them from one counter, so there is one wait per operation rather
/// than one per matrix. With integer activations the input is quantized once, before the split.
/// A product of a few rows streams its weights once (generation): its ranges shrink with the rows
/// left (each 1/(threads + 1) of them, down to four row blocks), so there are few of them (each
/// range's start waits for the memory prefetchers) and the threads still end their last ranges
/// within microseconds of each other; a product of more rows keeps equal ranges, whose weights stay
/// in L2 while each tile of activation rows passes over them.
/// </summary>
internal sealed unsafe class MatMul : IParallelJob
{
    // Enough ranges that a thread finishing early finds more work, few enough that each stays long.
    private const int RangesPerThread = 8;
    private const int MinRowsPerRange = 16;
    private const int MaxProducts = 3;

    private readonly Product[] _products = new Product[MaxProducts];
    private Range[] _ranges = new Range[64]; // grows with the shapes seen, never per token
    private ActivationRows? _input;
    private Q8Activations? _quantized;

    private struct Product
    {
        public WeightMatrix Weights;
        public float* Output; // pinned or native for the operation
        public int OutputLength;
    }

    /// <summary>Activation rows up to which a product streams its weights (one tile of the kernels) and takes shrinking ranges.</summary>
    private const int StreamingRows = 4;

    /// <summary>The smallest streaming range, in row blocks (a range's first kilobytes wait for the prefetchers to start).</summary>
    private const int StreamingUnits = 4;

    /// <summary>y[t·Rows + r] = W_r · x_t for every active row t of <paramref name="input"/>.</summary>
    public void Run(ComputePool pool, WeightMatrix weights, ActivationRows input, float[] output, bool integer)
    {
        fixed (float* y = output)
        {
            Set(0, weights, input, y, output.Length);
            Run(pool, input, integer, 1);
        }
    }

    /// <summary>Each (W, y) pair: y[t·W.Rows + r] = W_r · x_t, all in one parallel operation.</summary>
    public void Run(ComputePool pool, ActivationRows input, bool integer, params ReadOnlySpan<(WeightMatrix Weights, ActivationRows Output)> products)
    {
        if (products.Length is 0 or > MaxProducts) throw new ArgumentException($"1 to {MaxProducts} products share one input");
        for (int i = 0; i < products.Length; i++)
        {
            var (w, y) = products[i];
            Set(i, w, input, y.Pointer, y.Length);
        }
        Run(pool, input, integer, products.Length);
    }

    private void Set(int i, WeightMatrix w, ActivationRows input, float* y, int length)
    {
        if (input.Cols != w.Cols || length < (long)input.Count * w.Rows)
            throw new ArgumentException($"a {w.Rows}x{w.Cols} matrix cannot take {input.Count} rows of {input.Cols} into {length} outputs");
        _products[i] = new Product { Weights = w, Output = y, OutputLength = length };
    }

    /// <summary>One work item: rows [Start, End) of product <see cref="Product"/>.</summary>
    internal record struct Range(int Product, int Start, int End);

    /// <summary>A product's shape as the split sees it: its rows, columns, and the rows its ranges are multiples of.</summary>
    internal record struct Shape(int Rows, int Cols, int Unit);

    /// <summary>
    /// Cuts the products' rows into ranges for <paramref name="threads"/> threads and
    /// <paramref name="n"/> activation rows (see the class summary) into <paramref name="ranges"/>
    /// (grown when too short); returns how many.
    /// </summary>
    internal static int Split(ReadOnlySpan<Shape> products, int threads, int n, ref Range[] ranges)
    {
        int items = 0, left = 0;
        foreach (var p in products) left += p.Rows;
        for (int i = 0; i < products.Length; i++)
        {
            var (rowCount, cols, unit) = products[i];
            int equal = 0;
            if ((long)rowCount * cols * n < ComputePool.MinParallelWork) equal = rowCount;
            else if (n > StreamingRows)
            {
                int count = Math.Clamp(rowCount / MinRowsPerRange, 1, threads * RangesPerThread);
                equal = ((rowCount + count - 1) / count + unit - 1) / unit * unit;
            }
            for (int start = 0; start < rowCount;)
            {
                int rows = equal > 0 ? equal : Math.Max(StreamingUnits * unit, (left / (threads + 1) + unit - 1) / unit * unit);
                int end = Math.Min(rowCount, start + rows);
                if (items == ranges.Length) Array.Resize(ref ranges, 2 * items);
                ranges[items++] = new Range(i, start, end);
                left -= end - start;
                start = end;
            }
        }
        return items;
    }

    private void Run(ComputePool pool, ActivationRows input, bool integer, int count)
    {
        Span<Shape> shapes = stackalloc Shape[count];
        for (int i = 0; i < count; i++)
        {
            var w = _products[i].Weights;
            shapes[i] = new Shape(w.Rows, w.Cols, w is RowBlockMatrix ? RowBlockMatrix.RowsPerBlock : MinRowsPerRange); // ranges follow the interleaved row blocks
        }
        int items = Split(shapes, pool.Threads, input.Count, ref _ranges);
        bool quantize = integer;
        for (int i = 0; i < count; i++) quantize &= _products[i].Weights.TakesQ8;
        _input = input;
        _quantized = null;
        if (quantize)
        {
            _quantized = input.Quantized(pool);
            for (int i = 0; i < count; i++) _products[i].Weights.PrepareQ8(_quantized);
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
        var (i, start, end) = _ranges[item];
        ref var p = ref _products[i];
        var w = p.Weights;
        var y = new Span<float>(p.Output, p.OutputLength);
        if (_quantized != null) w.MultiplyRows(_quantized, y, w.Rows, start, end);
        else w.MultiplyRows(_input!.Active, _input.Count, y, w.Rows, start, end);
    }
}
