using System.Numerics.Tensors;

namespace Sling.Kernels;

internal static class Normalization
{
    /// <summary>y = x / sqrt(mean(x²) + eps) · w</summary>
    public static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, Span<float> y)
    {
        float meanSquare = TensorPrimitives.SumOfSquares(x) / x.Length;
        float inv = 1f / MathF.Sqrt(meanSquare + eps);
        TensorPrimitives.Multiply(x, inv, y);
        TensorPrimitives.Multiply(y, weight, y);
    }

    /// <summary>y = (x − mean) / sqrt(var + eps) · w + b, with the biased variance as PyTorch's LayerNorm.</summary>
    public static void LayerNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, float eps, Span<float> y)
    {
        float mean = TensorPrimitives.Sum(x) / x.Length;
        TensorPrimitives.Subtract(x, mean, y);
        float variance = TensorPrimitives.SumOfSquares(y) / x.Length;
        TensorPrimitives.Multiply(y, 1f / MathF.Sqrt(variance + eps), y);
        TensorPrimitives.Multiply(y, weight, y);
        if (!bias.IsEmpty) TensorPrimitives.Add(y, bias, y);
    }
}
