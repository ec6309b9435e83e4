namespace Sling.Kernels;

/// <summary>
/// Matrix-vector products spread over the cores: the rows of the matrix are cut into contiguous
/// ranges, one task each. Small products stay on the calling thread, where a fork would cost more
/// than the arithmetic.
/// </summary>
public sealed class MatVec
{
    // Below this many multiply-adds the fork/join overhead (a few microseconds) dominates.
    private const long ParallelThreshold = 1 << 15;

    private readonly ParallelOptions _options;

    public MatVec(int threads)
    {
        Threads = threads <= 0 ? Environment.ProcessorCount : threads;
        _options = new ParallelOptions { MaxDegreeOfParallelism = Threads };
    }

    public int Threads { get; }

    public void Multiply(WeightMatrix w, float[] x, float[] y)
    {
        if (x.Length < w.Cols || y.Length < w.Rows)
            throw new ArgumentException($"vectors of {x.Length}/{y.Length} for a {w.Rows}x{w.Cols} matrix");
        var input = x.AsSpan(0, w.Cols);
        if (Threads == 1 || (long)w.Rows * w.Cols < ParallelThreshold)
        {
            w.MultiplyRows(input, y, 0, w.Rows);
            return;
        }
        int chunks = Math.Min(w.Rows, Threads * 4);
        int rows = w.Rows;
        Parallel.For(0, chunks, _options, c =>
        {
            int start = (int)((long)rows * c / chunks);
            int end = (int)((long)rows * (c + 1) / chunks);
            w.MultiplyRows(x.AsSpan(0, w.Cols), y, start, end);
        });
    }

    /// <summary>Runs <paramref name="body"/> for every index in [0, count), in parallel when worth it.</summary>
    public void For(int count, long workPerItem, Action<int> body)
    {
        if (Threads == 1 || count == 1 || count * workPerItem < ParallelThreshold)
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        Parallel.For(0, count, _options, body);
    }
}
