using System.Numerics.Tensors;
using Sling.Kernels;

namespace Sling.Models;

/// <summary>How the key/value cache stores its numbers.</summary>
public enum KvCachePrecision
{
    /// <summary>fp32: exact (the default; golden-logit tests hold to it).</summary>
    F32,
    /// <summary>IEEE half: half the memory and memory traffic of long contexts, ~1e-3 relative rounding.</summary>
    F16,
}

/// <summary>
/// One sequence's keys and values, [layer][position][kvDim], in fp32 or fp16. Attention reads it
/// through <see cref="Attention"/>'s kernels, widening fp16 on the fly.
/// </summary>
internal sealed class KvCache
{
    private readonly float[][]? _keys32, _values32;
    private readonly Half[][]? _keys16, _values16;
    private readonly int _kvDim;

    internal KvCache(int layers, int contextLength, int kvDim, KvCachePrecision precision)
    {
        Precision = precision;
        _kvDim = kvDim;
        long length = (long)contextLength * kvDim;
        if (precision == KvCachePrecision.F32)
        {
            _keys32 = Enumerable.Range(0, layers).Select(_ => new float[length]).ToArray();
            _values32 = Enumerable.Range(0, layers).Select(_ => new float[length]).ToArray();
        }
        else
        {
            _keys16 = Enumerable.Range(0, layers).Select(_ => new Half[length]).ToArray();
            _values16 = Enumerable.Range(0, layers).Select(_ => new Half[length]).ToArray();
        }
        Bytes = 2L * layers * length * (precision == KvCachePrecision.F32 ? sizeof(float) : 2);
    }

    public KvCachePrecision Precision { get; }
    public long Bytes { get; }

    /// <summary>Stores the keys and values of consecutive positions from <paramref name="position"/>.</summary>
    internal void Write(int layer, int position, ReadOnlySpan<float> keys, ReadOnlySpan<float> values)
    {
        int at = position * _kvDim;
        if (_keys32 != null)
        {
            keys.CopyTo(_keys32[layer].AsSpan(at));
            values.CopyTo(_values32![layer].AsSpan(at));
        }
        else
        {
            TensorPrimitives.ConvertToHalf(keys, _keys16![layer].AsSpan(at, keys.Length));
            TensorPrimitives.ConvertToHalf(values, _values16![layer].AsSpan(at, values.Length));
        }
    }

    /// <summary>scores[i] = scale · q · key(first + i) for one head (<paramref name="offset"/> selects it within a position).</summary>
    internal void Scores(int layer, int first, int offset, ReadOnlySpan<float> q, Span<float> scores, float scale)
    {
        int at = first * _kvDim + offset;
        if (_keys32 != null) Attention.Scores<float, Fp32Element>(q, _keys32[layer].AsSpan(at), _kvDim, scores, scale);
        else Attention.Scores<Half, Fp16Element>(q, _keys16![layer].AsSpan(at), _kvDim, scores, scale);
    }

    /// <summary>output = Σ_i weights[i] · value(first + i) for one head.</summary>
    internal void WeightedSum(int layer, int first, int offset, ReadOnlySpan<float> weights, Span<float> output)
    {
        int at = first * _kvDim + offset;
        if (_values32 != null) Attention.WeightedSum<float, Fp32Element>(weights, _values32[layer].AsSpan(at), _kvDim, output);
        else Attention.WeightedSum<Half, Fp16Element>(weights, _values16![layer].AsSpan(at), _kvDim, output);
    }
}
