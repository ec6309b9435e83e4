using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sling.Kernels;

/// <summary>
/// int8 group weights in the 16-row interleaved layout (<see cref="RowBlockMatrix"/>). Per 16-row
/// block and 32-input block: 512 code bytes as sixteen 32-byte runs; run p holds, for row r, the
/// codes of inputs 2p and 2p+1 at bytes 2r and 2r+1. Each run widens to 16-bit lanes and meets a
/// broadcast pair of 16-bit activation codes in one <c>vpmaddwd</c> (unsigned 8-bit codes times
/// 8-bit activations would overflow <c>vpmaddubsw</c>'s 16-bit sums).
/// </summary>
internal sealed unsafe class Int8RowBlockMatrix : RowBlockMatrix
{
    internal Int8RowBlockMatrix(RepackSource m) : base(m, m.Rows * m.Cols)
    {
        int blocks = Cols / BlockSize;
        byte* target = _codes;
        ForEachRowBlock(m, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (rb) =>
        {
            for (int r = 0; r < RowsPerBlock; r++)
            {
                ushort* source = (ushort*)m.RowCodes(rb * RowsPerBlock + r);
                for (int b = 0; b < blocks; b++)
                {
                    ushort* lane = (ushort*)(target + ((long)rb * blocks + b) * 512) + r;
                    for (int p = 0; p < BlockSize / 2; p++) lane[p * 16] = *source++;
                }
            }
        });
    }

    public override string Format => Symmetric ? "int8_sym" : "int8_asym";
    private protected override int BlockBytes => 512;

    private protected override int CodeAt(int row, int col)
    {
        int rb = row / RowsPerBlock, r = row % RowsPerBlock, b = col / BlockSize, i = col % BlockSize;
        return _codes[((long)rb * (Cols / BlockSize) + b) * BlockBytes + i / 2 * 32 + r * 2 + i % 2];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Pair(byte* c, short* q, int p) =>
        Avx512BW.MultiplyAddAdjacent(Avx512BW.ConvertToVector512Int16(Vector256.Load(c + p * 32)), Vector512.Create(((int*)q)[p]).AsInt16());

    // Σ code·q of one 32-input block for 16 rows (int32 lanes), for one activation row.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> BlockDot(byte* c, short* q)
    {
        var s0 = Pair(c, q, 0) + Pair(c, q, 1) + Pair(c, q, 2) + Pair(c, q, 3);
        var s1 = Pair(c, q, 4) + Pair(c, q, 5) + Pair(c, q, 6) + Pair(c, q, 7);
        var s2 = Pair(c, q, 8) + Pair(c, q, 9) + Pair(c, q, 10) + Pair(c, q, 11);
        var s3 = Pair(c, q, 12) + Pair(c, q, 13) + Pair(c, q, 14) + Pair(c, q, 15);
        return Avx512F.ConvertToVector512Single(s0 + s1 + (s2 + s3));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private protected override void RowBlock(Weights w, Activations a, float* result, int stride)
    {
        int tile = a.Tile;
        Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        short* q0 = a.Wide(0), q1 = a.Wide(1), q2 = a.Wide(2), q3 = a.Wide(3);
        float* d0 = a.Scales(0), d1 = a.Scales(1), d2 = a.Scales(2), d3 = a.Scales(3);
        for (int g = 0, b = 0; g < w.Groups; g++)
        {
            Vector512<float> g0 = default, g1 = default, g2 = default, g3 = default;
            for (int end = b + w.BlocksPerGroup; b < end; b++)
            {
                byte* c = w.Codes + (long)b * 512;
                for (int line = 0; line < 512; line += 64) Sse.Prefetch0(c + PrefetchDistance + line);
                int o = b * BlockSize;
                g0 = Vector512.FusedMultiplyAdd(BlockDot(c, q0 + o), Vector512.Create(d0[b]), g0);
                if (tile > 1) g1 = Vector512.FusedMultiplyAdd(BlockDot(c, q1 + o), Vector512.Create(d1[b]), g1);
                if (tile > 2) g2 = Vector512.FusedMultiplyAdd(BlockDot(c, q2 + o), Vector512.Create(d2[b]), g2);
                if (tile > 3) g3 = Vector512.FusedMultiplyAdd(BlockDot(c, q3 + o), Vector512.Create(d3[b]), g3);
            }
            var s = w.Scales(g);
            var z = w.Zeros(g);
            acc0 = Group(acc0, s, z, g0, a.GroupSums(0), g);
            acc1 = Group(acc1, s, z, g1, a.GroupSums(1), g);
            acc2 = Group(acc2, s, z, g2, a.GroupSums(2), g);
            acc3 = Group(acc3, s, z, g3, a.GroupSums(3), g);
        }
        acc0.Store(result);
        if (tile > 1) acc1.Store(result + stride);
        if (tile > 2) acc2.Store(result + 2 * stride);
        if (tile > 3) acc3.Store(result + 3 * stride);
    }
}
