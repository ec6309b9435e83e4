using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sling.Kernels;

// The integer product: unsigned 8-bit codes widened to 16 bits times the activations' 16-bit codes
// (vpmaddwd: a code times a code fits, pairs add in 32 bits), one float multiply per block.
internal sealed unsafe partial class Int8GroupMatrix
{
    private protected override void DotTile(int row, float* bs, Q8Rows a, int tile, float* dots, KernelIsa isa)
    {
        byte* w = _codes + (long)row * Cols;
        int full = Cols / Q8Activations.BlockSize;
        if (isa == KernelIsa.Avx512 && tile == Tile) Dot4Avx512(w, bs, a, full).Store(dots);
        else
            for (int k = 0; k < tile; k++)
                dots[k] = isa switch
                {
                    KernelIsa.Avx512 => Dot1Avx512(w, bs, a.Skip(k), full),
                    KernelIsa.Avx2 => Dot1Avx2(w, bs, a.Skip(k), full),
                    KernelIsa.Vector128 => DotVector128(w, bs, a.Skip(k), full),
                    _ => DotScalar(w, bs, a.Skip(k), full, 0),
                };
        if (full * Q8Activations.BlockSize < Cols) // a row that ends inside a block: its last block by plain loop
            for (int k = 0; k < tile; k++)
                dots[k] += DotScalar(w, bs, a.Skip(k), full + 1, full);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Dot512(Vector512<short> w, short* q) =>
        Avx512F.ConvertToVector512Single(Avx512BW.MultiplyAddAdjacent(w, Vector512.Load(q)));

    private static float Dot1Avx512(byte* w, float* bs, Q8Rows a, int blocks)
    {
        var acc = Vector512<float>.Zero;
        short* q = a.Wide(0);
        for (int b = 0; b < blocks; b++)
            acc = Vector512.FusedMultiplyAdd(Dot512(Avx512BW.ConvertToVector512Int16(Vector256.Load(w + b * 32)), q + b * 32),
                Vector512.Create(a.Scale(0, b) * bs[b]), acc);
        return Vector512.Sum(acc);
    }

    private static Vector128<float> Dot4Avx512(byte* w, float* bs, Q8Rows a, int blocks)
    {
        Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        short* q0 = a.Wide(0), q1 = a.Wide(1), q2 = a.Wide(2), q3 = a.Wide(3);
        for (int b = 0; b < blocks; b++)
        {
            var codes = Avx512BW.ConvertToVector512Int16(Vector256.Load(w + b * 32));
            float s = bs[b];
            int o = b * 32;
            acc0 = Vector512.FusedMultiplyAdd(Dot512(codes, q0 + o), Vector512.Create(a.Scale(0, b) * s), acc0);
            acc1 = Vector512.FusedMultiplyAdd(Dot512(codes, q1 + o), Vector512.Create(a.Scale(1, b) * s), acc1);
            acc2 = Vector512.FusedMultiplyAdd(Dot512(codes, q2 + o), Vector512.Create(a.Scale(2, b) * s), acc2);
            acc3 = Vector512.FusedMultiplyAdd(Dot512(codes, q3 + o), Vector512.Create(a.Scale(3, b) * s), acc3);
        }
        return Vector128.Create(Vector512.Sum(acc0), Vector512.Sum(acc1), Vector512.Sum(acc2), Vector512.Sum(acc3));
    }

    private static float Dot1Avx2(byte* w, float* bs, Q8Rows a, int blocks)
    {
        var acc = Vector256<float>.Zero;
        short* q = a.Wide(0);
        for (int b = 0; b < blocks; b++)
        {
            var low = Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.Load(w + b * 32)), Vector256.Load(q + b * 32));
            var high = Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.Load(w + b * 32 + 16)), Vector256.Load(q + b * 32 + 16));
            acc = Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(low + high), Vector256.Create(a.Scale(0, b) * bs[b]), acc);
        }
        return Vector256.Sum(acc);
    }

    // Whole blocks only: a row that ends inside a block, or groups that are not whole blocks, take the general walk.
    private protected override bool HasFusedAvx2 => Cols % Q8Activations.BlockSize == 0 && GroupSize % Q8Activations.BlockSize == 0;

    private protected override int SharedZeroPoint => _zeros == null ? SymmetricZero : -1;

    private protected override void ZeroPoints(int row, int* zeros)
    {
        for (int g = 0; g < Groups; g++) zeros[g] = _zeros[(long)row * Groups + g];
    }

    private protected override void FusedAvx2(int row, float* scales, int* zeros, Q8Rows a, int* zeroSums, int tile, float* dots)
    {
        byte* w = _codes + (long)row * Cols;
        if (zeros == null) FusedWalk<SharedZeroSum, Product>(w, scales, zeros, a, zeroSums, tile, dots);
        else FusedWalk<GroupZeroSum, Product>(w, scales, zeros, a, zeroSums, tile, dots);
    }

    // A block's 32 codes widened to 16 bits, vpmaddwd with the 16-bit activation codes.
    private readonly struct Product : IBlockProduct
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Of(byte* w, sbyte* q, short* wide, int b) =>
            Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.Load(w + b * 32)), Vector256.Load(wide + b * 32))
            + Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.Load(w + b * 32 + 16)), Vector256.Load(wide + b * 32 + 16));
    }

    private static float DotVector128(byte* w, float* bs, Q8Rows a, int blocks)
    {
        float total = 0;
        sbyte* q = a.Codes(0);
        for (int b = 0; b < blocks; b++)
        {
            var sum = Int4GroupMatrix.Int16Dot(Vector128.Load(w + b * 32), Vector128.Load(q + b * 32))
                + Int4GroupMatrix.Int16Dot(Vector128.Load(w + b * 32 + 16), Vector128.Load(q + b * 32 + 16));
            total += Vector128.Sum(sum) * bs[b] * a.Scale(0, b);
        }
        return total;
    }

    // Blocks [from, to); the last may be partial (the activations are zero-padded, the weights are not).
    private float DotScalar(byte* w, float* bs, Q8Rows a, int to, int from)
    {
        float total = 0;
        sbyte* q = a.Codes(0);
        for (int b = from; b < to; b++)
        {
            int sum = 0, end = Math.Min(Cols, (b + 1) * Q8Activations.BlockSize);
            for (int j = b * Q8Activations.BlockSize; j < end; j++) sum += w[j] * q[j];
            total += sum * bs[b] * a.Scale(0, b);
        }
        return total;
    }
}
