using System.Numerics.Tensors;

namespace Sling.Kernels;

/// <summary>fp32 weights read in place (from a memory map or a pinned array).</summary>
internal sealed unsafe class F32Matrix : WeightMatrix
{
    private readonly float* _data;
    private readonly object? _owner; // keeps a pinned array or a mapped file alive

    public F32Matrix(float* data, int rows, int cols, object? owner) : base(rows, cols)
    {
        _data = data;
        _owner = owner;
    }

    /// <summary>Copies <paramref name="values"/> into pinned memory (tests, converted weights).</summary>
    public static F32Matrix FromArray(ReadOnlySpan<float> values, int rows, int cols)
    {
        if (values.Length != (long)rows * cols) throw new ArgumentException($"{values.Length} values for a {rows}x{cols} matrix");
        var pinned = GC.AllocateUninitializedArray<float>(values.Length, pinned: true);
        values.CopyTo(pinned);
        fixed (float* p = pinned) return new F32Matrix(p, rows, cols, pinned);
    }

    public override string Format => "f32";
    public override long ByteSize => (long)Rows * Cols * sizeof(float);

    public override long FirstNonFiniteRow() => FirstFlaggedRow(_data, (long)Rows * Cols, Cols, NonFinite.Find);

    public ReadOnlySpan<float> Row(int row) => new(_data + (long)row * Cols, Cols);

    public override void MultiplyRows(ReadOnlySpan<float> x, Span<float> y, int rowStart, int rowEnd)
    {
        for (int r = rowStart; r < rowEnd; r++)
            y[r] = TensorPrimitives.Dot(Row(r), x);
    }

    public override void ReadRow(int row, Span<float> destination) => Row(row).CopyTo(destination);

    public override WeightMatrix SliceRows(int start, int count)
    {
        CheckSlice(start, count);
        return new F32Matrix(_data + (long)start * Cols, count, Cols, _owner);
    }
}
