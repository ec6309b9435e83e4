using System.Runtime.InteropServices;
using Sling.Formats;
using Sling.Kernels;
using Sling.Models;

namespace Sling.Bench;

/// <summary>
/// A matrix of random llama.cpp K-quant blocks (Q6_K, Q5_K, Q3_K, Q2_K) as a GGUF file would hold
/// them, loaded into the 6-bit interleaved layout as the GGUF loader does. Random code bits are all
/// valid codes; only the half-precision super-block factors are set to finite values.
/// </summary>
internal static unsafe class RawKQuants
{
    /// <summary>Format name → (ggml type, byte offsets of the super-block's half-precision factors).</summary>
    public static IReadOnlyDictionary<string, (uint Type, int[] Halves)> Types { get; } = new Dictionary<string, (uint, int[])>
    {
        ["q6_k"] = (GgmlBlocks.Q6_K, [208]),
        ["q5_k"] = (GgmlBlocks.Q5_K, [0, 2]),
        ["q3_k"] = (GgmlBlocks.Q3_K, [108]),
        ["q2_k"] = (GgmlBlocks.Q2_K, [80, 82]),
    };

    public static WeightMatrix Matrix(int rows, int cols, string format)
    {
        var (type, halves) = Types[format];
        var (values, bytes) = GgmlBlocks.Layout(type)!.Value;
        long rowBytes = (long)cols / values * bytes, total = rows * rowBytes;
        byte* blocks = (byte*)NativeMemory.AlignedAlloc((nuint)total, 64);
        try
        {
            var rng = new Random(1);
            rng.NextBytes(new Span<byte>(blocks, checked((int)total)));
            float scale = 1f / MathF.Sqrt(cols) / 64;
            for (long b = 0; b < total / bytes; b++)
                foreach (int offset in halves) *(Half*)(blocks + b * bytes + offset) = (Half)(scale * (float)(0.5 + rng.NextDouble()));
            var factors = GgufLoader.Factors(type, blocks, rows, cols, rowBytes)!;
            return new Int6RowBlockMatrix(new KQuantInt8Source(type, blocks, rows, cols, factors, null)); // a copy: the blocks can go
        }
        finally
        {
            NativeMemory.AlignedFree(blocks);
        }
    }
}
