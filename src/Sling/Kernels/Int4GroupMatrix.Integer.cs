using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sling.Kernels;

// The integer product: int4 codes (unsigned, 0..15) times int8 activation codes, 32 at a time, then
// one float multiply per block by (weight scale · activation scale). The zero point comes out as
// Σ_g scale_g · zero_g · Σ_{b∈g} d_b·Σq_b, computed from the activations' precomputed block sums.
internal sealed unsafe partial class Int4GroupMatrix
{
    private static readonly Vector512<ulong> Duplicate = Vector512.Create(0ul, 1, 0, 1, 2, 3, 2, 3);
    private static readonly Vector512<ulong> NibbleShift = Vector512.Create(0ul, 0, 4, 4, 0, 0, 4, 4);
    private static readonly Vector512<int> PairLanes = Vector512.Create(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);

    private protected override void DotTile(int row, float* bs, Q8Rows a, int tile, float* dots, KernelIsa isa)
    {
        byte* w = _codes + (long)row * (Cols / 2);
        int blocks = Cols / BlockSize;
        if (isa == KernelIsa.Avx512 && blocks % 2 != 0) isa = KernelIsa.Avx2; // the 512-bit loop takes blocks in pairs
        if (isa == KernelIsa.Avx512 && tile == Tile) Dot4Avx512(w, bs, a, blocks).Store(dots);
        else if (isa == KernelIsa.Avx2 && tile == Tile) Dot4Avx2(w, bs, a, blocks).Store(dots);
        else
            for (int k = 0; k < tile; k++)
                dots[k] = isa switch
                {
                    KernelIsa.Avx512 => Dot1Avx512(w, bs, a.Skip(k), blocks),
                    KernelIsa.Avx2 => Dot1Avx2(w, bs, a.Skip(k), blocks),
                    KernelIsa.Vector128 => DotVector128(w, bs, a.Skip(k), blocks),
                    _ => DotScalar(w, bs, a.Skip(k), blocks),
                };
    }

    // 64 inputs (two blocks) per step: the 32 code bytes are duplicated into [b0, b0, b1, b1] halves and
    // shifted so each 128-bit lane holds 16 consecutive codes, in input order.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Unpack64(byte* w)
    {
        var packed = Avx512F.PermuteVar8x64(Vector256.Load(w).ToVector512Unsafe().AsUInt64(), Duplicate);
        return (Avx512F.ShiftRightLogicalVariable(packed, NibbleShift).AsByte() & Vector512.Create((byte)0xF));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> PairScales(float* bs) =>
        Avx512F.PermuteVar16x32(Vector512.CreateScalarUnsafe(*(double*)bs).AsSingle(), PairLanes);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Dot512(Vector512<byte> w, sbyte* a) =>
        Avx512F.ConvertToVector512Single(Avx512BW.MultiplyAddAdjacent(
            Avx512BW.MultiplyAddAdjacent(w, Vector512.Load(a)), Vector512<short>.One));

    private static float Dot1Avx512(byte* w, float* bs, Q8Rows a, int blocks)
    {
        var acc = Vector512<float>.Zero;
        sbyte* q = a.Codes(0);
        float* d = a.Lanes(0);
        for (int b = 0; b < blocks; b += 2)
            acc = Vector512.FusedMultiplyAdd(Dot512(Unpack64(w + b * 16), q + b * 32), Vector512.Load(d + b * 8) * PairScales(bs + b), acc);
        return Vector512.Sum(acc);
    }

    private static Vector128<float> Dot4Avx512(byte* w, float* bs, Q8Rows a, int blocks)
    {
        Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        sbyte* q0 = a.Codes(0), q1 = a.Codes(1), q2 = a.Codes(2), q3 = a.Codes(3);
        float* d0 = a.Lanes(0), d1 = a.Lanes(1), d2 = a.Lanes(2), d3 = a.Lanes(3);
        for (int b = 0; b < blocks; b += 2)
        {
            var codes = Unpack64(w + b * 16);
            var s = PairScales(bs + b);
            int qo = b * 32, dof = b * 8;
            acc0 = Vector512.FusedMultiplyAdd(Dot512(codes, q0 + qo), Vector512.Load(d0 + dof) * s, acc0);
            acc1 = Vector512.FusedMultiplyAdd(Dot512(codes, q1 + qo), Vector512.Load(d1 + dof) * s, acc1);
            acc2 = Vector512.FusedMultiplyAdd(Dot512(codes, q2 + qo), Vector512.Load(d2 + dof) * s, acc2);
            acc3 = Vector512.FusedMultiplyAdd(Dot512(codes, q3 + qo), Vector512.Load(d3 + dof) * s, acc3);
        }
        return Vector128.Create(Vector512.Sum(acc0), Vector512.Sum(acc1), Vector512.Sum(acc2), Vector512.Sum(acc3));
    }

    // 32 inputs (one block) per step: low nibbles are inputs 0..15, high nibbles 16..31.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Unpack32(byte* w)
    {
        var packed = Vector128.Load(w);
        var mask = Vector128.Create((byte)0xF);
        return Vector256.Create(packed & mask, Vector128.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & mask);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Dot256(Vector256<byte> w, sbyte* a) =>
        Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(w, Vector256.Load(a)), Vector256<short>.One));

