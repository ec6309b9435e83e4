namespace Sling.Kernels;

/// <summary>A per-thread scratch row, so kernels that widen weights do not allocate per call.</summary>
internal static class RowBuffer
{
    [ThreadStatic] private static float[]? _buffer;

    public static Span<float> Get(int length)
    {
        var b = _buffer;
        if (b == null || b.Length < length) _buffer = b = new float[Math.Max(length, 1024)];
        return b.AsSpan(0, length);
    }
}
