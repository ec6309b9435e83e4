using System.Numerics.Tensors;

namespace Sling.Kernels;

/// <summary>
/// IEEE half-precision weights read in place. Rows are widened to fp32 in a small per-thread buffer
/// just before the dot product, so the model never holds an fp32 copy of its weights.
/// </summary>
public sealed unsafe class F16Matrix : WeightMatrix
{
    private readonly Half* _data;
    private readonly object? _owner;

    public F16Matrix(Half* data, int rows, int cols, object? owner) : base(rows, cols)
    {
        _data = data;
        _owner = owner;
    }

    public override string Format => "f16";
    public override long ByteSize => (long)Rows * Cols * sizeof(Half);

    private ReadOnlySpan<Half> Row(int row) => new(_data + (long)row * Cols, Cols);

    public override void MultiplyRows(ReadOnlySpan<float> x, Span<float> y, int rowStart, int rowEnd)
    {
        Span<float> row = RowBuffer.Get(Cols);
        for (int r = rowStart; r < rowEnd; r++)
        {
            TensorPrimitives.ConvertToSingle(Row(r), row);
            y[r] = TensorPrimitives.Dot(row, x);
        }
    }

    public override void ReadRow(int row, Span<float> destination) => TensorPrimitives.ConvertToSingle(Row(row), destination[..Cols]);

    public override WeightMatrix SliceRows(int start, int count)
    {
        CheckSlice(start, count);
        return new F16Matrix(_data + (long)start * Cols, count, Cols, _owner);
    }
}
