using Sling.Kernels;
using Sling.Quantization;

namespace Sling.Tests.Support;

/// <summary>Random matrices quantized by Sling's own quantizer into the int4/int8 group formats, in pinned memory.</summary>
public static unsafe class QuantizedMatrices
{
    public sealed record Built(GroupMatrix Matrix, float[] Weights, Half[] Scales);

    public static Built Build(int bits, bool symmetric, int group, int rows, int cols, int seed, KernelIsa isa)
    {
        var format = new QuantizedFormat(bits, symmetric, group);
        var rng = new Random(seed);
        var weights = Enumerable.Range(0, rows * cols).Select(_ => (float)(rng.NextDouble() - 0.45)).ToArray();
        int groups = cols / group;
        int codeBytes = bits == 4 ? cols / 2 : cols, zeroBytes = bits == 4 ? (groups + 1) / 2 : groups;
        var packed = GC.AllocateArray<byte>(rows * codeBytes, pinned: true);
        var scales = GC.AllocateArray<Half>(rows * groups, pinned: true);
        var packedZeros = GC.AllocateArray<byte>(rows * zeroBytes, pinned: true);
        var codes = new byte[cols];
        var zeros = new byte[groups];
        for (int r = 0; r < rows; r++)
        {
            GroupQuantizer.QuantizeRow(weights.AsSpan(r * cols, cols), format, codes, scales.AsSpan(r * groups, groups), zeros);
            if (bits == 4)
            {
                QuantizedTensors.PackInt4(codes, packed.AsSpan(r * codeBytes, codeBytes));
                for (int g = 0; g < groups; g++) packedZeros[r * zeroBytes + g / 2] |= (byte)(g % 2 == 0 ? zeros[g] : zeros[g] << 4);
            }
            else
            {
                codes.CopyTo(packed, r * codeBytes);
                zeros.CopyTo(packedZeros, r * zeroBytes);
            }
        }
        var owner = new object[] { packed, scales, packedZeros };
        byte* cp = (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref packed[0]);
        Half* sp = (Half*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref scales[0]);
        byte* zp = symmetric ? null : (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref packedZeros[0]);
        GroupMatrix m = bits == 4
            ? new Int4GroupMatrix(cp, sp, zp, rows, cols, group, owner) { Isa = isa }
            : new Int8GroupMatrix(cp, sp, zp, rows, cols, group, owner) { Isa = isa };
        return new Built(m, weights, scales);
    }
}
