using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sling.Kernels;

/// <summary>
/// int8 group weights in the 16-row interleaved layout (<see cref="RowBlockMatrix"/>). Per 16-row
/// block and 32-input block: 512 code bytes as sixteen 32-byte runs; run p holds, for row r, the
/// codes of inputs 2p and 2p+1 at bytes 2r and 2r+1. Each run widens to 16-bit lanes and meets a
/// broadcast pair of 16-bit activation codes in one <c>vpmaddwd</c> (unsigned 8-bit codes times
/// 8-bit activations would overflow <c>vpmaddubsw</c>'s 16-bit sums). llama.cpp's block types other
/// than Q4_K/Q4_1 come here too (<see cref="AffineBlockMatrix"/>): signed codes (code − zero), a float
/// scale and offset per group of 32 or, for 16-value sub-blocks (Q6_K, Q3_K, Q2_K), of 16 inputs.
/// </summary>
internal sealed unsafe class Int8RowBlockMatrix : RowBlockMatrix
{
    internal Int8RowBlockMatrix(StoredLayout shape, NativeBuffer codes, NativeBuffer scales, NativeBuffer? super, byte[]? zeros)
        : base(shape, codes, scales, super, zeros, "int8") { }

    internal Int8RowBlockMatrix(RepackSource m) : base(m, "int8")
    {
        int blocks = Cols / BlockSize;
        byte* target = _codes;
        int cols = Cols;
        ForEachRowBlock(m, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (rb) =>
        {
            byte* scratch = stackalloc byte[cols];
            for (int r = 0; r < RowsPerBlock; r++)
            {
                ushort* source = (ushort*)m.Int8RowCodes(rb * RowsPerBlock + r, scratch);
                for (int b = 0; b < blocks; b++)
                {
                    ushort* lane = (ushort*)(target + ((long)rb * blocks + b) * 512) + r;
                    for (int p = 0; p < BlockSize / 2; p++) lane[p * 16] = *source++;
                }
            }
        });
    }

    public override string Format => SourceFormat ?? (Symmetric ? "int8_sym" : "int8_asym");

    // Unsigned codes with zero points, and signed codes with affine or factored scales (offset factors
    // or none: IQ4_XS's levels as codes), have VNNI kernels; groups of 16 (half blocks) keep the .NET path.
    private protected override Emit.VnniKernel? VnniKernel(int stride, int blocks, int tile)
    {
        if (!Vnni || GroupSize < BlockSize) return null;
        if (!SignedCodes) return VnniFold is Emit.VnniFold.ZeroPoint zero ? Emit.VnniKernel.For(8, Emit.VnniCodes.Unsigned, stride, blocks, GroupSize / BlockSize, zero, tile) : null;
        if (VnniFold is Emit.VnniFold.ZeroPoint) return null; // signed codes come with affine scales
        Emit.VnniFold? fold = VnniFold ?? ScaledFold;
        return fold == null ? null : Emit.VnniKernel.For(8, Emit.VnniCodes.Signed, stride, blocks, GroupSize / BlockSize, fold, tile);
    }

    private protected override int BlockBytes => 512;

    private protected override int CodeAt(int row, int col)
    {
        int rb = row / RowsPerBlock, r = row % RowsPerBlock, b = col / BlockSize, i = col % BlockSize;
        byte code = _codes[((long)rb * (Cols / BlockSize) + b) * BlockBytes + i / 2 * 32 + r * 2 + i % 2];
        return SignedCodes ? (sbyte)code : code;
    }

    /// <summary>How 32 (AVX2: 16) code bytes widen to 16-bit lanes: zero- or sign-extended.</summary>
    private interface IWiden
    {
        static abstract Vector512<short> Widen(byte* codes);
        static abstract Vector256<short> Widen256(byte* codes);
    }

    private readonly struct Unsigned : IWiden
    {
        public static Vector512<short> Widen(byte* codes) => Avx512BW.ConvertToVector512Int16(Vector256.Load(codes));
        public static Vector256<short> Widen256(byte* codes) => Avx2.ConvertToVector256Int16(codes);
    }

