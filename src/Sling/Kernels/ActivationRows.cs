namespace Sling.Kernels;

/// <summary>
/// A batch of activation rows (Count × Cols floats, one row per token, in native memory that never
/// moves) and, made on demand and at most once per change, their int8 form for integer kernels.
/// Whoever writes the rows calls <see cref="Changed"/>, so q/k/v (or gate/up) reading the same input
/// share one quantization. Disposing returns the memory at once.
/// </summary>
internal sealed class ActivationRows : IDisposable
{
    private readonly int _capacity;
    private readonly NativeArray<float> _data;
    private Q8Activations? _q8;
    private bool _q8Current;

    public ActivationRows(int capacity, int cols)
    {
        _capacity = capacity;
        Cols = cols;
        _data = new NativeArray<float>(capacity * cols);
    }

    public int Cols { get; }
    public int Count { get; private set; }
    public int Capacity => _capacity;

    public Span<float> Row(int t) => _data.AsSpan(t * Cols, Cols);
    /// <summary>The first Count rows.</summary>
    public Span<float> Active => _data.AsSpan(0, Count * Cols);
    /// <summary>All Capacity rows (a product's output may run past Count).</summary>
    internal unsafe float* Pointer => _data.Pointer;
    internal int Length => _data.Length;

    /// <summary>Bytes of the rows and of their int8 form once made.</summary>
    public long Bytes => (long)_data.Length * sizeof(float) + (_q8?.Bytes ?? 0);

    public void SetCount(int count)
    {
        if ((uint)count > (uint)_capacity) throw new ArgumentOutOfRangeException(nameof(count), $"{count} rows for a batch of {_capacity}");
        Count = count;
        _q8Current = false;
    }

    public void Changed() => _q8Current = false;

    internal Q8Activations Quantized(ComputePool? pool = null)
    {
        _q8 ??= new Q8Activations(_capacity, Cols);
        if (!_q8Current)
        {
            _q8.Quantize(Active, Count, pool);
            _q8Current = true;
        }
        return _q8;
    }

    public void Dispose()
    {
        _data.Dispose();
        _q8?.Dispose();
    }
}
