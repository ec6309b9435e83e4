namespace Sling.Kernels;

/// <summary>
/// A weight matrix stored row-major as [Rows = outputs, Cols = inputs], in whatever element format
/// the file or the quantizer produced. Each format knows how to multiply a range of its rows with a
/// float vector; a <see cref="ComputePool"/> spreads those ranges over the cores.
/// </summary>
internal abstract class WeightMatrix
{
    protected WeightMatrix(int rows, int cols)
    {
        if (rows <= 0 || cols <= 0) throw new ArgumentOutOfRangeException(nameof(rows), $"matrix shape {rows}x{cols} must be positive");
        Rows = rows;
        Cols = cols;
    }

    public int Rows { get; }
    public int Cols { get; }

    /// <summary>The first row holding a NaN or infinite weight or scale, or −1 (read once at load).</summary>
    public abstract long FirstNonFiniteRow();

    /// <summary>Short name of the storage format, e.g. "f32", "bf16", "q8_0".</summary>
    public abstract string Format { get; }

    /// <summary>Bytes the weights occupy (codes plus scales).</summary>
    public abstract long ByteSize { get; }

    /// <summary>y[r] = row r · x for r in [rowStart, rowEnd).</summary>
    public abstract void MultiplyRows(ReadOnlySpan<float> x, Span<float> y, int rowStart, int rowEnd);

    /// <summary>
    /// y[t·ldy + r] = row r · x_t for the <paramref name="count"/> activation rows x_t (each <see cref="Cols"/>
    /// long) and r in [rowStart, rowEnd). The range's rows stay in cache while every activation row passes.
    /// </summary>
    internal virtual void MultiplyRows(ReadOnlySpan<float> x, int count, Span<float> y, int ldy, int rowStart, int rowEnd)
    {
        for (int t = 0; t < count; t++)
            MultiplyRows(x.Slice(t * Cols, Cols), y[(t * ldy)..], rowStart, rowEnd);
    }

    /// <summary>True when this format's fast product reads int8 activations (<see cref="Q8Activations"/>), like ggml's vec_dot_type.</summary>
    internal virtual bool TakesQ8 => false;

    /// <summary>Work on the activations shared by all row ranges, done once before they are split over threads.</summary>
    internal virtual void PrepareQ8(Q8Activations input) { }

    /// <summary>The integer product: y[t·ldy + r] = row r · x_t for every quantized activation row.</summary>
    internal virtual void MultiplyRows(Q8Activations input, Span<float> y, int ldy, int rowStart, int rowEnd)
        => throw new NotSupportedException($"{Format} weights multiply float activations only");

    /// <summary>Writes row <paramref name="row"/> as floats (used for embedding lookups).</summary>
    public abstract void ReadRow(int row, Span<float> destination);

    /// <summary>A view of rows [start, start+count) without copying (splits fused projections).</summary>
    public abstract WeightMatrix SliceRows(int start, int count);

    /// <summary>y[r] = row r · x by decoding each row to floats first (exact, unhurried: for checking).</summary>
    protected void MultiplyDecodedRows(ReadOnlySpan<float> x, Span<float> y, int rowStart, int rowEnd)
        => MultiplyDecodedRows(x, 1, y, 0, rowStart, rowEnd);

    /// <summary>
    /// The product of several activation rows by decoding each weight row once for all of them (the
    /// same dot product per activation row as one row alone, so the same bits).
    /// </summary>
    protected void MultiplyDecodedRows(ReadOnlySpan<float> x, int count, Span<float> y, int ldy, int rowStart, int rowEnd)
    {
        var row = new float[Cols];
        for (int r = rowStart; r < rowEnd; r++)
        {
            ReadRow(r, row);
            for (int t = 0; t < count; t++) y[t * ldy + r] = System.Numerics.Tensors.TensorPrimitives.Dot(row, x.Slice(t * Cols, Cols));
        }
    }

    /// <summary>The row of the first value <paramref name="find"/> flags in row-major data, read in spans of at most 2^30 elements.</summary>
    private protected static unsafe long FirstFlaggedRow<T>(T* data, long count, int cols, NonFiniteScan<T> find) where T : unmanaged
    {
        for (long start = 0; start < count; start += 1 << 30)
        {
            long at = find(new ReadOnlySpan<T>(data + start, (int)Math.Min(1 << 30, count - start)));
            if (at >= 0) return (start + at) / cols;
        }
        return -1;
    }

    private protected delegate long NonFiniteScan<T>(ReadOnlySpan<T> values);

    protected void CheckSlice(int start, int count)
    {
        if (start < 0 || count <= 0 || start + count > Rows)
            throw new ArgumentOutOfRangeException(nameof(start), $"rows [{start}, {start + count}) outside a {Rows}-row matrix");
    }
}
