using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sling.Kernels;

/// <summary>
/// llama.cpp's K-quants whose codes fit six bits (Q6_K, Q5_K, Q3_K, Q2_K) in the 16-row interleaved layout (<see cref="RowBlockMatrix"/>) at 6 bits
/// per code: per 16-row block and 32-input block, the codes' low four bits laid out as
/// <see cref="Int4RowBlockMatrix"/> lays out its codes (256 bytes: vector j holds, in lane r, inputs
/// 8j..8j+3 in its low nibbles and 8j+4..8j+7 in its high nibbles), then their high two bits in two
/// 64-byte planes: code vector m (m = 2j for the low nibbles of vector j, 2j + 1 for the high) keeps
/// its bits at bits 2(m mod 4) of plane m / 4. A signed code c (Q6_K's q − 32, Q3_K's q − 4, Q5_K's and
/// Q2_K's q) is stored as u = c + 32 in 0..63, so value = s·c − o = s·u − (32·s + o). Scale factors as
/// the file stores them: per 16 values (Q6_K, Q3_K, Q2_K: each block's two halves summed apart) or
/// per 32 (Q5_K), with offsets for Q5_K and Q2_K.
/// </summary>
internal sealed unsafe class Int6RowBlockMatrix : RowBlockMatrix
{
    private const int Zero = 32;
    private const int LowBytes = 256;

    /// <summary>True when the source's codes are known to fit: signed, in −32..31, with factored scales per 16 or 32 values.</summary>
    internal static bool Holds(RepackSource m) =>
        m.SignedCodes && m.Factors is { GroupSize: 16 or 32 } && m.SignedCodeRange is var (min, max) && min >= -Zero && max < Zero;

    internal Int6RowBlockMatrix(StoredLayout shape, NativeBuffer codes, NativeBuffer scales, NativeBuffer? super, byte[]? zeros)
        : base(shape, codes, scales, super, zeros) { }

    private protected override string Kind => "int6";

    internal Int6RowBlockMatrix(RepackSource m) : base(m)
    {
        if (!m.SignedCodes || m.Factors is not { GroupSize: 16 or 32 })
            throw new ArgumentException("the 6-bit layout holds K-quants: signed codes with factored scales per 16 or 32 values");
        int blocks = Cols / BlockSize, cols = Cols;
        byte* target = _codes;
        ForEachRowBlock(m, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (rb) =>
        {
            byte* scratch = stackalloc byte[cols];
            const uint Low = 0x0F0F0F0F, Two = 0x03030303;
            for (int r = 0; r < RowsPerBlock; r++)
            {
                byte* row = m.Int8RowCodes(rb * RowsPerBlock + r, scratch);
                var signed = new ReadOnlySpan<sbyte>(row, cols);
                if (System.Numerics.Tensors.TensorPrimitives.Min(signed) < -Zero || System.Numerics.Tensors.TensorPrimitives.Max(signed) >= Zero)
                    throw new ArgumentException($"row {rb * RowsPerBlock + r} has codes outside -{Zero}..{Zero - 1}, which 6 bits do not hold");
                uint* words = (uint*)row; // four codes per word: word mv holds inputs 4·mv .. 4·mv + 3
                for (int b = 0; b < blocks; b++, words += 8)
                {
                    byte* block = target + ((long)rb * blocks + b) * BlockBytesOf6 + r * 4;
                    // u = c + 32 for c in -32..31 is c's low six bits with bit 5 flipped (no carries between bytes).
                    uint u0 = (words[0] & 0x3F3F3F3F) ^ 0x20202020, u1 = (words[1] & 0x3F3F3F3F) ^ 0x20202020;
                    uint u2 = (words[2] & 0x3F3F3F3F) ^ 0x20202020, u3 = (words[3] & 0x3F3F3F3F) ^ 0x20202020;
                    uint u4 = (words[4] & 0x3F3F3F3F) ^ 0x20202020, u5 = (words[5] & 0x3F3F3F3F) ^ 0x20202020;
                    uint u6 = (words[6] & 0x3F3F3F3F) ^ 0x20202020, u7 = (words[7] & 0x3F3F3F3F) ^ 0x20202020;
                    *(uint*)block = (u0 & Low) | (u1 & Low) << 4;
                    *(uint*)(block + 64) = (u2 & Low) | (u3 & Low) << 4;
                    *(uint*)(block + 128) = (u4 & Low) | (u5 & Low) << 4;
                    *(uint*)(block + 192) = (u6 & Low) | (u7 & Low) << 4;
                    *(uint*)(block + LowBytes) = (u0 >> 4 & Two) | (u1 >> 4 & Two) << 2 | (u2 >> 4 & Two) << 4 | (u3 >> 4 & Two) << 6;
                    *(uint*)(block + LowBytes + 64) = (u4 >> 4 & Two) | (u5 >> 4 & Two) << 2 | (u6 >> 4 & Two) << 4 | (u7 >> 4 & Two) << 6;
                }
            }
        });
    }

