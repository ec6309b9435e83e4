using Sling.Kernels;

namespace Sling.Models;

/// <summary>
/// The activation rows of one forward pass over up to <see cref="Capacity"/> tokens, from one
/// sequence or several: residual stream, norms, projections, attention and MLP rows, each row's
/// rotary cos/sin, and the reused product jobs. A sequence's own state holds one set; a batch of
/// several sequences (<see cref="DecodeBatch"/>) holds another. The rows live in native memory,
/// returned at once by <see cref="Dispose"/>.
/// </summary>
internal sealed class ForwardBuffers : IDisposable
{
    private float[]? _allLogits;
    private readonly ActivationRows[] _all;
    private readonly (WeightMatrix, ActivationRows)[][] _products = [[], new (WeightMatrix, ActivationRows)[1], new (WeightMatrix, ActivationRows)[2], new (WeightMatrix, ActivationRows)[3]];

    public ForwardBuffers(TransformerConfig c, int capacity)
    {
        Capacity = capacity;
        X = new ActivationRows(capacity, c.Dim);
        Normed = new ActivationRows(capacity, c.Dim);
        Query = new ActivationRows(capacity, c.QDim);
        Key = new ActivationRows(capacity, c.KvDim);
        Value = new ActivationRows(capacity, c.KvDim);
        AttentionOut = new ActivationRows(capacity, c.QDim);
        Projected = new ActivationRows(capacity, c.Dim);
        Gate = c.Mlp == MlpKind.GatedSilu ? new ActivationRows(capacity, c.HiddenDim) : null; // a plain MLP (Phi) has no gate
        Up = new ActivationRows(capacity, c.HiddenDim);
        MlpOut = new ActivationRows(capacity, c.Dim);
        int pairs = c.RotaryDim / 2;
        Cos = new float[capacity * pairs];
        Sin = new float[capacity * pairs];
        _all = new[] { X, Normed, Query, Key, Value, AttentionOut, Projected, Gate, Up, MlpOut }.OfType<ActivationRows>().ToArray();
        States = new InferenceState[capacity];
        Positions = new int[capacity];
    }

    public int Capacity { get; }
    public ActivationRows X { get; }
    public ActivationRows Normed { get; }
    public ActivationRows Query { get; }
    public ActivationRows Key { get; }
    public ActivationRows Value { get; }
    public ActivationRows AttentionOut { get; }
    public ActivationRows Projected { get; }
    public ActivationRows? Gate { get; }
    public ActivationRows Up { get; }
    public ActivationRows MlpOut { get; }
    public float[] Cos { get; }
    public float[] Sin { get; }
    /// <summary>Row t's sequence and position.</summary>
    public InferenceState[] States { get; }
    public int[] Positions { get; }
    public MatMul MatMul { get; } = new();
    /// <summary>The model's attention job over these rows, made on first use and reused.</summary>
    public IParallelJob? Attention { get; set; }
    /// <summary>This set's latest forward pass, numbered across all sets (a state may run in its own set and in a batch's), so a pass can tell which states it already gave logits.</summary>
    public int Pass { get; private set; }

    private static int _passes;

    /// <summary>Numbers a new pass over these rows.</summary>
    public int NextPass() => Pass = Interlocked.Increment(ref _passes);

    /// <summary>Bytes of the activation rows and their int8 forms made so far.</summary>
    public long Bytes => _all.Sum(rows => rows.Bytes);

    public void SetCount(int n)
    {
        foreach (var rows in _all) rows.SetCount(n);
    }

    public void Dispose()
    {
        foreach (var rows in _all) rows.Dispose();
    }

    /// <summary>A reused list of (weights, output) pairs for one fused product.</summary>
    public (WeightMatrix, ActivationRows)[] Products(int count) => _products[count];

    /// <summary>Logits of several rows (rows × vocabulary), grown to the most rows asked for (a prompt
    /// wants one row: a buffer for the whole batch would take capacity × vocabulary floats).</summary>
    public float[] AllLogits(int rows, int vocab)
    {
        if (_allLogits == null || _allLogits.Length < rows * vocab) _allLogits = new float[rows * vocab];
        return _allLogits;
    }
}

/// <summary>One token of a multi-sequence forward pass: which sequence, at which position, and whether its logits are wanted.</summary>
internal readonly record struct BatchItem(InferenceState State, int Token, int Position, bool WantLogits = true);

/// <summary>
/// Buffers for forward passes whose rows come from several sequences at once (continuous batching):
/// the weights are read once for all of them. Created by <see cref="Transformer.CreateBatch"/>.
/// </summary>
internal sealed class DecodeBatch
{
    internal DecodeBatch(TransformerConfig config, int capacity) => Buffers = new ForwardBuffers(config, capacity);

    /// <summary>Most tokens one pass takes.</summary>
    public int Capacity => Buffers.Capacity;
    internal ForwardBuffers Buffers { get; }
}