    private readonly struct Signed : IWiden
    {
        public static Vector512<short> Widen(byte* codes) => Avx512BW.ConvertToVector512Int16(Vector256.Load((sbyte*)codes));
        public static Vector256<short> Widen256(byte* codes) => Avx2.ConvertToVector256Int16((sbyte*)codes);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Pair<T>(byte* c, short* q, int p) where T : struct, IWiden =>
        Avx512BW.MultiplyAddAdjacent(T.Widen(c + p * 32), Vector512.Create(((int*)q)[p]).AsInt16());

    // Σ code·q of one 32-input block for 16 rows (int32 lanes), for one activation row.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> BlockDot<T>(byte* c, short* q, int zeroSum) where T : struct, IWiden
    {
        var s0 = Pair<T>(c, q, 0) + Pair<T>(c, q, 1) + Pair<T>(c, q, 2) + Pair<T>(c, q, 3);
        var s1 = Pair<T>(c, q, 4) + Pair<T>(c, q, 5) + Pair<T>(c, q, 6) + Pair<T>(c, q, 7);
        var s2 = Pair<T>(c, q, 8) + Pair<T>(c, q, 9) + Pair<T>(c, q, 10) + Pair<T>(c, q, 11);
        var s3 = Pair<T>(c, q, 12) + Pair<T>(c, q, 13) + Pair<T>(c, q, 14) + Pair<T>(c, q, 15);
        return Avx512F.ConvertToVector512Single(s0 + s1 + (s2 + s3) - Vector512.Create(zeroSum));
    }

    // The two 16-input halves of one block separately (sub-blocks with their own scales).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<float> First, Vector512<float> Second) HalfDots(byte* c, short* q)
    {
        var s0 = Pair<Signed>(c, q, 0) + Pair<Signed>(c, q, 1) + Pair<Signed>(c, q, 2) + Pair<Signed>(c, q, 3);
        var s1 = Pair<Signed>(c, q, 4) + Pair<Signed>(c, q, 5) + Pair<Signed>(c, q, 6) + Pair<Signed>(c, q, 7);
        var s2 = Pair<Signed>(c, q, 8) + Pair<Signed>(c, q, 9) + Pair<Signed>(c, q, 10) + Pair<Signed>(c, q, 11);
        var s3 = Pair<Signed>(c, q, 12) + Pair<Signed>(c, q, 13) + Pair<Signed>(c, q, 14) + Pair<Signed>(c, q, 15);
        return (Avx512F.ConvertToVector512Single(s0 + s1), Avx512F.ConvertToVector512Single(s2 + s3));
    }

    // Optimized once, without tiering: a profile-guided recompile of this dispatcher inlined one kernel
    // and then called the kernel's helpers out of line (measured: Q4_K_M prompts 25–30 % slower).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private protected override void RowBlock(Weights w, Activations a, float* result, int stride)
    {
        if (!w.Affine) RowBlock<Unsigned>(w, a, result, stride);
        else if (w.BlocksPerGroup == 0) HalfBlockGroups(w, a, result, stride);
        else RowBlock<Signed>(w, a, result, stride);
    }

    /// <summary>Groups of 16 inputs (two per block): per half, acc += s·d·Σ code·q − o·d·Σq.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void HalfBlockGroups(Weights w, Activations a, float* result, int stride)
    {
        int tile = a.Tile, blocks = w.Groups / 2;
        Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        ActivationRow x0 = a.At(0), x1 = a.At(1), x2 = a.At(2), x3 = a.At(3);
        for (int b = 0; b < blocks; b++)
        {
            byte* c = w.Codes + (long)b * 512;
            PrefetchAhead(c, 512);
            var s0 = w.Scales(2 * b); var o0 = w.Offsets(2 * b);
            var s1 = w.Scales(2 * b + 1); var o1 = w.Offsets(2 * b + 1);
            acc0 = Halves(acc0, c, x0, b, s0, o0, s1, o1);
            if (tile > 1) acc1 = Halves(acc1, c, x1, b, s0, o0, s1, o1);
            if (tile > 2) acc2 = Halves(acc2, c, x2, b, s0, o0, s1, o1);
            if (tile > 3) acc3 = Halves(acc3, c, x3, b, s0, o0, s1, o1);
        }
        acc0.Store(result);
        if (tile > 1) acc1.Store(result + stride);
        if (tile > 2) acc2.Store(result + 2 * stride);
        if (tile > 3) acc3.Store(result + 3 * stride);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Halves(Vector512<float> acc, byte* c, ActivationRow x, int b,
        Vector512<float> s0, Vector512<float> o0, Vector512<float> s1, Vector512<float> o1)
    {
        var (first, second) = HalfDots(c, x.Wide + b * BlockSize);
        var d = Vector512.Create(x.Scales[b]);
        acc = AffineGroup(acc, s0, o0, first * d, x.GroupSums, 2 * b);
        return AffineGroup(acc, s1, o1, second * d, x.GroupSums, 2 * b + 1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void RowBlock<T>(Weights w, Activations a, float* result, int stride) where T : struct, IWiden
    {
        int tile = a.Tile;
        Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        ActivationRow x0 = a.At(0), x1 = a.At(1), x2 = a.At(2), x3 = a.At(3);
        for (int g = 0, b = 0; g < w.Groups; g++)
        {
            Vector512<float> g0 = default, g1 = default, g2 = default, g3 = default;
            for (int end = b + w.BlocksPerGroup; b < end; b++)
            {
                byte* c = w.Codes + (long)b * 512;
                PrefetchAhead(c, 512);
                int o = b * BlockSize;
                g0 = Vector512.FusedMultiplyAdd(BlockDot<T>(c, x0.Wide + o, x0.ZeroSum(b)), Vector512.Create(x0.Scales[b]), g0);
                if (tile > 1) g1 = Vector512.FusedMultiplyAdd(BlockDot<T>(c, x1.Wide + o, x1.ZeroSum(b)), Vector512.Create(x1.Scales[b]), g1);
                if (tile > 2) g2 = Vector512.FusedMultiplyAdd(BlockDot<T>(c, x2.Wide + o, x2.ZeroSum(b)), Vector512.Create(x2.Scales[b]), g2);
                if (tile > 3) g3 = Vector512.FusedMultiplyAdd(BlockDot<T>(c, x3.Wide + o, x3.ZeroSum(b)), Vector512.Create(x3.Scales[b]), g3);
            }
            FoldGroup(w, a, x0, x1, x2, x3, g, g0, g1, g2, g3, ref acc0, ref acc1, ref acc2, ref acc3);
        }
        acc0.Store(result);
        if (tile > 1) acc1.Store(result + stride);
        if (tile > 2) acc2.Store(result + 2 * stride);
        if (tile > 3) acc3.Store(result + 3 * stride);
    }
    // AVX2: 8 rows at a time. Each 32-byte run holds 2 bytes per row, rows 0–7 in its first 16 bytes
    // and 8–15 in the others, each widened to 16 bits once and multiplied with each activation row's
    // broadcast pair: every kernel takes both halves in one pass (RowBlock256Both, RowBlock256One).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // dispatch: see RowBlock
    private protected override void RowBlock256(Weights w, Activations a, float* result, int stride, int half)
        => throw new InvalidOperationException("the int8 layout's AVX2 kernels take both halves of a block in one pass");

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // dispatch: see RowBlock
    private protected override bool RowBlock256Both(Weights w, Activations a, float* result, int stride, int count)
    {
        if (RunAssembled(w, a, result, stride, count)) return true;
        if (a.Tile == Tile) Kernel<FullTile>(w, a, result, stride, count);
        else Kernel<PartialTile>(w, a, result, stride, count);
        return true;
    }

    // Q8_0's and Q5_0's blocks (unsigned codes sharing one zero point, one-block groups) and the seed's
    // (unsigned codes, fp16 scales and zero point bytes per group of whole blocks) have assembled AVX2 tile kernels.
    private protected override Emit.Avx2TileBlocks? Avx2Blocks(Weights w, Activations a)
        => OneBlockGroups(w) && !SignedCodes && SymmetricZero != 0 && a.ZeroSums(0) != null && a.ZeroStride == a.Blocks ? Emit.Avx2TileBlocks.Int8Scaled
        : !SignedCodes && GroupedWithZeroPoints(w, a) ? Emit.Avx2TileBlocks.Int8Grouped
        : null;

    // The one-pass kernel for these groups (16-value, one-block, or wider) and codes (signed or not),
    // compiled for the tile's rows T: a tile's (full or partial) or generation's single row.
    // The dot products are AVX2's, or AVX-VNNI's (in their AVX2 form where the CPU lacks them) with Isa.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Kernel<T>(Weights w, Activations a, float* result, int stride, int count) where T : struct, ITileRows
    {
        if (Isa != KernelIsa.AvxVnni) Kernel<T, Avx2Dot>(w, a, result, stride, count);
        else if (AvxVnni.IsSupported) Kernel<T, VnniDot>(w, a, result, stride, count);
        else Kernel<T, VnniForm>(w, a, result, stride, count);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Kernel<T, TDot>(Weights w, Activations a, float* result, int stride, int count) where T : struct, ITileRows where TDot : struct, IDot256
    {
        if (w.BlocksPerGroup == 0) HalfBlockGroups256Both<T, TDot>(w, a, result, stride, count);
        // Q8_0's signed codes have no zero point (0); the int8 layout's unsigned ones share 128.
        else if (w.SharedZero && SymmetricZero != 0) Kernel<T, TDot, ZeroStart>(w, a, result, stride, count);
        else Kernel<T, TDot, NoZero>(w, a, result, stride, count);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Kernel<T, TDot, TStart>(Weights w, Activations a, float* result, int stride, int count)
        where T : struct, ITileRows where TDot : struct, IDot256 where TStart : struct, IBlockStart
    {
        if (OneBlockGroups(w))
        {
            if (SignedCodes) RowBlock256Both<Signed, T, EachBlock, TStart, TDot>(w, a, result, stride, count);
            else RowBlock256Both<Unsigned, T, EachBlock, TStart, TDot>(w, a, result, stride, count);
        }
        else if (SignedCodes) RowBlock256Both<Signed, T, EachGroup, TStart, TDot>(w, a, result, stride, count);
        else RowBlock256Both<Unsigned, T, EachGroup, TStart, TDot>(w, a, result, stride, count);
    }

    // Both halves of each run in one pass: each activation row's broadcast pair meets rows 0–7 and
    // 8–15, so a broadcast serves twice the products (the broadcasts, like the widening, take a
    // vector pipe here; measured: ~1.6x the products per cycle of two half passes).
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void RowBlock256Both<TWiden, T, TFold, TStart, TDot>(Weights w, Activations a, float* result, int stride, int count)
        where TWiden : struct, IWiden where T : struct, ITileRows where TFold : struct, IFoldUnit where TStart : struct, IBlockStart where TDot : struct, IDot256
    {
        ActivationRow x0 = a.At(0), x1 = a.At(1), x2 = a.At(2), x3 = a.At(3);
        for (int k = 0; k < count; k++, w = w.Next(), result += RowsPerBlock)
        {
            Vector256<float> l0 = default, l1 = default, l2 = default, l3 = default;
            Vector256<float> h0 = default, h1 = default, h2 = default, h3 = default;
            int* q0 = (int*)x0.Wide, q1 = (int*)x1.Wide, q2 = (int*)x2.Wide, q3 = (int*)x3.Wide;
            for (int g = 0, b = 0; g < w.Groups; g++)
            {
                Vector256<float> gl0 = default, gl1 = default, gl2 = default, gl3 = default;
                Vector256<float> gh0 = default, gh1 = default, gh2 = default, gh3 = default;
                for (int end = b + w.BlocksPerGroup; b < end; b++)
                {
                    byte* c = w.Half256(b, 512, 0);
                    Vector256<int> sl0 = TStart.Of(x0, b), sl1 = default, sl2 = default, sl3 = default;
                    if (T.Has(a, 1)) sl1 = TStart.Of(x1, b);
                    if (T.Has(a, 2)) sl2 = TStart.Of(x2, b);
                    if (T.Has(a, 3)) sl3 = TStart.Of(x3, b);
                    Vector256<int> sh0 = sl0, sh1 = sl1, sh2 = sl2, sh3 = sl3;
                    Runs256<TWiden, T, TDot>(a, c, b * BlockSize / 2, BlockSize / 2, q0, q1, q2, q3, ref sl0, ref sl1, ref sl2, ref sl3, ref sh0, ref sh1, ref sh2, ref sh3);
                    if (TFold.Block)
                    {
                        var sLow = w.HalfScales256(b, 0);
                        var sHigh = w.HalfScales256(b, 1);
                        l0 = ScaledBlock256(x0.Scales[b], sl0, sLow, l0);
                        h0 = ScaledBlock256(x0.Scales[b], sh0, sHigh, h0);
                        if (T.Has(a, 1)) { l1 = ScaledBlock256(x1.Scales[b], sl1, sLow, l1); h1 = ScaledBlock256(x1.Scales[b], sh1, sHigh, h1); }
                        if (T.Has(a, 2)) { l2 = ScaledBlock256(x2.Scales[b], sl2, sLow, l2); h2 = ScaledBlock256(x2.Scales[b], sh2, sHigh, h2); }
                        if (T.Has(a, 3)) { l3 = ScaledBlock256(x3.Scales[b], sl3, sLow, l3); h3 = ScaledBlock256(x3.Scales[b], sh3, sHigh, h3); }
                        continue;
                    }
                    gl0 = AddBlock256(x0.Scales[b], sl0, gl0);
                    gh0 = AddBlock256(x0.Scales[b], sh0, gh0);
                    if (T.Has(a, 1)) { gl1 = AddBlock256(x1.Scales[b], sl1, gl1); gh1 = AddBlock256(x1.Scales[b], sh1, gh1); }
                    if (T.Has(a, 2)) { gl2 = AddBlock256(x2.Scales[b], sl2, gl2); gh2 = AddBlock256(x2.Scales[b], sh2, gh2); }
                    if (T.Has(a, 3)) { gl3 = AddBlock256(x3.Scales[b], sl3, gl3); gh3 = AddBlock256(x3.Scales[b], sh3, gh3); }
                }
                if (TFold.Block) continue;
                FoldGroup256<T>(w, a, x0, x1, x2, x3, g, 0, gl0, gl1, gl2, gl3, ref l0, ref l1, ref l2, ref l3);
                FoldGroup256<T>(w, a, x0, x1, x2, x3, g, 1, gh0, gh1, gh2, gh3, ref h0, ref h1, ref h2, ref h3);
            }
            Store256(a, result, stride, l0, l1, l2, l3);
            Store256(a, result + RowsPerBlock / 2, stride, h0, h1, h2, h3);
        }
    }

    /// <summary>
    /// Groups of 16 inputs (AVX2), both halves in one pass: per half block, acc += s·d·Σ code·q − o·d·Σq,
    /// as <see cref="HalfBlockGroups"/>; each run widened once for the tile's rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void HalfBlockGroups256Both<T, TDot>(Weights w, Activations a, float* result, int stride, int count) where T : struct, ITileRows where TDot : struct, IDot256
    {
        int blocks = w.Groups / 2;
        ActivationRow x0 = a.At(0), x1 = a.At(1), x2 = a.At(2), x3 = a.At(3);
        for (int k = 0; k < count; k++, w = w.Next(), result += RowsPerBlock)
        {
            Vector256<float> l0 = default, l1 = default, l2 = default, l3 = default;
            Vector256<float> h0 = default, h1 = default, h2 = default, h3 = default;
            int* q0 = (int*)x0.Wide, q1 = (int*)x1.Wide, q2 = (int*)x2.Wide, q3 = (int*)x3.Wide;
            for (int b = 0; b < blocks; b++)
            {
                byte* c = w.Half256(b, 512, 0);
                for (int g = 2 * b; g < 2 * b + 2; g++)
                {
                    Vector256<int> sl0 = default, sl1 = default, sl2 = default, sl3 = default;
                    Vector256<int> sh0 = default, sh1 = default, sh2 = default, sh3 = default;
                    Runs256<Signed, T, TDot>(a, c, g * BlockSize / 4, BlockSize / 4, q0, q1, q2, q3, ref sl0, ref sl1, ref sl2, ref sl3, ref sh0, ref sh1, ref sh2, ref sh3);
                    c += BlockSize / 4 * 32;
                    HalfGroup256<T>(w, a, x0, x1, x2, x3, b, g, 0, sl0, sl1, sl2, sl3, ref l0, ref l1, ref l2, ref l3);
                    HalfGroup256<T>(w, a, x0, x1, x2, x3, b, g, 1, sh0, sh1, sh2, sh3, ref h0, ref h1, ref h2, ref h3);
                }
            }
            Store256(a, result, stride, l0, l1, l2, l3);
            Store256(a, result + RowsPerBlock / 2, stride, h0, h1, h2, h3);
        }
    }

    // A 16-value group's sums of rows 8·half.. into the tile's outputs: acc += s·(d·Σ) − o·(d·Σq).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void HalfGroup256<T>(Weights w, Activations a, ActivationRow x0, ActivationRow x1, ActivationRow x2, ActivationRow x3,
        int b, int g, int half, Vector256<int> s0, Vector256<int> s1, Vector256<int> s2, Vector256<int> s3,
        ref Vector256<float> acc0, ref Vector256<float> acc1, ref Vector256<float> acc2, ref Vector256<float> acc3) where T : struct, ITileRows
    {
        var scale = w.Scales256(g, half);
        var offset = w.Offsets256(g, half);
        acc0 = AffineGroup256(acc0, scale, offset, Avx.ConvertToVector256Single(s0) * Vector256.Create(x0.Scales[b]), x0.GroupSums, g);
        if (T.Has(a, 1)) acc1 = AffineGroup256(acc1, scale, offset, Avx.ConvertToVector256Single(s1) * Vector256.Create(x1.Scales[b]), x1.GroupSums, g);
        if (T.Has(a, 2)) acc2 = AffineGroup256(acc2, scale, offset, Avx.ConvertToVector256Single(s2) * Vector256.Create(x2.Scales[b]), x2.GroupSums, g);
        if (T.Has(a, 3)) acc3 = AffineGroup256(acc3, scale, offset, Avx.ConvertToVector256Single(s3) * Vector256.Create(x3.Scales[b]), x3.GroupSums, g);
    }

    // Runs first.. first + count − 1 (from c) times the tile's rows, both halves: each run widened once.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Runs256<TWiden, T, TDot>(Activations a, byte* c, int first, int count, int* q0, int* q1, int* q2, int* q3,
        ref Vector256<int> sl0, ref Vector256<int> sl1, ref Vector256<int> sl2, ref Vector256<int> sl3,
        ref Vector256<int> sh0, ref Vector256<int> sh1, ref Vector256<int> sh2, ref Vector256<int> sh3) where TWiden : struct, IWiden where T : struct, ITileRows where TDot : struct, IDot256
    {
        for (int p = first, last = first + count; p < last; p++, c += 32)
        {
            var low = TWiden.Widen256(c);
            var high = TWiden.Widen256(c + 16);
            PairBoth<TDot>(low, high, q0[p], ref sl0, ref sh0);
            if (T.Has(a, 1)) PairBoth<TDot>(low, high, q1[p], ref sl1, ref sh1);
            if (T.Has(a, 2)) PairBoth<TDot>(low, high, q2[p], ref sl2, ref sh2);
            if (T.Has(a, 3)) PairBoth<TDot>(low, high, q3[p], ref sl3, ref sh3);
        }
    }

    // One activation row's broadcast pair of codes times a run's two halves (rows 0–7, 8–15).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PairBoth<TDot>(Vector256<short> low, Vector256<short> high, int pair, ref Vector256<int> sumLow, ref Vector256<int> sumHigh) where TDot : struct, IDot256
    {
        var x = Vector256.Create(pair).AsInt16();
        sumLow = TDot.Words(sumLow, low, x);
        sumHigh = TDot.Words(sumHigh, high, x);
    }

    // One activation row (generation): the tile kernels for a single row (each run's two halves meet
    // the same broadcast pair; the same sums in the same order as in a tile).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // dispatch: see RowBlock
    private protected override bool RowBlock256One(Weights w, Activations a, float* result, int count)
    {
        Kernel<OneRow>(w, a, result, RowsPerBlock, count);
        return true;
    }
}