    private const int BlockBytesOf6 = LowBytes + 128;

    // Factored scales (every K-quant here) have a VNNI kernel.
    private protected override Emit.VnniKernel? VnniKernel(int stride, int blocks)
        => Vnni && SixBitFold is { } fold ? Emit.VnniKernel.For(6, Emit.VnniCodes.Unsigned, stride, blocks, 0, fold) : null;
    public override string Format => SourceFormat ?? "int6";
    private protected override int BlockBytes => BlockBytesOf6;

    private protected override int CodeAt(int row, int col)
    {
        int rb = row / RowsPerBlock, r = row % RowsPerBlock, b = col / BlockSize, k = col % BlockSize;
        int mv = k / 4, i = k % 4;
        byte* block = _codes + ((long)rb * (Cols / BlockSize) + b) * BlockBytesOf6;
        byte low = block[mv / 2 * 64 + r * 4 + i];
        int plane = block[LowBytes + mv / 4 * 64 + r * 4 + i] >> 2 * (mv % 4) & 3;
        return ((mv % 2 == 0 ? low & 0xF : low >> 4) | plane << 4) - Zero;
    }

    // Code vector m's high two bits moved to bits 4–5 of each byte (16-bit shifts: what crosses a
    // byte border lands outside the mask).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> High(Vector512<byte> plane, int k, Vector512<byte> mask) => k switch
    {
        0 => Vector512.ShiftLeft(plane.AsUInt16(), 4).AsByte() & mask,
        1 => Vector512.ShiftLeft(plane.AsUInt16(), 2).AsByte() & mask,
        2 => plane & mask,
        _ => Vector512.ShiftRightLogical(plane.AsUInt16(), 2).AsByte() & mask,
    };

    // Σ code·q of one 16-input half (code vectors 4h..4h+3 against quads 4h..4h+3): two vpmaddubsw sums
    // (each lane at most 2·63·127) fit a 16-bit lane, then vpmaddwd widens.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> HalfDot(Vector512<byte> u0, Vector512<byte> u1, Vector512<byte> u2, Vector512<byte> u3, int* quads, Vector512<short> ones)
    {
        var s0 = Avx512BW.MultiplyAddAdjacent(u0, Vector512.Create(quads[0]).AsSByte()) + Avx512BW.MultiplyAddAdjacent(u1, Vector512.Create(quads[1]).AsSByte());
        var s1 = Avx512BW.MultiplyAddAdjacent(u2, Vector512.Create(quads[2]).AsSByte()) + Avx512BW.MultiplyAddAdjacent(u3, Vector512.Create(quads[3]).AsSByte());
        return Avx512F.ConvertToVector512Single(Avx512BW.MultiplyAddAdjacent(s0, ones) + Avx512BW.MultiplyAddAdjacent(s1, ones));
    }

