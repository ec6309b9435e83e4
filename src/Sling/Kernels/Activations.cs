using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Sling.Kernels;

internal static class Activations
{
    private const int Chunk = 256;

    /// <summary>gate ← silu(gate) · up = gate · sigmoid(gate) · up, the SwiGLU combination.</summary>
    public static void SwiGlu(Span<float> gate, ReadOnlySpan<float> up)
    {
        Span<float> sigmoid = stackalloc float[Chunk];
        for (int i = 0; i < gate.Length; i += Chunk)
        {
            int n = Math.Min(Chunk, gate.Length - i);
            var g = gate.Slice(i, n);
            var s = sigmoid[..n];
            TensorPrimitives.Sigmoid(g, s);
            TensorPrimitives.Multiply(g, s, g);
            TensorPrimitives.Multiply(g, up.Slice(i, n), g);
        }
    }

    /// <summary>The tanh approximation of GELU ("gelu_new" in Hugging Face configs): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).</summary>
    public static void GeluTanh(Span<float> x)
    {
        const float c = 0.7978845608028654f; // sqrt(2/π)
        Span<float> inner = stackalloc float[Chunk];
        for (int i = 0; i < x.Length; i += Chunk)
        {
            int n = Math.Min(Chunk, x.Length - i);
            var v = x.Slice(i, n);
            var t = inner[..n];
            TensorPrimitives.Multiply(v, v, t);                  // x²
            TensorPrimitives.Multiply(t, 0.044715f * c, t);
            TensorPrimitives.Add(t, c, t);                       // c·(1 + 0.044715·x²)
            TensorPrimitives.Multiply(t, v, t);                  // c·(x + 0.044715·x³)
            TensorPrimitives.Tanh(t, t);
            TensorPrimitives.Multiply(t, 0.5f, t);
            TensorPrimitives.Add(t, 0.5f, t);                    // 0.5·(1 + tanh)
            TensorPrimitives.Multiply(v, t, v);
        }
    }

    /// <summary>
    /// In-place softmax: e^(x − max) / Σ, so scores of any size stay finite (TensorPrimitives.SoftMax
    /// exponentiates x itself: a score above ~88.7 made every weight NaN). One exponential per value,
    /// <see cref="VectorExp"/> where 512-bit vectors run (a partial last vector padded with −∞, whose
    /// exponentials are exact zeros).
    /// </summary>
    public static unsafe void Softmax(Span<float> x)
    {
        if (x.IsEmpty) return;
        float max = TensorPrimitives.Max(x);
        if (!Vector512.IsHardwareAccelerated)
        {
            TensorPrimitives.Subtract(x, max, x);
            TensorPrimitives.Exp(x, x);
            TensorPrimitives.Divide(x, TensorPrimitives.Sum(x), x);
            return;
        }
        var shift = Vector512.Create(max);
        var sum = Vector512<float>.Zero;
        fixed (float* p = x)
        {
            int i = 0;
            for (; i + 16 <= x.Length; i += 16)
            {
                var e = VectorExp.Exp(Vector512.Load(p + i) - shift);
                e.Store(p + i);
                sum += e;
            }
            if (i < x.Length)
            {
                float* tail = stackalloc float[16];
                new Span<float>(tail, 16).Fill(float.NegativeInfinity);
                x[i..].CopyTo(new Span<float>(tail, 16));
                var e = VectorExp.Exp(Vector512.Load(tail) - shift);
                e.Store(tail);
                sum += e;
                new Span<float>(tail, x.Length - i).CopyTo(x[i..]);
            }
        }
        TensorPrimitives.Divide(x, Vector512.Sum(sum), x);
    }
}
