namespace Sling.Kernels;

/// <summary>Per-thread sums of x over each group of inputs: the zero-point term of a quantized dot product.</summary>
internal static class GroupSums
{
    [ThreadStatic] private static float[]? _buffer;

    public static unsafe Span<float> Compute(float* x, int cols, int groupSize)
    {
        int groups = cols / groupSize;
        var b = _buffer;
        if (b == null || b.Length < groups) _buffer = b = new float[Math.Max(groups, 256)];
        for (int g = 0; g < groups; g++)
            b[g] = System.Numerics.Tensors.TensorPrimitives.Sum(new ReadOnlySpan<float>(x + g * groupSize, groupSize));
        return b.AsSpan(0, groups);
    }
}
