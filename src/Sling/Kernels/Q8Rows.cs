namespace Sling.Kernels;

/// <summary>Pointers into pinned <see cref="Q8Activations"/> for the rows a kernel tile reads, starting at one row.</summary>
internal readonly unsafe struct Q8Rows(sbyte* codes, short* wide, float* lanes, float* scales, int stride, int blocks, int first)
{
    public sbyte* Codes(int k) => codes + (long)(first + k) * stride;
    public short* Wide(int k) => wide + (long)(first + k) * stride;
    public float* Lanes(int k) => lanes + (long)(first + k) * blocks * 8;
    public float Scale(int k, int block) => scales[(long)(first + k) * blocks + block];
    public Q8Rows Skip(int k) => new(codes, wide, lanes, scales, stride, blocks, first + k);
}

/// <summary>Per-thread scratch floats, so kernels do not allocate per call.</summary>
internal static class Scratch
{
    [ThreadStatic] private static float[]? _buffer;

    public static float[] Get(int length)
    {
        var b = _buffer;
        if (b == null || b.Length < length) _buffer = b = GC.AllocateUninitializedArray<float>(Math.Max(length, 4096), pinned: true);
        return b;
    }
}
