using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sling.Kernels;

/// <summary>
/// int4 group weights in the 16-row interleaved layout (<see cref="RowBlockMatrix"/>). Per 16-row
/// block and 32-input block: 256 code bytes as four 64-byte vectors; vector j holds, in lane r,
/// inputs 8j..8j+3 of row r in its low nibbles and inputs 8j+4..8j+7 in its high nibbles, so one
/// mask or one shift yields the codes of 4 inputs × 16 rows for <c>vpmaddubsw</c>.
/// </summary>
internal sealed unsafe class Int4RowBlockMatrix : RowBlockMatrix
{
    // A table-indexed format (IQ4): the levels, split into their positive and negative parts as
    // 16-byte tables repeated in each 128-bit lane for vpshufb, so each part is an unsigned code; and,
    // for the VNNI kernel, level + 128 the same way.
    private readonly sbyte[]? _levels;
    private readonly Vector512<byte> _positive, _negative, _offsetLevels;

    internal Int4RowBlockMatrix(StoredLayout shape, NativeBuffer codes, NativeBuffer scales, NativeBuffer? super, byte[]? zeros)
        : base(shape, codes, scales, super, zeros, "int4") => (_levels, _positive, _negative, _offsetLevels) = LevelTables(shape.Levels);

    // The levels' tables, each repeated in every 128-bit lane.
    private static (sbyte[]?, Vector512<byte>, Vector512<byte>, Vector512<byte>) LevelTables(sbyte[]? levels)
    {
        if (levels is null) return (null, default, default, default);
        if (levels.Length != 16 || levels.Contains(sbyte.MinValue)) throw new ArgumentException("a level table has 16 entries in -127..127");
        var positive = new byte[64];
        var negative = new byte[64];
        var offset = new byte[64];
        for (int i = 0; i < 64; i++)
        {
            positive[i] = (byte)Math.Max((int)levels[i % 16], 0);
            negative[i] = (byte)Math.Max(-levels[i % 16], 0);
            offset[i] = (byte)(levels[i % 16] + 128);
        }
        return (levels, Vector512.Create(positive), Vector512.Create(negative), Vector512.Create(offset));
    }

    private protected override sbyte[]? StoredLevels => _levels;

    // The levels as the assembled AVX2 kernel's vpshufb table (16 signed bytes in each 128-bit lane), one
    // native copy per distinct table for the process (IQ4_NL's is the only one llama.cpp has), looked up
    // once per matrix (the kernel calls ask for it per tile).
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, nint> LevelTableCopies = new();
    private byte* _levelTable;

    private protected override byte* LevelTable
    {
        get
        {
            if (_levelTable != null || _levels == null) return _levelTable;
            var levels = _levels;
            return _levelTable = (byte*)LevelTableCopies.GetOrAdd(Convert.ToHexString((byte[])(Array)levels), _ =>
            {
                var table = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(32, 32);
                for (int i = 0; i < 32; i++) table[i] = (byte)levels[i % 16];
                return (nint)table;
            });
        }
    }

    private protected override bool HasLevels => _levels != null;

    internal Int4RowBlockMatrix(RepackSource m) : base(m, "int4")
    {
        (_levels, _positive, _negative, _offsetLevels) = LevelTables(m.Levels);
        int blocks = Cols / BlockSize;
        byte* target = _codes;
        // A stored block's byte j holds codes j (low) and j+16 (high). Per 4-byte word w of it,
        // lo(w) = w & 0x0F0F0F0F and hi(w) = (w >> 4) & 0x0F0F0F0F give codes in order, and
        // vector j of the layout takes lo/hi pairs: (lo w0 | lo w1 << 4), (lo w2 | lo w3 << 4),
        // (hi w0 | hi w1 << 4), (hi w2 | hi w3 << 4).
        ForEachRowBlock(m, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (rb) =>
        {
            const uint Low = 0x0F0F0F0F;
            uint* source = stackalloc uint[4];
            for (int r = 0; r < RowsPerBlock; r++)
            {
                for (int b = 0; b < blocks; b++)
                {
                    m.Int4Block(rb * RowsPerBlock + r, b, source);
                    uint* lane = (uint*)(target + ((long)rb * blocks + b) * 256 + r * 4);
                    uint w0 = source[0], w1 = source[1], w2 = source[2], w3 = source[3];
                    lane[0] = (w0 & Low) | (w1 & Low) << 4;
                    lane[16] = (w2 & Low) | (w3 & Low) << 4;
                    lane[32] = (w0 >> 4 & Low) | (w1 >> 4 & Low) << 4;
                    lane[48] = (w2 >> 4 & Low) | (w3 >> 4 & Low) << 4;
                }
            }
        });
    }

    public override string Format => SourceFormat ?? (Symmetric ? "int4_sym" : "int4_asym");

    // Codes with zero points, affine or factored scales, and level tables with scales alone have VNNI kernels.
    private protected override Emit.VnniKernel? VnniKernel(int stride, int blocks, int tile) => !Vnni ? null
        : _levels != null ? ScaledFold is { } scaled ? Emit.VnniKernel.For(4, Emit.VnniCodes.Levels, stride, blocks, GroupSize / BlockSize, scaled, tile) : null
        : (IntegerFactoredFold ?? VnniFold) is { } fold ? Emit.VnniKernel.For(4, Emit.VnniCodes.Unsigned, stride, blocks, GroupSize / BlockSize, fold, tile) : null;

    private protected override void VnniLevels(byte* table) => _offsetLevels.Store(table);

    private protected override int BlockBytes => 256;

    private protected override int CodeAt(int row, int col)
    {
        int rb = row / RowsPerBlock, r = row % RowsPerBlock, b = col / BlockSize, k = col % BlockSize;
        int j = k / 8, i = k % 8;
        byte v = _codes[((long)rb * (Cols / BlockSize) + b) * BlockBytes + j * 64 + r * 4 + i % 4];
        int code = i < 4 ? v & 0xF : v >> 4;
        return _levels == null ? code : _levels[code];
    }

