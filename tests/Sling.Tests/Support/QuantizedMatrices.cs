using Sling.Kernels;
using Sling.Quantization;

namespace Sling.Tests.Support;

/// <summary>Random matrices quantized by Sling's own quantizer into the int4/int8 group formats.</summary>
internal static class QuantizedMatrices
{
    public sealed record Built(GroupMatrix Matrix, float[] Weights, Half[] Scales);

    public static Built Build(int bits, bool symmetric, int group, int rows, int cols, int seed, KernelIsa isa)
    {
        var rng = new Random(seed);
        var weights = Enumerable.Range(0, rows * cols).Select(_ => (float)(rng.NextDouble() - 0.45)).ToArray();
        var m = QuantizedTensors.Quantize(r => weights[(r * cols)..((r + 1) * cols)], rows, cols, new QuantizedFormat(bits, symmetric, group));
        m.Isa = isa;
        var scales = new Half[rows * (cols / group)];
        for (int r = 0; r < rows; r++)
            for (int g = 0; g < cols / group; g++) scales[r * (cols / group) + g] = (Half)m.Scale(r, g);
        return new Built(m, weights, scales);
    }

    /// <summary><paramref name="tokens"/> activation rows of uniform values in [−1, 1), quantized for the integer kernels.</summary>
    public static Q8Activations RandomActivations(int tokens, int cols, int seed)
    {
        var rng = new Random(seed);
        var input = new ActivationRows(tokens, cols);
        input.SetCount(tokens);
        for (int i = 0; i < input.Active.Length; i++) input.Active[i] = (float)(rng.NextDouble() * 2 - 1);
        return input.Quantized();
    }
}
