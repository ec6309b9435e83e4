using System.Numerics.Tensors;

namespace Sling.Kernels;

public static class Activations
{
    /// <summary>gate ← silu(gate) · up, the SwiGLU combination.</summary>
    public static void SwiGlu(Span<float> gate, ReadOnlySpan<float> up)
    {
        for (int i = 0; i < gate.Length; i++)
        {
            float g = gate[i];
            gate[i] = g / (1f + MathF.Exp(-g)) * up[i];
        }
    }

    /// <summary>The tanh approximation of GELU ("gelu_new" in Hugging Face configs).</summary>
    public static void GeluTanh(Span<float> x)
    {
        const float c = 0.7978845608028654f; // sqrt(2/π)
        for (int i = 0; i < x.Length; i++)
        {
            float v = x[i];
            x[i] = 0.5f * v * (1f + MathF.Tanh(c * (v + 0.044715f * v * v * v)));
        }
    }

    /// <summary>In-place softmax, stable against large logits.</summary>
    public static void Softmax(Span<float> x) => TensorPrimitives.SoftMax(x, x);
}