    // Σ over the 8 quads of a block of code·q for 16 rows: an int16 lane holds at most 16 products
    // of 15·127, so the 8 vpmaddubsw results add up without overflow before one widening to int32.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> BlockDot(Vector512<byte> l0, Vector512<byte> h0, Vector512<byte> l1, Vector512<byte> h1,
        Vector512<byte> l2, Vector512<byte> h2, Vector512<byte> l3, Vector512<byte> h3, sbyte* q, Vector512<short> ones, int zeroSum)
    {
        int* quads = (int*)q;
        // A tree, not a chain: the eight products are independent, so the adds need only three steps.
        return Avx512F.ConvertToVector512Single(Avx512BW.MultiplyAddAdjacent(BlockSums(l0, h0, l1, h1, l2, h2, l3, h3, quads), ones) - Vector512.Create(zeroSum));
    }

    // The block's 16-bit sums (two per row), before vpmaddwd widens them.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> BlockSums(Vector512<byte> l0, Vector512<byte> h0, Vector512<byte> l1, Vector512<byte> h1,
        Vector512<byte> l2, Vector512<byte> h2, Vector512<byte> l3, Vector512<byte> h3, int* quads)
    {
        var s0 = Avx512BW.MultiplyAddAdjacent(l0, Vector512.Create(quads[0]).AsSByte()) + Avx512BW.MultiplyAddAdjacent(h0, Vector512.Create(quads[1]).AsSByte());
        var s1 = Avx512BW.MultiplyAddAdjacent(l1, Vector512.Create(quads[2]).AsSByte()) + Avx512BW.MultiplyAddAdjacent(h1, Vector512.Create(quads[3]).AsSByte());
        var s2 = Avx512BW.MultiplyAddAdjacent(l2, Vector512.Create(quads[4]).AsSByte()) + Avx512BW.MultiplyAddAdjacent(h2, Vector512.Create(quads[5]).AsSByte());
        var s3 = Avx512BW.MultiplyAddAdjacent(l3, Vector512.Create(quads[6]).AsSByte()) + Avx512BW.MultiplyAddAdjacent(h3, Vector512.Create(quads[7]).AsSByte());
        return (s0 + s1) + (s2 + s3);
    }

    // Factored scales folded in integers (Q4_K), as FactoredRowBlock256Both: each block's
    // 16-bit sums meet its scale bytes in the widening vpmaddwd; the assembled kernel (vpdpbusd, then
    // vpmulld by the same bytes) gives the same integers, and both fold them in the same order.
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void FactoredRowBlock(Weights w, Activations a, float* result, int stride)
    {
        var mask = Vector512.Create((byte)0xF);
        int tile = a.Tile, perSuper = w.GroupsPerSuper;
        Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        ActivationRow x0 = a.At(0), x1 = a.At(1), x2 = a.At(2), x3 = a.At(3);
        for (int super = 0, b = 0; b < w.Groups; super++)
        {
            Vector512<float> f0 = default, f1 = default, f2 = default, f3 = default;
            for (int end = b + perSuper; b < end; b++)
            {
                Unpack(w.Codes + (long)b * 256, mask, out var l0, out var h0, out var l1, out var h1, out var l2, out var h2, out var l3, out var h3);
                var scale = w.ScaleWords(b);
                int o = b * BlockSize;
                f0 = ScaledBlock(BlockSums(l0, h0, l1, h1, l2, h2, l3, h3, (int*)(x0.Codes + o)), scale, x0.Scales[b], f0);
                if (tile > 1) f1 = ScaledBlock(BlockSums(l0, h0, l1, h1, l2, h2, l3, h3, (int*)(x1.Codes + o)), scale, x1.Scales[b], f1);
                if (tile > 2) f2 = ScaledBlock(BlockSums(l0, h0, l1, h1, l2, h2, l3, h3, (int*)(x2.Codes + o)), scale, x2.Scales[b], f2);
                if (tile > 3) f3 = ScaledBlock(BlockSums(l0, h0, l1, h1, l2, h2, l3, h3, (int*)(x3.Codes + o)), scale, x3.Scales[b], f3);
            }
            Vector512<float> m0 = default, m1 = default, m2 = default, m3 = default;
            for (int g = b - perSuper; g < b; g++)
            {
                var m = w.OffsetFactors(g);
                m0 = Vector512.FusedMultiplyAdd(m, Vector512.Create(x0.GroupSums[g]), m0);
                if (tile > 1) m1 = Vector512.FusedMultiplyAdd(m, Vector512.Create(x1.GroupSums[g]), m1);
                if (tile > 2) m2 = Vector512.FusedMultiplyAdd(m, Vector512.Create(x2.GroupSums[g]), m2);
                if (tile > 3) m3 = Vector512.FusedMultiplyAdd(m, Vector512.Create(x3.GroupSums[g]), m3);
            }
            var scales = w.SuperFactors(super, 0);
            var offsets = w.SuperFactors(super, 1);
            acc0 = AffineGroup(acc0, scales, offsets, f0, m0);
            if (tile > 1) acc1 = AffineGroup(acc1, scales, offsets, f1, m1);
            if (tile > 2) acc2 = AffineGroup(acc2, scales, offsets, f2, m2);
            if (tile > 3) acc3 = AffineGroup(acc3, scales, offsets, f3, m3);
        }
        acc0.Store(result);
        if (tile > 1) acc1.Store(result + stride);
        if (tile > 2) acc2.Store(result + 2 * stride);
        if (tile > 3) acc3.Store(result + 3 * stride);
    }

    // A block's scaled integer sums as floats times its activation scale, into the super-block's sums.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ScaledBlock(Vector512<short> sums, Vector512<short> scale, float d, Vector512<float> f)
        => Vector512.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(Avx512BW.MultiplyAddAdjacent(sums, scale)), Vector512.Create(d), f);

    // One 16-row × 32-input block's codes as eight vectors of 4 inputs × 16 rows (low and high nibbles
    // of the four stored vectors), with the lines 4 KiB ahead asked for. The 6-bit layout's low bits too.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Unpack(byte* c, Vector512<byte> mask, out Vector512<byte> l0, out Vector512<byte> h0, out Vector512<byte> l1, out Vector512<byte> h1,
        out Vector512<byte> l2, out Vector512<byte> h2, out Vector512<byte> l3, out Vector512<byte> h3)
    {
        Sse.Prefetch0(c + PrefetchDistance);
        Sse.Prefetch0(c + PrefetchDistance + 64);
        Sse.Prefetch0(c + PrefetchDistance + 128);
        Sse.Prefetch0(c + PrefetchDistance + 192);
        var v0 = Vector512.Load(c);
        var v1 = Vector512.Load(c + 64);
        var v2 = Vector512.Load(c + 128);
        var v3 = Vector512.Load(c + 192);
        l0 = v0 & mask; h0 = Vector512.ShiftRightLogical(v0.AsUInt16(), 4).AsByte() & mask;
        l1 = v1 & mask; h1 = Vector512.ShiftRightLogical(v1.AsUInt16(), 4).AsByte() & mask;
        l2 = v2 & mask; h2 = Vector512.ShiftRightLogical(v2.AsUInt16(), 4).AsByte() & mask;
        l3 = v3 & mask; h3 = Vector512.ShiftRightLogical(v3.AsUInt16(), 4).AsByte() & mask;
    }

    // Σ level·q for one table-indexed block and activation row: each code vector's levels are the
    // positive part minus the negative part (two unsigned tables), so two vpmaddubsw per quad; their
    // difference (at most 2·127·127 per lane) is widened at once, as two would overflow 16 bits.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> LevelDot(Vector512<byte> p0, Vector512<byte> n0, Vector512<byte> p1, Vector512<byte> n1,
        Vector512<byte> p2, Vector512<byte> n2, Vector512<byte> p3, Vector512<byte> n3,
        Vector512<byte> p4, Vector512<byte> n4, Vector512<byte> p5, Vector512<byte> n5,
        Vector512<byte> p6, Vector512<byte> n6, Vector512<byte> p7, Vector512<byte> n7, sbyte* q, Vector512<short> ones)
    {
        int* quads = (int*)q;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector512<int> Quad(Vector512<byte> p, Vector512<byte> n, int quad, Vector512<short> ones)
        {
            var x = Vector512.Create(quad).AsSByte();
            return Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(p, x) - Avx512BW.MultiplyAddAdjacent(n, x), ones);
        }
        var s0 = Quad(p0, n0, quads[0], ones) + Quad(p1, n1, quads[1], ones);
        var s1 = Quad(p2, n2, quads[2], ones) + Quad(p3, n3, quads[3], ones);
        var s2 = Quad(p4, n4, quads[4], ones) + Quad(p5, n5, quads[5], ones);
        var s3 = Quad(p6, n6, quads[6], ones) + Quad(p7, n7, quads[7], ones);
        return Avx512F.ConvertToVector512Single((s0 + s1) + (s2 + s3));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private void LevelRowBlock(Weights w, Activations a, float* result, int stride)
    {
        var mask = Vector512.Create((byte)0xF);
        var ones = Vector512<short>.One;
        Vector512<byte> pos = _positive, neg = _negative;
        int tile = a.Tile;
        Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        sbyte* q0 = a.Codes(0), q1 = a.Codes(1), q2 = a.Codes(2), q3 = a.Codes(3);
        float* d0 = a.Scales(0), d1 = a.Scales(1), d2 = a.Scales(2), d3 = a.Scales(3);
        for (int g = 0, b = 0; g < w.Groups; g++)
        {
            Vector512<float> g0 = default, g1 = default, g2 = default, g3 = default;
            for (int end = b + w.BlocksPerGroup; b < end; b++)
            {
                Unpack(w.Codes + (long)b * 256, mask, out var l0, out var h0, out var l1, out var h1, out var l2, out var h2, out var l3, out var h3);
                var p0 = Avx512BW.Shuffle(pos, l0); var n0 = Avx512BW.Shuffle(neg, l0);
                var p1 = Avx512BW.Shuffle(pos, h0); var n1 = Avx512BW.Shuffle(neg, h0);
                var p2 = Avx512BW.Shuffle(pos, l1); var n2 = Avx512BW.Shuffle(neg, l1);
                var p3 = Avx512BW.Shuffle(pos, h1); var n3 = Avx512BW.Shuffle(neg, h1);
                var p4 = Avx512BW.Shuffle(pos, l2); var n4 = Avx512BW.Shuffle(neg, l2);
                var p5 = Avx512BW.Shuffle(pos, h2); var n5 = Avx512BW.Shuffle(neg, h2);
                var p6 = Avx512BW.Shuffle(pos, l3); var n6 = Avx512BW.Shuffle(neg, l3);
                var p7 = Avx512BW.Shuffle(pos, h3); var n7 = Avx512BW.Shuffle(neg, h3);
                int o = b * BlockSize;
                g0 = Vector512.FusedMultiplyAdd(LevelDot(p0, n0, p1, n1, p2, n2, p3, n3, p4, n4, p5, n5, p6, n6, p7, n7, q0 + o, ones), Vector512.Create(d0[b]), g0);
                if (tile > 1) g1 = Vector512.FusedMultiplyAdd(LevelDot(p0, n0, p1, n1, p2, n2, p3, n3, p4, n4, p5, n5, p6, n6, p7, n7, q1 + o, ones), Vector512.Create(d1[b]), g1);
                if (tile > 2) g2 = Vector512.FusedMultiplyAdd(LevelDot(p0, n0, p1, n1, p2, n2, p3, n3, p4, n4, p5, n5, p6, n6, p7, n7, q2 + o, ones), Vector512.Create(d2[b]), g2);
                if (tile > 3) g3 = Vector512.FusedMultiplyAdd(LevelDot(p0, n0, p1, n1, p2, n2, p3, n3, p4, n4, p5, n5, p6, n6, p7, n7, q3 + o, ones), Vector512.Create(d3[b]), g3);
            }
            // Levels are the values: no zero point or offset to take out.
            var s = w.Scales(g);
            acc0 = Vector512.FusedMultiplyAdd(s, g0, acc0);
            if (tile > 1) acc1 = Vector512.FusedMultiplyAdd(s, g1, acc1);
            if (tile > 2) acc2 = Vector512.FusedMultiplyAdd(s, g2, acc2);
            if (tile > 3) acc3 = Vector512.FusedMultiplyAdd(s, g3, acc3);
        }
        acc0.Store(result);
        if (tile > 1) acc1.Store(result + stride);
        if (tile > 2) acc2.Store(result + 2 * stride);
        if (tile > 3) acc3.Store(result + 3 * stride);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private protected override void RowBlock(Weights w, Activations a, float* result, int stride)
    {
        if (_levels != null)
        {
            LevelRowBlock(w, a, result, stride);
            return;
        }
        if (FactoredByIntegers(w))
        {
            FactoredRowBlock(w, a, result, stride);
            return;
        }
        var mask = Vector512.Create((byte)0xF);
        var ones = Vector512<short>.One;
        int tile = a.Tile;
        Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        ActivationRow x0 = a.At(0), x1 = a.At(1), x2 = a.At(2), x3 = a.At(3);
        for (int g = 0, b = 0; g < w.Groups; g++)
        {
            Vector512<float> g0 = default, g1 = default, g2 = default, g3 = default;
            for (int end = b + w.BlocksPerGroup; b < end; b++)
            {
                Unpack(w.Codes + (long)b * 256, mask, out var l0, out var h0, out var l1, out var h1, out var l2, out var h2, out var l3, out var h3);
                int o = b * BlockSize;
                g0 = Vector512.FusedMultiplyAdd(BlockDot(l0, h0, l1, h1, l2, h2, l3, h3, x0.Codes + o, ones, x0.ZeroSum(b)), Vector512.Create(x0.Scales[b]), g0);
                if (tile > 1) g1 = Vector512.FusedMultiplyAdd(BlockDot(l0, h0, l1, h1, l2, h2, l3, h3, x1.Codes + o, ones, x1.ZeroSum(b)), Vector512.Create(x1.Scales[b]), g1);
                if (tile > 2) g2 = Vector512.FusedMultiplyAdd(BlockDot(l0, h0, l1, h1, l2, h2, l3, h3, x2.Codes + o, ones, x2.ZeroSum(b)), Vector512.Create(x2.Scales[b]), g2);
                if (tile > 3) g3 = Vector512.FusedMultiplyAdd(BlockDot(l0, h0, l1, h1, l2, h2, l3, h3, x3.Codes + o, ones, x3.ZeroSum(b)), Vector512.Create(x3.Scales[b]), g3);
            }
            FoldGroup(w, a, x0, x1, x2, x3, g, g0, g1, g2, g3, ref acc0, ref acc1, ref acc2, ref acc3);
        }
        acc0.Store(result);
        if (tile > 1) acc1.Store(result + stride);
        if (tile > 2) acc2.Store(result + 2 * stride);
        if (tile > 3) acc3.Store(result + 3 * stride);
    }

    // AVX2: 8 rows at a time. A block's four 64-byte vectors hold 4 bytes per row; rows 8·half.. are
    // their 32-byte halves, unpacked one vector at a time for the tile's rows (eight unpacked vectors
    // would not fit the 16 registers beside the sums). Half passes serve the IQ4 level tables only;
    // plain and factored blocks take both halves of a stored vector in one pass (RowBlock256Both).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // dispatch: see RowBlock
    private protected override void RowBlock256(Weights w, Activations a, float* result, int stride, int half)
    {
        bool full = a.Tile == Tile;
        if (_levels != null)
        {
            if (full) LevelRowBlock256<FullTile>(w, a, result, stride, half);
            else LevelRowBlock256<PartialTile>(w, a, result, stride, half);
        }
        else throw new InvalidOperationException("plain and factored int4 blocks run both halves in one pass");
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // dispatch: see RowBlock
    private protected override bool RowBlock256Both(Weights w, Activations a, float* result, int stride, int count)
    {
        if (RunAssembled(w, a, result, stride, count)) return true;
        if (_levels != null) return false; // the half passes
        if (a.Tile == Tile) Kernel<FullTile>(w, a, result, stride, count);
        else Kernel<PartialTile>(w, a, result, stride, count);
        return true;
    }

    // Q4_0's, Q4_K's, the seed's (fp16 scales and zero point bytes per group of whole blocks), IQ4_XS's
    // (levels, signed scale bytes per block, a float per super-block of 8) and IQ4_NL's (levels, an fp16
    // scale per block) have assembled AVX2 tile kernels.
    private protected override Emit.Avx2TileBlocks? Avx2Blocks(Weights w, Activations a)
        => _levels != null
            ? w.Factored && w.SignedFactors && !w.HasOffsetFactors && w.BlocksPerGroup == 1 && w.GroupsPerSuper == 8 ? Emit.Avx2TileBlocks.Int4Levels
            : !w.Factored && !w.Affine && w.ZeroPoints == null && w.BlocksPerGroup == 1 ? Emit.Avx2TileBlocks.Int4LevelsScaled : null
        : FactoredByIntegers(w) && w.GroupsPerSuper == 8 && a.Groups == a.Blocks ? Emit.Avx2TileBlocks.Int4Factored
        : OneBlockGroups(w) && a.ZeroSums(0) != null && a.ZeroStride == a.Blocks ? Emit.Avx2TileBlocks.Int4Scaled
        : GroupedWithZeroPoints(w, a) ? Emit.Avx2TileBlocks.Int4Grouped
        : null;

    // The one-pass kernel for these blocks (factored, one-block groups, or wider groups), compiled for
    // the tile's rows T (a tile's, full or partial, or generation's single row) and the dot products
    // of Isa: AVX2's, or AVX-VNNI's (in their AVX2 form where the CPU lacks them).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Kernel<T>(Weights w, Activations a, float* result, int stride, int count) where T : struct, ITileRows
    {
        if (Isa != KernelIsa.AvxVnni) Kernel<T, Avx2Dot>(w, a, result, stride, count);
        else if (AvxVnni.IsSupported) Kernel<T, VnniDot>(w, a, result, stride, count);
        else Kernel<T, VnniForm>(w, a, result, stride, count);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Kernel<T, TDot>(Weights w, Activations a, float* result, int stride, int count) where T : struct, ITileRows where TDot : struct, IDot256
    {
        if (FactoredByIntegers(w)) FactoredRowBlock256Both<T, TDot>(w, a, result, stride, count);
        else if (OneBlockGroups(w)) RowBlock256Both<T, EachBlock, ZeroStart, TDot>(w, a, result, stride, count);
        else if (w.SharedZero) RowBlock256Both<T, EachGroup, ZeroStart, TDot>(w, a, result, stride, count);
        else RowBlock256Both<T, EachGroup, NoZero, TDot>(w, a, result, stride, count);
    }

    // A shared zero point (Q4_0, symmetric int4) leaves each block's sums where they start; with a zero
    // point per group, or offsets, the sums start at zero and the group fold takes them out.
    private protected override bool ZeroInLaneStarts => SharedZero && Isa == KernelIsa.Avx2;

    // Plain int4 blocks (Q4_0, Q4_1, the seed's int4) for a tile, both halves of each stored vector in
    // one pass: each activation row's two broadcast quads meet rows 0–7 and 8–15 (a broadcast takes a
    // vector pipe on AVX2 machines, so sharing it saves one in six operations; measured on Zen 3).
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void RowBlock256Both<T, TFold, TStart, TDot>(Weights w, Activations a, float* result, int stride, int count)
        where T : struct, ITileRows where TFold : struct, IFoldUnit where TStart : struct, IBlockStart where TDot : struct, IDot256
    {
        var mask = Vector256.Create((byte)0xF);
        var ones = Vector256<short>.One;
        ActivationRow x0 = a.At(0), x1 = a.At(1), x2 = a.At(2), x3 = a.At(3);
        for (int k = 0; k < count; k++, w = w.Next(), result += RowsPerBlock)
        {
            Vector256<float> l0 = default, l1 = default, l2 = default, l3 = default;
            Vector256<float> h0 = default, h1 = default, h2 = default, h3 = default;
            for (int g = 0, b = 0; g < w.Groups; g++)
            {
                Vector256<float> gl0 = default, gl1 = default, gl2 = default, gl3 = default;
                Vector256<float> gh0 = default, gh1 = default, gh2 = default, gh3 = default;
                for (int end = b + w.BlocksPerGroup; b < end; b++)
                {
                    // Both halves of a row start from its block's zero start (or zero): the sums end without the zero point.
                    Vector256<int> sl0 = TStart.Of(x0, b), sl1 = default, sl2 = default, sl3 = default;
                    if (T.Has(a, 1)) sl1 = TStart.Of(x1, b);
                    if (T.Has(a, 2)) sl2 = TStart.Of(x2, b);
                    if (T.Has(a, 3)) sl3 = TStart.Of(x3, b);
                    Vector256<int> sh0 = sl0, sh1 = sl1, sh2 = sl2, sh3 = sl3;
                    BlockSumsBoth<T, TDot>(w, a, x0, x1, x2, x3, b, mask, ref sl0, ref sl1, ref sl2, ref sl3, ref sh0, ref sh1, ref sh2, ref sh3);
                    if (TFold.Block)
                    {
                        var sLow = w.HalfScales256(b, 0);
                        var sHigh = w.HalfScales256(b, 1);
                        l0 = ScaledBlock256(x0.Scales[b], TDot.Finish(sl0, ones), sLow, l0);
                        h0 = ScaledBlock256(x0.Scales[b], TDot.Finish(sh0, ones), sHigh, h0);
                        if (T.Has(a, 1)) { l1 = ScaledBlock256(x1.Scales[b], TDot.Finish(sl1, ones), sLow, l1); h1 = ScaledBlock256(x1.Scales[b], TDot.Finish(sh1, ones), sHigh, h1); }
                        if (T.Has(a, 2)) { l2 = ScaledBlock256(x2.Scales[b], TDot.Finish(sl2, ones), sLow, l2); h2 = ScaledBlock256(x2.Scales[b], TDot.Finish(sh2, ones), sHigh, h2); }
                        if (T.Has(a, 3)) { l3 = ScaledBlock256(x3.Scales[b], TDot.Finish(sl3, ones), sLow, l3); h3 = ScaledBlock256(x3.Scales[b], TDot.Finish(sh3, ones), sHigh, h3); }
                        continue;
                    }
                    gl0 = AddBlock256(x0.Scales[b], TDot.Finish(sl0, ones), gl0);
                    gh0 = AddBlock256(x0.Scales[b], TDot.Finish(sh0, ones), gh0);
                    if (T.Has(a, 1)) { gl1 = AddBlock256(x1.Scales[b], TDot.Finish(sl1, ones), gl1); gh1 = AddBlock256(x1.Scales[b], TDot.Finish(sh1, ones), gh1); }
                    if (T.Has(a, 2)) { gl2 = AddBlock256(x2.Scales[b], TDot.Finish(sl2, ones), gl2); gh2 = AddBlock256(x2.Scales[b], TDot.Finish(sh2, ones), gh2); }
                    if (T.Has(a, 3)) { gl3 = AddBlock256(x3.Scales[b], TDot.Finish(sl3, ones), gl3); gh3 = AddBlock256(x3.Scales[b], TDot.Finish(sh3, ones), gh3); }
                }
                if (TFold.Block) continue;
                FoldGroup256<T>(w, a, x0, x1, x2, x3, g, 0, gl0, gl1, gl2, gl3, ref l0, ref l1, ref l2, ref l3);
                FoldGroup256<T>(w, a, x0, x1, x2, x3, g, 1, gh0, gh1, gh2, gh3, ref h0, ref h1, ref h2, ref h3);
            }
            Store256(a, result, stride, l0, l1, l2, l3);
            Store256(a, result + RowsPerBlock / 2, stride, h0, h1, h2, h3);
        }
    }

    // One block's Σ code·q for the tile's rows, rows 0–7 and 8–15 (16-bit pairs per row), added to the sums.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BlockSumsBoth<T, TDot>(Weights w, Activations a, ActivationRow x0, ActivationRow x1, ActivationRow x2, ActivationRow x3, int b, Vector256<byte> mask,
        ref Vector256<int> sl0, ref Vector256<int> sl1, ref Vector256<int> sl2, ref Vector256<int> sl3,
        ref Vector256<int> sh0, ref Vector256<int> sh1, ref Vector256<int> sh2, ref Vector256<int> sh3) where T : struct, ITileRows where TDot : struct, IDot256
    {
        byte* c = w.Half256(b, 256, 0);
        int o = b * BlockSize;
        int* q0 = (int*)(x0.Codes + o), q1 = (int*)(x1.Codes + o), q2 = (int*)(x2.Codes + o), q3 = (int*)(x3.Codes + o);
        QuadBoth<T, TDot>(a, c, 0, mask, q0, q1, q2, q3, ref sl0, ref sl1, ref sl2, ref sl3, ref sh0, ref sh1, ref sh2, ref sh3);
        QuadBoth<T, TDot>(a, c, 1, mask, q0, q1, q2, q3, ref sl0, ref sl1, ref sl2, ref sl3, ref sh0, ref sh1, ref sh2, ref sh3);
        QuadBoth<T, TDot>(a, c, 2, mask, q0, q1, q2, q3, ref sl0, ref sl1, ref sl2, ref sl3, ref sh0, ref sh1, ref sh2, ref sh3);
        QuadBoth<T, TDot>(a, c, 3, mask, q0, q1, q2, q3, ref sl0, ref sl1, ref sl2, ref sl3, ref sh0, ref sh1, ref sh2, ref sh3);
    }

    // Stored vector j of a block, both halves (rows 0–7 at c + 64j, rows 8–15 32 bytes on), times the
    // tile's rows: each row's two quads broadcast once for the 16 rows.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void QuadBoth<T, TDot>(Activations a, byte* c, int j, Vector256<byte> mask, int* q0, int* q1, int* q2, int* q3,
        ref Vector256<int> sl0, ref Vector256<int> sl1, ref Vector256<int> sl2, ref Vector256<int> sl3,
        ref Vector256<int> sh0, ref Vector256<int> sh1, ref Vector256<int> sh2, ref Vector256<int> sh3) where T : struct, ITileRows where TDot : struct, IDot256
    {
        Nibbles256(c + 64 * j, mask, out var lowL, out var lowH);
        Nibbles256(c + 64 * j + 32, mask, out var highL, out var highH);
        PairBoth<TDot>(lowL, lowH, highL, highH, q0, j, ref sl0, ref sh0);
        if (T.Has(a, 1)) PairBoth<TDot>(lowL, lowH, highL, highH, q1, j, ref sl1, ref sh1);
        if (T.Has(a, 2)) PairBoth<TDot>(lowL, lowH, highL, highH, q2, j, ref sl2, ref sh2);
        if (T.Has(a, 3)) PairBoth<TDot>(lowL, lowH, highL, highH, q3, j, ref sl3, ref sh3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PairBoth<TDot>(Vector256<byte> lowL, Vector256<byte> lowH, Vector256<byte> highL, Vector256<byte> highH, int* q, int j,
        ref Vector256<int> low, ref Vector256<int> high) where TDot : struct, IDot256
    {
        // One quad's broadcast at a time, each product straight into its sum: with 8 sums, 4 code vectors
        // and the masks, the 16 registers then hold all that is live.
        var first = Vector256.Create(q[2 * j]).AsSByte();
        low = TDot.Bytes(low, lowL, first);
        high = TDot.Bytes(high, highL, first);
        var second = Vector256.Create(q[2 * j + 1]).AsSByte();
        low = TDot.Bytes(low, lowH, second);
        high = TDot.Bytes(high, highH, second);
    }

    // The K-quants' factored layout (Q4_K: per 32-value block a scale byte s and an offset byte m, per
    // 256-value super-block floats S and M) on AVX2, both halves of each stored vector in one pass:
    // each block's 16-bit sums meet s in the vpmaddwd that adds them to 32 bits (so s costs no float
    // operation), the blocks of a super-block add as Σ_b d_b · (s·Σ code·q), and S, M and the offsets
    // Σ_b m·d_b·Σq join once per super-block.
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void FactoredRowBlock256Both<T, TDot>(Weights w, Activations a, float* result, int stride, int count) where T : struct, ITileRows where TDot : struct, IDot256
    {
        var mask = Vector256.Create((byte)0xF);
        ActivationRow x0 = a.At(0), x1 = a.At(1), x2 = a.At(2), x3 = a.At(3);
        for (int k = 0; k < count; k++, w = w.Next(), result += RowsPerBlock)
        {
            Vector256<float> l0 = default, l1 = default, l2 = default, l3 = default;
            Vector256<float> h0 = default, h1 = default, h2 = default, h3 = default;
            int perSuper = w.GroupsPerSuper;
            for (int super = 0, b = 0; b < w.Groups; super++)
            {
                Vector256<float> fl0 = default, fl1 = default, fl2 = default, fl3 = default;
                Vector256<float> fh0 = default, fh1 = default, fh2 = default, fh3 = default;
                for (int end = b + perSuper; b < end; b++)
                {
                    Vector256<int> sl0 = default, sl1 = default, sl2 = default, sl3 = default;
                    Vector256<int> sh0 = default, sh1 = default, sh2 = default, sh3 = default;
                    BlockSumsBoth<T, TDot>(w, a, x0, x1, x2, x3, b, mask, ref sl0, ref sl1, ref sl2, ref sl3, ref sh0, ref sh1, ref sh2, ref sh3);
                    var scaleLow = w.ScaleWords256(b, 0, signed: false); // FactoredByIntegers: unsigned scale bytes
                    var scaleHigh = w.ScaleWords256(b, 1, signed: false);
                    fl0 = FactoredBlock256<TDot>(sl0, scaleLow, x0.Scales[b], fl0);
                    fh0 = FactoredBlock256<TDot>(sh0, scaleHigh, x0.Scales[b], fh0);
                    if (T.Has(a, 1)) { fl1 = FactoredBlock256<TDot>(sl1, scaleLow, x1.Scales[b], fl1); fh1 = FactoredBlock256<TDot>(sh1, scaleHigh, x1.Scales[b], fh1); }
                    if (T.Has(a, 2)) { fl2 = FactoredBlock256<TDot>(sl2, scaleLow, x2.Scales[b], fl2); fh2 = FactoredBlock256<TDot>(sh2, scaleHigh, x2.Scales[b], fh2); }
                    if (T.Has(a, 3)) { fl3 = FactoredBlock256<TDot>(sl3, scaleLow, x3.Scales[b], fl3); fh3 = FactoredBlock256<TDot>(sh3, scaleHigh, x3.Scales[b], fh3); }
                }
                FoldSuper256<T>(w, a, x0, x1, x2, x3, super, b - perSuper, b, 0, fl0, fl1, fl2, fl3, ref l0, ref l1, ref l2, ref l3);
                FoldSuper256<T>(w, a, x0, x1, x2, x3, super, b - perSuper, b, 1, fh0, fh1, fh2, fh3, ref h0, ref h1, ref h2, ref h3);
            }
            Store256(a, result, stride, l0, l1, l2, l3);
            Store256(a, result + RowsPerBlock / 2, stride, h0, h1, h2, h3);
        }
    }

    // A block's sums times its scale bytes (on AVX2 in the vpmaddwd that widens them), as floats times the activation scale, into the super-block's sums.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> FactoredBlock256<TDot>(Vector256<int> sums, Vector256<short> scale, float d, Vector256<float> f) where TDot : struct, IDot256
        => Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(TDot.FinishScaled(sums, scale)), Vector256.Create(d), f);

    // One activation row (generation): the tile kernels for a single row, both halves of each block in
    // one pass (the same sums in the same order, so a row gives the same bits alone or in a tile).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // dispatch: see RowBlock
    private protected override bool RowBlock256One(Weights w, Activations a, float* result, int count)
    {
        if (_levels != null)
        {
            if (Isa != KernelIsa.AvxVnni) LevelRowBlocks256One<Avx2Dot>(w, a, result, count);
            else if (AvxVnni.IsSupported) LevelRowBlocks256One<VnniDot>(w, a, result, count);
            else LevelRowBlocks256One<VnniForm>(w, a, result, count);
            return true;
        }
        Kernel<OneRow>(w, a, result, RowsPerBlock, count);
        return true;
    }

    // The level kernels with the dot products of Isa: AVX2's, or AVX-VNNI's (in their AVX2 form where the CPU lacks them).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void LevelRowBlock256<T>(Weights w, Activations a, float* result, int stride, int half) where T : struct, ITileRows
    {
        var (pos, neg) = (_positive.GetLower(), _negative.GetLower());
        if (Isa != KernelIsa.AvxVnni) LevelRowBlock256<T, Avx2Dot>(w, a, result, stride, half, pos, neg);
        else if (AvxVnni.IsSupported) LevelRowBlock256<T, VnniDot>(w, a, result, stride, half, pos, neg);
        else LevelRowBlock256<T, VnniForm>(w, a, result, stride, half, pos, neg);
    }

    private void LevelRowBlocks256One<TDot>(Weights w, Activations a, float* result, int count) where TDot : struct, IDot256
    {
        var (pos, neg) = (_positive.GetLower(), _negative.GetLower());
        for (int k = 0; k < count; k++, w = w.Next(), result += RowsPerBlock) LevelRowBlock256One<TDot>(w, a, result, pos, neg);
    }

    // Factored scales (Q4_K) whose bytes fold into the integer sums: unsigned, a group per block, no shared zero point.
    private static bool FactoredByIntegers(Weights w) => w.Factored && !w.SignedFactors && w.BlocksPerGroup == 1 && !w.SharedZero;

    // Table-indexed codes (IQ4) for 8 rows: vpshufb looks up within each 128-bit lane, and the tables
    // repeat in every lane. Each stored vector's lookups are made once for the tile's rows. IQ4_XS's
    // factored scales (a signed byte per block, a float per super-block) fold into the integer sums as
    // Q4_K's do; IQ4_NL's fp16 scales per block fold as floats.
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void LevelRowBlock256<T, TDot>(Weights w, Activations a, float* result, int stride, int half, Vector256<byte> pos, Vector256<byte> neg)
        where T : struct, ITileRows where TDot : struct, IDot256
    {
        var mask = Vector256.Create((byte)0xF);
        bool factored = w.Factored && w.BlocksPerGroup == 1;
        // A fold unit: a super-block of factored groups, else a group.
        int unit = factored ? w.GroupsPerSuper : w.BlocksPerGroup, units = factored ? w.Groups / unit : w.Groups;
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        ActivationRow x0 = a.At(0), x1 = a.At(1), x2 = a.At(2), x3 = a.At(3);
        for (int u = 0, b = 0; u < units; u++)
        {
            Vector256<float> g0 = default, g1 = default, g2 = default, g3 = default;
            for (int end = b + unit; b < end; b++)
            {
                byte* c = w.Half256(b, 256, half);
                int o = b * BlockSize;
                int* q0 = (int*)(x0.Codes + o), q1 = (int*)(x1.Codes + o), q2 = (int*)(x2.Codes + o), q3 = (int*)(x3.Codes + o);
                var scale = factored ? w.ScaleWords256(b, half) : Vector256<short>.One;
                Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
                LevelQuad256<T, TDot>(a, c, 0, mask, pos, neg, q0, q1, q2, q3, scale, ref s0, ref s1, ref s2, ref s3);
                LevelQuad256<T, TDot>(a, c, 1, mask, pos, neg, q0, q1, q2, q3, scale, ref s0, ref s1, ref s2, ref s3);
                LevelQuad256<T, TDot>(a, c, 2, mask, pos, neg, q0, q1, q2, q3, scale, ref s0, ref s1, ref s2, ref s3);
                LevelQuad256<T, TDot>(a, c, 3, mask, pos, neg, q0, q1, q2, q3, scale, ref s0, ref s1, ref s2, ref s3);
                g0 = Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(s0), Vector256.Create(x0.Scales[b]), g0);
                if (T.Has(a, 1)) g1 = Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(s1), Vector256.Create(x1.Scales[b]), g1);
                if (T.Has(a, 2)) g2 = Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(s2), Vector256.Create(x2.Scales[b]), g2);
                if (T.Has(a, 3)) g3 = Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(s3), Vector256.Create(x3.Scales[b]), g3);
            }
            // Levels are the values: no zero point or offset to take out.
            var s = factored ? w.SuperFactors256(u, 0, half) : w.Scales256(u, half);
            acc0 = Vector256.FusedMultiplyAdd(s, g0, acc0);
            if (T.Has(a, 1)) acc1 = Vector256.FusedMultiplyAdd(s, g1, acc1);
            if (T.Has(a, 2)) acc2 = Vector256.FusedMultiplyAdd(s, g2, acc2);
            if (T.Has(a, 3)) acc3 = Vector256.FusedMultiplyAdd(s, g3, acc3);
        }
        Store256(a, result, stride, acc0, acc1, acc2, acc3);
    }

    // LevelRowBlock256 for one activation row (generation), both halves of each block in one pass (the
    // same sums in the same order, so a row gives the same bits alone or in a tile).
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void LevelRowBlock256One<TDot>(Weights w, Activations a, float* result, Vector256<byte> pos, Vector256<byte> neg) where TDot : struct, IDot256
    {
        var mask = Vector256.Create((byte)0xF);
        bool factored = w.Factored && w.BlocksPerGroup == 1;
        int unit = factored ? w.GroupsPerSuper : w.BlocksPerGroup, units = factored ? w.Groups / unit : w.Groups;
        var row = a.At(0);
        Vector256<float> low = default, high = default;
        for (int u = 0, b = 0; u < units; u++)
        {
            Vector256<float> groupLow = default, groupHigh = default;
            for (int end = b + unit; b < end; b++)
            {
                byte* c = w.Codes + (long)b * 256;
                PrefetchAhead(c, 256);
                int* quads = (int*)(row.Codes + b * BlockSize);
                var scaleLow = factored ? w.ScaleWords256(b, 0) : Vector256<short>.One;
                var scaleHigh = factored ? w.ScaleWords256(b, 1) : Vector256<short>.One;
                var sumLow = LevelHalf256<TDot>(c, mask, pos, neg, quads, scaleLow);
                var sumHigh = LevelHalf256<TDot>(c + 32, mask, pos, neg, quads, scaleHigh);
                var d = Vector256.Create(row.Scales[b]);
                groupLow = Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(sumLow), d, groupLow);
                groupHigh = Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(sumHigh), d, groupHigh);
            }
            low = Vector256.FusedMultiplyAdd(factored ? w.SuperFactors256(u, 0, 0) : w.Scales256(u, 0), groupLow, low);
            high = Vector256.FusedMultiplyAdd(factored ? w.SuperFactors256(u, 0, 1) : w.Scales256(u, 1), groupHigh, high);
        }
        low.Store(result);
        high.Store(result + RowsPerBlock / 2);
    }

    // One row's Σ level·q of a block's half (c: at the half), the four stored vectors in order.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> LevelHalf256<TDot>(byte* c, Vector256<byte> mask, Vector256<byte> pos, Vector256<byte> neg, int* quads, Vector256<short> scale) where TDot : struct, IDot256
    {
        Vector256<int> sum = default;
        for (int j = 0; j < 4; j++)
        {
            var v = Vector256.Load(c + 64 * j);
            var l = v & mask;
            var h = Vector256.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & mask;
            sum = LevelPair256<TDot>(sum, Avx2.Shuffle(pos, l), Avx2.Shuffle(neg, l), Avx2.Shuffle(pos, h), Avx2.Shuffle(neg, h), quads, j, scale);
        }
        return sum;
    }

    // Stored vector j's two code vectors looked up in the positive and negative tables once, then for
    // each row the positive minus the negative products, widened at once (two would overflow 16 bits)
    // by vpmaddwd with the scale words (ones where the scales fold as floats) and added to the sums (on
    // AVX-VNNI one vpdpwssd).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LevelQuad256<T, TDot>(Activations a, byte* c, int j, Vector256<byte> mask, Vector256<byte> pos, Vector256<byte> neg,
        int* q0, int* q1, int* q2, int* q3, Vector256<short> scale, ref Vector256<int> s0, ref Vector256<int> s1, ref Vector256<int> s2, ref Vector256<int> s3)
        where T : struct, ITileRows where TDot : struct, IDot256
    {
        var v = Vector256.Load(c + 64 * j);
        var l = v & mask;
        var h = Vector256.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & mask;
        var pl = Avx2.Shuffle(pos, l);
        var nl = Avx2.Shuffle(neg, l);
        var ph = Avx2.Shuffle(pos, h);
        var nh = Avx2.Shuffle(neg, h);
        s0 = LevelPair256<TDot>(s0, pl, nl, ph, nh, q0, j, scale);
        if (T.Has(a, 1)) s1 = LevelPair256<TDot>(s1, pl, nl, ph, nh, q1, j, scale);
        if (T.Has(a, 2)) s2 = LevelPair256<TDot>(s2, pl, nl, ph, nh, q2, j, scale);
        if (T.Has(a, 3)) s3 = LevelPair256<TDot>(s3, pl, nl, ph, nh, q3, j, scale);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> LevelPair256<TDot>(Vector256<int> sums, Vector256<byte> pl, Vector256<byte> nl, Vector256<byte> ph, Vector256<byte> nh, int* quads, int j, Vector256<short> scale)
        where TDot : struct, IDot256
    {
        var x0 = Vector256.Create(quads[2 * j]).AsSByte();
        var x1 = Vector256.Create(quads[2 * j + 1]).AsSByte();
        sums = TDot.Words(sums, Avx2.MultiplyAddAdjacent(pl, x0) - Avx2.MultiplyAddAdjacent(nl, x0), scale);
        return TDot.Words(sums, Avx2.MultiplyAddAdjacent(ph, x1) - Avx2.MultiplyAddAdjacent(nh, x1), scale);
    }
}
