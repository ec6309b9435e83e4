namespace Sling.Kernels;

/// <summary>
/// A weight matrix stored row-major as [Rows = outputs, Cols = inputs], in whatever element format
/// the file or the quantizer produced. Each format knows how to multiply a range of its rows with a
/// float vector; <see cref="MatVec"/> spreads those ranges over the cores.
/// </summary>
public abstract class WeightMatrix
{
    protected WeightMatrix(int rows, int cols)
    {
        if (rows <= 0 || cols <= 0) throw new ArgumentOutOfRangeException(nameof(rows), $"matrix shape {rows}x{cols} must be positive");
        Rows = rows;
        Cols = cols;
    }

    public int Rows { get; }
    public int Cols { get; }

    /// <summary>Short name of the storage format, e.g. "f32", "bf16", "q8_0".</summary>
    public abstract string Format { get; }

    /// <summary>Bytes the weights occupy (codes plus scales).</summary>
    public abstract long ByteSize { get; }

    /// <summary>y[r] = row r · x for r in [rowStart, rowEnd).</summary>
    public abstract void MultiplyRows(ReadOnlySpan<float> x, Span<float> y, int rowStart, int rowEnd);

    /// <summary>Writes row <paramref name="row"/> as floats (used for embedding lookups).</summary>
    public abstract void ReadRow(int row, Span<float> destination);

    /// <summary>A view of rows [start, start+count) without copying (splits fused projections).</summary>
    public abstract WeightMatrix SliceRows(int start, int count);

    protected void CheckSlice(int start, int count)
    {
        if (start < 0 || count <= 0 || start + count > Rows)
            throw new ArgumentOutOfRangeException(nameof(start), $"rows [{start}, {start + count}) outside a {Rows}-row matrix");
    }
}