    /// <summary>One activation row's block folded in: per group, s·d·Σ u·q − (32·s + o)·d·Σq, the two
    /// halves as groups of their own (16 values) or together (32).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Fold(Vector512<float> acc, Vector512<byte> u0, Vector512<byte> u1, Vector512<byte> u2, Vector512<byte> u3,
        Vector512<byte> u4, Vector512<byte> u5, Vector512<byte> u6, Vector512<byte> u7, Activations a, int k, int b,
        Vector512<float> s0, Vector512<float> o0, Vector512<float> s1, Vector512<float> o1, bool halves, Vector512<short> ones)
    {
        int* quads = (int*)(a.Codes(k) + b * BlockSize);
        var d = Vector512.Create(a.Scales(k)[b]);
        float* sums = a.GroupSums(k);
        var first = HalfDot(u0, u1, u2, u3, quads, ones);
        var second = HalfDot(u4, u5, u6, u7, quads + 4, ones);
        if (!halves) return AffineGroup(acc, s0, o0, (first + second) * d, sums, b);
        acc = AffineGroup(acc, s0, o0, first * d, sums, 2 * b);
        return AffineGroup(acc, s1, o1, second * d, sums, 2 * b + 1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private protected override void RowBlock(Weights w, Activations a, float* result, int stride)
    {
        var nibble = Vector512.Create((byte)0xF);
        var highBits = Vector512.Create((byte)0x30);
        var ones = Vector512<short>.One;
        bool halves = w.BlocksPerGroup == 0; // groups of 16 (Q6_K) or of 32 (Q5_K)
        int tile = a.Tile, blocks = halves ? w.Groups / 2 : w.Groups;
        Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        for (int b = 0; b < blocks; b++)
        {
            byte* c = w.Codes + (long)b * BlockBytesOf6;
            // The low four bits as the int4 layout holds them (its unpack asks for those lines), then the planes.
            Int4RowBlockMatrix.Unpack(c, nibble, out var l0, out var h0, out var l1, out var h1, out var l2, out var h2, out var l3, out var h3);
            Sse.Prefetch0(c + PrefetchDistance + LowBytes);
            Sse.Prefetch0(c + PrefetchDistance + LowBytes + 64);
            var p0 = Vector512.Load(c + LowBytes);
            var p1 = Vector512.Load(c + LowBytes + 64);
            var u0 = l0 | High(p0, 0, highBits);
            var u1 = h0 | High(p0, 1, highBits);
            var u2 = l1 | High(p0, 2, highBits);
            var u3 = h1 | High(p0, 3, highBits);
            var u4 = l2 | High(p1, 0, highBits);
            var u5 = h2 | High(p1, 1, highBits);
            var u6 = l3 | High(p1, 2, highBits);
            var u7 = h3 | High(p1, 3, highBits);
            int g = halves ? 2 * b : b;
            var s0 = w.Scales(g);
            var o0 = Vector512.FusedMultiplyAdd(s0, Vector512.Create((float)Zero), w.Offsets(g));
            Vector512<float> s1 = default, o1 = default;
            if (halves)
            {
                s1 = w.Scales(g + 1);
                o1 = Vector512.FusedMultiplyAdd(s1, Vector512.Create((float)Zero), w.Offsets(g + 1));
            }
            acc0 = Fold(acc0, u0, u1, u2, u3, u4, u5, u6, u7, a, 0, b, s0, o0, s1, o1, halves, ones);
            if (tile > 1) acc1 = Fold(acc1, u0, u1, u2, u3, u4, u5, u6, u7, a, 1, b, s0, o0, s1, o1, halves, ones);
            if (tile > 2) acc2 = Fold(acc2, u0, u1, u2, u3, u4, u5, u6, u7, a, 2, b, s0, o0, s1, o1, halves, ones);
            if (tile > 3) acc3 = Fold(acc3, u0, u1, u2, u3, u4, u5, u6, u7, a, 3, b, s0, o0, s1, o1, halves, ones);
        }
        acc0.Store(result);
        if (tile > 1) acc1.Store(result + stride);
        if (tile > 2) acc2.Store(result + 2 * stride);
        if (tile > 3) acc3.Store(result + 3 * stride);
    }
}