    private static float Dot1Avx2(byte* w, float* bs, Q8Rows a, int blocks)
    {
        var acc = Vector256<float>.Zero;
        sbyte* q = a.Codes(0);
        float* d = a.Lanes(0);
        for (int b = 0; b < blocks; b++)
            acc = Vector256.FusedMultiplyAdd(Dot256(Unpack32(w + b * 16), q + b * 32), Vector256.Load(d + b * 8) * bs[b], acc);
        return Vector256.Sum(acc);
    }

    private static Vector128<float> Dot4Avx2(byte* w, float* bs, Q8Rows a, int blocks)
    {
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        sbyte* q0 = a.Codes(0), q1 = a.Codes(1), q2 = a.Codes(2), q3 = a.Codes(3);
        float* d0 = a.Lanes(0), d1 = a.Lanes(1), d2 = a.Lanes(2), d3 = a.Lanes(3);
        for (int b = 0; b < blocks; b++)
        {
            var codes = Unpack32(w + b * 16);
            var s = Vector256.Create(bs[b]);
            int qo = b * 32, dof = b * 8;
            acc0 = Vector256.FusedMultiplyAdd(Dot256(codes, q0 + qo), Vector256.Load(d0 + dof) * s, acc0);
            acc1 = Vector256.FusedMultiplyAdd(Dot256(codes, q1 + qo), Vector256.Load(d1 + dof) * s, acc1);
            acc2 = Vector256.FusedMultiplyAdd(Dot256(codes, q2 + qo), Vector256.Load(d2 + dof) * s, acc2);
            acc3 = Vector256.FusedMultiplyAdd(Dot256(codes, q3 + qo), Vector256.Load(d3 + dof) * s, acc3);
        }
        return Vector128.Create(Vector256.Sum(acc0), Vector256.Sum(acc1), Vector256.Sum(acc2), Vector256.Sum(acc3));
    }

    private protected override bool HasFusedAvx2 => true;

    private protected override int SharedZeroPoint => _zeros == null ? SymmetricZero : -1;

    private protected override void ZeroPoints(int row, int* zeros)
    {
        byte* z = _zeros + (long)row * ZeroBytesPerRow(Groups);
        for (int g = 0; g < Groups; g++) zeros[g] = g % 2 == 0 ? z[g / 2] & 0xF : z[g / 2] >> 4;
    }

    private protected override void FusedAvx2(int row, float* scales, int* zeros, Q8Rows a, int* zeroSums, int tile, float* dots)
    {
        byte* w = _codes + (long)row * (Cols / 2);
        if (zeros == null) FusedWalk<SharedZeroSum, Product>(w, scales, zeros, a, zeroSums, tile, dots);
        else FusedWalk<GroupZeroSum, Product>(w, scales, zeros, a, zeroSums, tile, dots);
    }

    // A block's 32 codes (16 bytes) unpacked, vpmaddubsw + vpmaddwd with the 8-bit activation codes.
    private readonly struct Product : IBlockProduct
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Of(byte* w, sbyte* q, short* wide, int b) => Int32Sums(Unpack32(w + b * 16), q + b * 32);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Int32Sums(Vector256<byte> w, sbyte* a) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(w, Vector256.Load(a)), Vector256<short>.One);

    // Portable: codes and activations widened to 16 bits (a code times a code fits), products summed in 32.
    private static float DotVector128(byte* w, float* bs, Q8Rows a, int blocks)
    {
        float total = 0;
        sbyte* q = a.Codes(0);
        var mask = Vector128.Create((byte)0xF);
        for (int b = 0; b < blocks; b++)
        {
            var packed = Vector128.Load(w + b * 16);
            var low = packed & mask;
            var high = Vector128.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & mask;
            var sum = Int16Dot(low, Vector128.Load(q + b * 32)) + Int16Dot(high, Vector128.Load(q + b * 32 + 16));
            total += Vector128.Sum(sum) * bs[b] * a.Scale(0, b);
        }
        return total;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<int> Int16Dot(Vector128<byte> codes, Vector128<sbyte> q)
    {
        var (c0, c1) = Vector128.Widen(codes);
        var (q0, q1) = Vector128.Widen(q);
        var p0 = c0.AsInt16() * q0;
        var p1 = c1.AsInt16() * q1;
        var (s0, s1) = Vector128.Widen(p0);
        var (s2, s3) = Vector128.Widen(p1);
        return s0 + s1 + s2 + s3;
    }

    private static float DotScalar(byte* w, float* bs, Q8Rows a, int blocks)
    {
        float total = 0;
        sbyte* q = a.Codes(0);
        for (int b = 0; b < blocks; b++)
        {
            int sum = 0;
            for (int j = 0; j < 16; j++)
            {
                byte v = w[b * 16 + j];
                sum += (v & 0xF) * q[b * 32 + j] + (v >> 4) * q[b * 32 + j + 16];
            }
            total += sum * bs[b] * a.Scale(0, b);
        }
        return total;
    }
}
