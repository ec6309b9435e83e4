namespace Sling.Kernels;

/// <summary>
/// A batch of activation rows (Count × Cols floats, one row per token) and, made on demand and at most
/// once per change, their int8 form for integer kernels. Whoever writes <see cref="Data"/> calls
/// <see cref="Changed"/>, so q/k/v (or gate/up) reading the same input share one quantization.
/// </summary>
internal sealed class ActivationRows
{
    private readonly int _capacity;
    private Q8Activations? _q8;
    private bool _q8Current;

    public ActivationRows(int capacity, int cols)
    {
        _capacity = capacity;
        Cols = cols;
        Data = GC.AllocateArray<float>(capacity * cols, pinned: true);
    }

    public int Cols { get; }
    public int Count { get; private set; }
    public int Capacity => _capacity;
    public float[] Data { get; }

    public Span<float> Row(int t) => Data.AsSpan(t * Cols, Cols);
    /// <summary>The first Count rows.</summary>
    public Span<float> Active => Data.AsSpan(0, Count * Cols);

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
            _q8.Quantize(Data, Count, pool);
            _q8Current = true;
        }
        return _q8;
    }
}
