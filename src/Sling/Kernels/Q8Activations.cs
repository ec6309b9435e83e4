using System.Numerics.Tensors;

namespace Sling.Kernels;

/// <summary>
/// Activation rows quantized for integer dot products (the input format the int4/int8 weight formats
/// declare, like ggml's <c>vec_dot_type</c>): blocks of 32 values, each with its own scale
/// d = max|x| / 127 and codes q = round(x / d) in [−127, 127]. Made once per product and shared by
/// every weight matrix that reads the same input (q/k/v, gate/up). Rows are padded with zero codes to
/// a whole number of blocks.
/// </summary>
public sealed class Q8Activations
{
    public const int BlockSize = 32;
    private float[] _groupSums = [];
    private int _groupSumsSize;

    public Q8Activations(int capacity, int cols)
    {
        Cols = cols;
        Blocks = (cols + BlockSize - 1) / BlockSize;
        Stride = Blocks * BlockSize;
        Codes = GC.AllocateUninitializedArray<sbyte>(capacity * Stride, pinned: true);
        Wide = GC.AllocateUninitializedArray<short>(capacity * Stride, pinned: true);
        Scales = GC.AllocateUninitializedArray<float>(capacity * Blocks, pinned: true);
        ScaledSums = GC.AllocateUninitializedArray<float>(capacity * Blocks, pinned: true);
        Lanes = GC.AllocateUninitializedArray<float>(capacity * Blocks * 8, pinned: true);
    }

    public int Cols { get; }
    public int Blocks { get; }
    /// <summary>Codes per row (a multiple of the block size).</summary>
    public int Stride { get; }
    public int Count { get; private set; }
    /// <summary>Count × Stride codes.</summary>
    public sbyte[] Codes { get; }
    /// <summary>The same codes widened to 16 bits (what the int8-weight kernels multiply).</summary>
    public short[] Wide { get; }
    /// <summary>Count × Blocks scales d.</summary>
    public float[] Scales { get; }
    /// <summary>Count × Blocks values d·Σq: the zero-point term of an asymmetric weight block.</summary>
    public float[] ScaledSums { get; }
    /// <summary>Each block's scale repeated 8 times, so a kernel loads it as one vector.</summary>
    public float[] Lanes { get; }

    /// <summary>Quantizes <paramref name="count"/> rows of <paramref name="source"/> (row length <see cref="Cols"/>).</summary>
    public void Quantize(ReadOnlySpan<float> source, int count)
    {
        Count = count;
        _groupSumsSize = 0;
        Span<float> block = stackalloc float[BlockSize];
        for (int t = 0; t < count; t++)
        {
            var row = source.Slice(t * Cols, Cols);
            for (int b = 0; b < Blocks; b++)
            {
                int start = b * BlockSize, n = Math.Min(BlockSize, Cols - start);
                block.Clear();
                row.Slice(start, n).CopyTo(block);
                float max = MathF.Abs(TensorPrimitives.MaxMagnitude(block)); // MaxMagnitude keeps the sign
                float d = max / 127f, inverse = d == 0 ? 0 : 1f / d;
                var codes = Codes.AsSpan(t * Stride + start, BlockSize);
                var wide = Wide.AsSpan(t * Stride + start, BlockSize);
                int sum = 0;
                for (int i = 0; i < BlockSize; i++)
                {
                    int q = (int)MathF.Round(block[i] * inverse, MidpointRounding.AwayFromZero);
                    codes[i] = (sbyte)q;
                    wide[i] = (short)q;
                    sum += q;
                }
                int k = t * Blocks + b;
                Scales[k] = d;
                ScaledSums[k] = d * sum;
                Lanes.AsSpan(k * 8, 8).Fill(d);
            }
        }
    }

    /// <summary>
    /// Σ of <see cref="ScaledSums"/> over each group of <paramref name="groupSize"/> inputs, per row
    /// (Count × groups): what a weight group's zero point multiplies. Computed once per group size.
    /// </summary>
    public ReadOnlySpan<float> GroupSums(int groupSize)
    {
        int perGroup = groupSize >= Cols ? Blocks : groupSize / BlockSize, groups = Blocks / perGroup;
        if (_groupSumsSize != groupSize)
        {
            if (_groupSums.Length < Count * groups) _groupSums = new float[Count * groups];
            for (int t = 0; t < Count; t++)
                for (int g = 0; g < groups; g++)
                    _groupSums[t * groups + g] = TensorPrimitives.Sum(ScaledSums.AsSpan(t * Blocks + g * perGroup, perGroup));
            _groupSumsSize = groupSize;
        }
        return _groupSums.AsSpan(0, Count * groups);
    }
}
