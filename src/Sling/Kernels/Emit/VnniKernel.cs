using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Sling.Kernels.Emit;

/// <summary>What the stored code bytes are, as the VNNI kernels turn them into <c>vpdpbusd</c>'s unsigned operand.</summary>
internal enum VnniCodes
{
    /// <summary>Unsigned codes, multiplied as they are.</summary>
    Unsigned,
    /// <summary>Signed int8 codes, offset by 128 (their sign bit flipped), 128·Σq taken out of each block's sum.</summary>
    Signed,
    /// <summary>4-bit indices into a table of 16 levels, looked up as level + 128, 128·Σq taken out.</summary>
    Levels,
}

/// <summary>How a group's sums join the outputs, as <see cref="RowBlockMatrix"/> stores its scales.</summary>
internal abstract record VnniFold
{
    /// <summary>Scales only (the codes are the values): fp16 scales, or, with <paramref name="GroupsPerSuper"/> &gt; 0, a byte per group times a float per super-block.</summary>
    public sealed record Scaled(int GroupsPerSuper, bool SignedFactors) : VnniFold;
    /// <summary>fp16 scales; one zero point for all codes, or one per group and row (bytes).</summary>
    public sealed record ZeroPoint(bool PerGroup) : VnniFold;
    /// <summary>16 float scales then 16 float offsets per group (value = scale·code − offset).</summary>
    public sealed record Affine : VnniFold;
    /// <summary>Scale and offset bytes per group times floats per super-block of <paramref name="GroupsPerSuper"/> groups.</summary>
    public sealed record Factored(int GroupsPerSuper, bool SignedFactors) : VnniFold;
    /// <summary>
    /// Unsigned scale and offset bytes per one-block group (Q4_K) times floats per super-block of
    /// <paramref name="GroupsPerSuper"/> groups, the scale bytes multiplied into each block's integer
    /// sums and the floats applied once per super-block.
    /// </summary>
    public sealed record IntegerFactored(int GroupsPerSuper) : VnniFold;
    /// <summary>
    /// The K-quant layouts' factored scales (<see cref="Int6RowBlockMatrix"/>): groups of 16 values (two
    /// per block) or 32, scale bytes and, with <paramref name="Offsets"/>, offset bytes per group;
    /// <paramref name="Planes"/> high-bit planes after the low four bits (2, 1 or 0).
    /// </summary>
    public sealed record SixBit(bool Halves, int GroupsPerSuper, bool Offsets, bool SignedFactors, int Planes) : VnniFold;
}

/// <summary>
/// The interleaved kernels (<see cref="RowBlockMatrix"/>: 16 rows × 4 activation rows per step) of
/// the int4, 6-bit and int8 layouts with AVX-512 VNNI's <c>vpdpbusd</c>, which multiplies unsigned code
/// bytes by signed activation bytes and adds each four into an int32 lane in one instruction, where
/// the .NET path needs <c>vpmaddubsw</c>, an add and a final <c>vpmaddwd</c> (int4) or a widening
/// and a <c>vpmaddwd</c> per input pair (int8). .NET 10 exposes no 512-bit VNNI intrinsic for this
/// CPU, so the loop is assembled at run time, once per shape, with <see cref="X64Assembler"/>. It
/// computes what the layouts' .NET loops do, in the same order and roundings, so both paths give the
/// same bits (the tests compare them): unsigned, signed and table codes (<see cref="VnniCodes"/>),
/// with zero points, affine, factored (K-quant) or plain scales (<see cref="VnniFold"/>).
/// </summary>
internal sealed unsafe class VnniKernel
{
    /// <summary>What one call multiplies: a range of row blocks by one full tile of 4 activation rows.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 192)]
    public struct Arguments
    {
        [FieldOffset(0)] public byte* Codes;       // the first row block's codes
        [FieldOffset(8)] public void* Scales;      // its fp16 scales, float scales and offsets, or factor bytes
        [FieldOffset(16)] public void* Zeros;      // its zero point bytes, or super-block floats
        [FieldOffset(24)] public sbyte* Q;         // activation row 0's codes; row t at + t·stride
        [FieldOffset(32)] public float* D;         // activation row 0's block scales; row t at + t·blocks
        [FieldOffset(40)] public float* Sums;      // activation row 0's group sums; row t at + t·groups
        [FieldOffset(48)] public float* Result;    // row 0's 16 outputs of the first row block; row t at + t·ldy
        [FieldOffset(56)] public long ResultStrideBytes;
        [FieldOffset(64)] public long RowBlocks;
        [FieldOffset(72)] public float Zero;       // K-quant layouts: the offset their codes were stored with
        [FieldOffset(80)] public int* OffsetSums;  // activation row 0's 128·Σq per block (signed and table codes) or zero·Σq (a shared zero point); row t at + t·blocks
        [FieldOffset(88)] internal byte* Constants; // the kernels' constant vectors (set by Run)
        [FieldOffset(128)] public fixed byte Levels[64]; // table codes: level + 128 for each index, in every 128-bit lane
    }

    // The constant vectors the kernels load, made once: offsets into the block.
    private const int MaskAt = 0, InterleaveAt = 64, HighBitsAt = 128, SignBitsAt = 192, FifthBitAt = 256;
    private static readonly byte* ConstantVectors = MakeConstants();

    private static byte* MakeConstants()
    {
        var block = (byte*)NativeMemory.AlignedAlloc(320, 64); // lives as long as the process, as the kernels do
        new Span<byte>(block + MaskAt, 64).Fill(0x0F);         // int4: the low nibble of every byte
        new Span<byte>(block + HighBitsAt, 64).Fill(0x30);     // int6: the two high bits
        new Span<byte>(block + SignBitsAt, 64).Fill(0x80);     // signed int8: the sign bit
        new Span<byte>(block + FifthBitAt, 64).Fill(0x10);     // int5: the fifth bit
        // int8: word 2r ← word r (inputs 4j, 4j+1 of row r), word 2r+1 ← word 16 + r (inputs 4j+2, 4j+3).
        var order = (short*)(block + InterleaveAt);
        for (int r = 0; r < 16; r++) (order[2 * r], order[2 * r + 1]) = ((short)r, (short)(16 + r));
        return block;
    }

    private const int BlockSize = 32, Rows = 16;
    // Lazy values: two threads asking for a new shape at once assemble and map it once (GetOrAdd may run
    // its factory on both; only the stored Lazy is ever evaluated).
    private static readonly ConcurrentDictionary<(int, VnniCodes, int, int, int, VnniFold, int), Lazy<VnniKernel>> Kernels = new();
    private readonly delegate* unmanaged<Arguments*, void> _entry;

    /// <summary>
    /// True when this CPU has AVX-512 VNNI, the system lets the kernels be loaded (64-bit Linux), and
    /// the environment variable SLING_NO_ASSEMBLED_KERNELS is not set (it measures the .NET path).
    /// </summary>
    public static bool Available { get; } = ExecutableCode.Allowed
        && Avx512F.IsSupported && Avx512BW.IsSupported && (X86Base.CpuId(7, 0).Ecx & (1 << 11)) != 0;

    private VnniKernel(void* entry) => _entry = (delegate* unmanaged<Arguments*, void>)entry;

    /// <summary>
    /// The kernel for <paramref name="bits"/>-bit codes (4, 6 or 8) of the kind <paramref name="codes"/>
    /// says, activation rows of <paramref name="stride"/> codes and <paramref name="blocks"/> 32-input
    /// blocks, groups of <paramref name="blocksPerGroup"/> blocks folded as <paramref name="fold"/> says,
    /// for tiles of <paramref name="tile"/> activation rows (4, or 1: generation's single row and a
    /// last partial tile); null when the kernels are not available here.
    /// </summary>
    public static VnniKernel? For(int bits, VnniCodes codes, int stride, int blocks, int blocksPerGroup, VnniFold fold, int tile = 4)
    {
        if (!Available) return null;
        var kernel = Kernels.GetOrAdd((bits, codes, stride, blocks, blocksPerGroup, fold, tile), key => new Lazy<VnniKernel>(() =>
        {
            var code = Assemble(key.Item1, key.Item2, key.Item3, key.Item4, key.Item5, key.Item6, key.Item7);
            void* entry = ExecutableCode.Load(code);
            return new VnniKernel(entry);
        })).Value;
        return kernel._entry == null ? null : kernel;
    }

    public void Run(Arguments* arguments)
    {
        arguments->Constants = ConstantVectors;
        _entry(arguments);
    }

    // Registers. General: arguments in rdi (System V); codes, scales and zero points advance through
    // the whole range; the activation cursors restart at every row block.
    private const Gpr Codes = Gpr.Rax, Scales = Gpr.Rbx, Zeros = Gpr.Rcx, QBase = Gpr.Rdx, DBase = Gpr.Rsi, SumBase = Gpr.R10,
        Q = Gpr.R8, D = Gpr.R9, Sums = Gpr.R11, Result = KernelFrame.Result, Ldy = KernelFrame.Ldy, Ldy3 = KernelFrame.Ldy3, RowBlocks = KernelFrame.RowBlocks, Loop = KernelFrame.Loop;
    // Vector: zmm0–3 the tile's outputs, zmm4–7 its group sums, zmm8–15 a block's codes as eight
    // vectors of 4 inputs × 16 rows, zmm16 the nibble mask (int4) or the word order (int8), zmm17–24
    // two int32 sums per activation row, zmm26 a group's scales, zmm27 its zero points or offsets,
    // zmm28 scratch, zmm29–30 a super-block's scale and offset factors.
    private const int Acc = 0, GroupSum = 4, Unpacked = 8, Mask = 16, Dot = 17, Scale = 26, Zero = 27, Scratch = 28, SuperScale = 29, SuperOffset = 30;

    internal static byte[] Assemble(int bits, VnniCodes codes, int stride, int blocks, int blocksPerGroup, VnniFold fold, int tile = 4)
    {
        // A tile of one row uses the first row's registers of the tile of 4, and the same steps.
        if (tile is not (1 or 4)) throw new ArgumentException($"tiles of {tile} activation rows: 1 or 4");
        if (fold is VnniFold.SixBit six) return AssembleSixBit(stride, blocks, six, tile);
        if (fold is VnniFold.IntegerFactored integer)
        {
            if (bits != 4 || codes != VnniCodes.Unsigned || blocksPerGroup != 1)
                throw new ArgumentException("integer-folded factored scales take unsigned 4-bit codes in one-block groups");
            return AssembleIntegerFactored(stride, blocks, integer.GroupsPerSuper, tile);
        }
        if (bits is not (4 or 8)) throw new ArgumentException($"{bits}-bit codes have no VNNI kernel");
        if (codes == VnniCodes.Signed && bits != 8 || codes == VnniCodes.Levels && bits != 4)
            throw new ArgumentException($"{codes} codes are not {bits}-bit");
        if (blocksPerGroup < 1 || blocks % blocksPerGroup != 0) throw new ArgumentException($"{blocks} blocks do not make groups of {blocksPerGroup}");
        int groups = blocks / blocksPerGroup;
        // Factored scales: the group loop walks super-blocks, their groups written out one after another.
        int unroll = fold switch
        {
            VnniFold.Factored f => f.GroupsPerSuper,
            VnniFold.Scaled { GroupsPerSuper: > 0 } f => f.GroupsPerSuper,
            _ => 1,
        };
        int superParts = fold switch { VnniFold.Factored => 2, VnniFold.Scaled { GroupsPerSuper: > 0 } => 1, _ => 0 };
        if (groups % unroll != 0) throw new ArgumentException($"{groups} groups do not make super-blocks of {unroll}");
        var a = new X64Assembler();
        Prologue(a);
        a.Vmovdqu32(Mask, new Mem(ConstantBase, bits == 4 ? MaskAt : InterleaveAt));
        // Sums taken out of each block's integer sum: 128·Σq for signed and table codes (offset to be
        // unsigned), zero·Σq for one zero point shared by all codes.
        bool takeOut = codes != VnniCodes.Unsigned || fold is VnniFold.ZeroPoint { PerGroup: false };
        if (codes != VnniCodes.Unsigned)
            a.Vmovdqu32(CodeTable, codes == VnniCodes.Signed ? new Mem(ConstantBase, SignBitsAt) : new Mem(Args, 128));
        if (takeOut)
        {
            // From here rdi is the distance from the block scales to those sums (same layout), so both
            // are read through the one cursor.
            a.MovLoad(SumOffset, new Mem(Args, 80));
            a.Sub(SumOffset, DBase);
        }

        int rowBlockLoop = RowBlockStart(a, groups / unroll, tile);
        int groupLoop = a.Position;
        if (superParts > 0) LoadSuper(a, superParts);
        for (int k = 0; k < unroll; k++)
        {
            GroupSums(a, bits, codes, takeOut, stride, blocks, blocksPerGroup, tile);
            Fold(a, fold, groups, k, tile);
        }
        if (superParts > 0) a.Add(Scales, unroll * superParts * Rows);
        a.Dec(Loop);
        a.JnzBack(groupLoop);
        RowBlockEnd(a, rowBlockLoop, tile);
        return a.ToArray();
    }

    // The constants' address lives in the loop counter's register until the first row block sets it.
    private const Gpr Args = Gpr.Rdi, SumOffset = Gpr.Rdi, ConstantBase = Loop;
    // Signed and table codes: zmm25 holds the sign bits or the level table.
    private const int CodeTable = 25;

    private static void Prologue(X64Assembler a)
    {
        KernelFrame.Enter(a);
        KernelFrame.Load(a, Args, (Codes, 0), (Scales, 8), (Zeros, 16), (QBase, 24), (DBase, 32), (SumBase, 40), (Result, 48), (Ldy, 56), (RowBlocks, 64));
        KernelFrame.TripleStride(a);
        a.MovLoad(ConstantBase, new Mem(Args, 88));
    }

    // A row block begins: activation cursors back to the start, outputs zero, the loop counter set.
    private static int RowBlockStart(X64Assembler a, int iterations, int tile)
    {
        int top = a.Position;
        a.Mov(Q, QBase);
        a.Mov(D, DBase);
        a.Mov(Sums, SumBase);
        for (int t = 0; t < tile; t++) a.Vpxord(Acc + t, Acc + t, Acc + t);
        a.Mov(Loop, (uint)iterations);
        return top;
    }

    // The row block's 16 outputs of each activation row stored; on to the next row block, then return.
    private static void RowBlockEnd(X64Assembler a, int rowBlockLoop, int tile)
    {
        for (int t = 0; t < tile; t++) a.Vmovups(KernelFrame.Output(t), Acc + t);
        a.Add(Result, Rows * sizeof(float));
        a.Dec(RowBlocks);
        a.JnzBack(rowBlockLoop);
        KernelFrame.Leave(a);
    }

    // A super-block's 16 scale factors (and 16 offset factors) into zmm29 (and zmm30).
    private static void LoadSuper(X64Assembler a, int parts)
    {
        a.Vmovdqu32(SuperScale, new Mem(Zeros));
        if (parts == 2) a.Vmovdqu32(SuperOffset, new Mem(Zeros, Rows * sizeof(float)));
        a.Add(Zeros, parts * Rows * sizeof(float));
    }

    // A factored group's 16 factor bytes at m times a super-block's floats, as floats in dst.
    private static void FactorTimesSuper(X64Assembler a, int dst, Mem m, bool signed, int super)
    {
        if (signed) a.Vpmovsxbd(dst, m); else a.Vpmovzxbd(dst, m);
        a.Vcvtdq2ps(dst, dst);
        a.Vmulps(dst, super, dst);
    }

    // The int4 layout's block (and the K-quant layouts' low bits) as eight code vectors in zmm8–15:
    // stored vector v holds inputs 8v..8v+3 in its low nibbles, 8v+4..8v+7 in its high ones.
    private static void UnpackNibbles(X64Assembler a)
    {
        for (int v = 0; v < 4; v++)
        {
            a.Vmovdqu32(Scratch, new Mem(Codes, 64 * v));
            a.Vpandd(Unpacked + 2 * v, Scratch, Mask);
            a.Vpsrlw(Scratch, Scratch, 4);
            a.Vpandd(Unpacked + 2 * v + 1, Scratch, Mask);
        }
    }

    // One group's Σ_b d_b · Σ code·q for the tile's rows into zmm4–7; the cursors move past the group.
    private static void GroupSums(X64Assembler a, int bits, VnniCodes codes, bool takeOut, int stride, int blocks, int blocksPerGroup, int tile)
    {
        int blockBytes = bits * BlockSize * Rows / 8;
        for (int t = 0; t < tile; t++) a.Vpxord(GroupSum + t, GroupSum + t, GroupSum + t);
        for (int i = 0; i < blocksPerGroup; i++)
        {
            KernelFrame.Prefetch(a, Codes, blockBytes);
            if (bits == 4) UnpackNibbles(a);
            else
            {
                // 64 stored bytes j: pairs of inputs 4j, 4j+1 of the 16 rows, then pairs 4j+2, 4j+3; one
                // word permute puts each row's four codes together.
                for (int j = 0; j < 8; j++) a.Vpermw(Unpacked + j, Mask, new Mem(Codes, 64 * j));
            }
            // Signed codes become unsigned by flipping their sign bit (c + 128); table indices become
            // level + 128 by one lookup.
            for (int j = 0; j < 8 && codes != VnniCodes.Unsigned; j++)
            {
                if (codes == VnniCodes.Signed) a.Vpxord(Unpacked + j, Unpacked + j, CodeTable);
                else a.Vpshufb(Unpacked + j, CodeTable, Unpacked + j);
            }
            for (int t = 0; t < tile; t++)
            {
                int even = BlockDots(a, t, stride, i);
                if (takeOut) a.Vpsubd(even, even, new Mem(D, 4 * (t * blocks + i), SumOffset), broadcast: true);
                a.Vcvtdq2ps(even, even);
                a.Vfmadd231ps(GroupSum + t, even, new Mem(D, 4 * (t * blocks + i)), broadcast: true);
            }
            a.Add(Codes, blockBytes);
        }
        a.Add(Q, BlockSize * blocksPerGroup);
        a.Add(D, 4 * blocksPerGroup);
    }

    // Activation row t's block i (from the Q cursor) times the unpacked codes in zmm8–15: two chains
    // of four vpdpbusd (quad j: inputs 4j..4j+3 times the 16 rows' codes of those inputs), added; the
    // register holding the integer sums.
    private static int BlockDots(X64Assembler a, int t, int stride, int i)
    {
        int even = Dot + 2 * t, odd = even + 1;
        a.Vpxord(even, even, even);
        a.Vpxord(odd, odd, odd);
        for (int j = 0; j < 8; j++)
            a.Vpdpbusd(j % 2 == 0 ? even : odd, Unpacked + j, new Mem(Q, t * stride + BlockSize * i + 4 * j), broadcast: true);
        a.Vpaddd(even, even, odd);
        return even;
    }

    // The group's fold into the outputs, as the .NET path rounds it: with zero points,
    // output += scale · (Σ d·Σ code·q − zero · Σ d·Σ q); affine, output += scale · Σ d·Σ code·q − offset · Σ d·Σ q.
    private static void Fold(X64Assembler a, VnniFold fold, int groups, int k, int tile)
    {
        switch (fold)
        {
            case VnniFold.ZeroPoint z:
                a.Vcvtph2ps(Scale, new Mem(Scales));
                a.Add(Scales, Rows * sizeof(short));
                if (!z.PerGroup)
                {
                    // The shared zero point left the integer sums already: output += scale · Σ d·Σ (code − zero)·q.
                    for (int t = 0; t < tile; t++) a.Vfmadd231ps(Acc + t, Scale, GroupSum + t);
                    break;
                }
                a.Vpmovzxbd(Zero, new Mem(Zeros));
                a.Vcvtdq2ps(Zero, Zero);
                a.Add(Zeros, Rows);
                for (int t = 0; t < tile; t++)
                {
                    a.Vmulps(Scratch, Zero, new Mem(Sums, 4 * t * groups), broadcast: true);
                    a.Vsubps(Scratch, GroupSum + t, Scratch);
                    a.Vfmadd231ps(Acc + t, Scale, Scratch);
                }
                break;
            case VnniFold.Scaled f:
                // The codes are the values: output += scale · Σ d·Σ code·q.
                if (f.GroupsPerSuper > 0) FactorTimesSuper(a, Scale, new Mem(Scales, k * Rows), f.SignedFactors, SuperScale);
                else
                {
                    a.Vcvtph2ps(Scale, new Mem(Scales));
                    a.Add(Scales, Rows * sizeof(short));
                }
                for (int t = 0; t < tile; t++) a.Vfmadd231ps(Acc + t, Scale, GroupSum + t);
                break;
            case VnniFold.Affine:
                a.Vmovdqu32(Scale, new Mem(Scales));
                a.Vmovdqu32(Zero, new Mem(Scales, Rows * sizeof(float)));
                a.Add(Scales, 2 * Rows * sizeof(float));
                AffineFold(a, groups, tile);
                break;
            case VnniFold.Factored f:
                // Group k's 16 scale bytes and 16 offset bytes times the super-block's floats.
                FactorTimesSuper(a, Scale, new Mem(Scales, k * 2 * Rows), f.SignedFactors, SuperScale);
                FactorTimesSuper(a, Zero, new Mem(Scales, k * 2 * Rows + Rows), f.SignedFactors, SuperOffset);
                AffineFold(a, groups, tile);
                break;
        }
        a.Add(Sums, 4);
    }

    // The K-quant layouts (Int6RowBlockMatrix): per block the low four bits as the int4 layout holds
    // them, then 0–2 64-byte planes of the higher bits; codes u = c + z. Each block folds at once: per
    // group (a half block of 16 values, or the whole block), s·d·Σ u·q − (z·s + o)·d·Σq.
    // zmm4–7: the groups' scales and offsets; zmm25, zmm31: the planes; zmm27: the high-bit mask; zmm26: z.
    private const int PlaneLow = 25, PlaneHigh = 31, HighMask = 27, CodeOffset = 26;

    private static byte[] AssembleSixBit(int stride, int blocks, VnniFold.SixBit fold, int tile)
    {
        int groups = fold.Halves ? 2 * blocks : blocks, perSuper = fold.GroupsPerSuper, parts = fold.Offsets ? 2 : 1;
        int blocksPerSuper = fold.Halves ? perSuper / 2 : perSuper;
        if (blocksPerSuper < 1 || groups % perSuper != 0 || perSuper % (fold.Halves ? 2 : 1) != 0)
            throw new ArgumentException($"{groups} groups do not make super-blocks of {perSuper}");
        int planes = fold.Planes;
        if (planes is < 0 or > 2) throw new ArgumentException($"{planes} high-bit planes");
        const int lowBytes = 256;
        int blockBytes = lowBytes + 64 * planes;
        var a = new X64Assembler();
        Prologue(a);
        a.Vmovdqu32(Mask, new Mem(ConstantBase, MaskAt));
        if (planes > 0) a.Vmovdqu32(HighMask, new Mem(ConstantBase, planes == 2 ? HighBitsAt : FifthBitAt));
        a.Vbroadcastss(CodeOffset, new Mem(Args, 72));
        int rowBlockLoop = RowBlockStart(a, groups / perSuper, tile);
        int superLoop = a.Position;
        LoadSuper(a, parts);
        for (int i = 0; i < blocksPerSuper; i++)
        {
            KernelFrame.Prefetch(a, Codes, blockBytes);
            UnpackNibbles(a);
            if (planes > 0) a.Vmovdqu32(PlaneLow, new Mem(Codes, lowBytes));
            if (planes == 2) a.Vmovdqu32(PlaneHigh, new Mem(Codes, lowBytes + 64));
            for (int m = 0; m < 8 && planes == 2; m++)
            {
                // Code vector m's high bits sit at bits 2(m mod 4) of plane m / 4; moved to bits 4–5 and
                // merged: u = low | (shifted & 0x30) (16-bit shifts: what crosses a byte lands outside the mask).
                int plane = m < 4 ? PlaneLow : PlaneHigh, source = plane;
                switch (m % 4)
                {
                    case 0: a.Vpsllw(Scratch, plane, 4); source = Scratch; break;
                    case 1: a.Vpsllw(Scratch, plane, 2); source = Scratch; break;
                    case 3: a.Vpsrlw(Scratch, plane, 2); source = Scratch; break;
                }
                a.Vpternlogd(Unpacked + m, source, HighMask, 0xF8);
            }
            for (int m = 0; m < 8 && planes == 1; m++)
            {
                // Code vector m's fifth bit sits at bit m of the plane; moved to bit 4 and merged.
                int source = PlaneLow;
                if (m < 4) { a.Vpsllw(Scratch, PlaneLow, (byte)(4 - m)); source = Scratch; }
                else if (m > 4) { a.Vpsrlw(Scratch, PlaneLow, (byte)(m - 4)); source = Scratch; }
                a.Vpternlogd(Unpacked + m, source, HighMask, 0xF8);
            }
            // The block's groups: scales s = super · byte, offsets o = z·s + super′ · byte′ (or z·s; none
            // where halves with scales only take z·Σq out of their integer sums).
            int first = fold.Halves ? 2 * i : i, count = fold.Halves ? 2 : 1;
            bool halfZero = fold.Halves && !fold.Offsets;
            for (int h = 0; h < count; h++)
            {
                int s = GroupSum + 2 * h, o = s + 1;
                FactorTimesSuper(a, s, new Mem(Scales, (first + h) * parts * Rows), fold.SignedFactors, SuperScale);
                if (halfZero) continue;
                if (fold.Offsets) FactorTimesSuper(a, o, new Mem(Scales, (first + h) * parts * Rows + Rows), fold.SignedFactors, SuperOffset);
                else a.Vpxord(o, o, o);
                a.Vfmadd231ps(o, s, CodeOffset);
            }
            for (int t = 0; t < tile; t++)
            {
                int lo = Dot + 2 * t, hi = lo + 1;
                a.Vpxord(lo, lo, lo);
                a.Vpxord(hi, hi, hi);
                for (int j = 0; j < 8; j++)
                    a.Vpdpbusd(j < 4 ? lo : hi, Unpacked + j, new Mem(Q, t * stride + BlockSize * i + 4 * j), broadcast: true);
                var d = new Mem(D, 4 * (t * blocks + i));
                if (halfZero)
                {
                    // Each half's z·Σq (integers, where the group sums would be) out, then
                    // output += d · (s₀·Σ₀ + s₁·Σ₁).
                    a.Vpsubd(lo, lo, new Mem(Sums, 4 * (t * groups + first)), broadcast: true);
                    a.Vpsubd(hi, hi, new Mem(Sums, 4 * (t * groups + first + 1)), broadcast: true);
                    a.Vcvtdq2ps(lo, lo);
                    a.Vcvtdq2ps(hi, hi);
                    a.Vmulps(lo, lo, GroupSum);
                    a.Vfmadd231ps(lo, GroupSum + 2, hi);
                    a.Vfmadd231ps(Acc + t, lo, d, broadcast: true);
                    continue;
                }
                if (!fold.Halves)
                {
                    // The halves' sum in integers, then one conversion: the same float as converting each
                    // and adding (every sum here is far below 2^24, so all three are exact).
                    a.Vpaddd(lo, lo, hi);
                    a.Vcvtdq2ps(lo, lo);
                    a.Vmulps(lo, lo, d, broadcast: true);
                    a.Vfmadd231ps(Acc + t, GroupSum, lo);
                    a.Vfnmadd231ps(Acc + t, GroupSum + 1, new Mem(Sums, 4 * (t * groups + first)), broadcast: true);
                    continue;
                }
                a.Vcvtdq2ps(lo, lo);
                a.Vcvtdq2ps(hi, hi);
                a.Vmulps(lo, lo, d, broadcast: true);
                a.Vfmadd231ps(Acc + t, GroupSum, lo);
                a.Vfnmadd231ps(Acc + t, GroupSum + 1, new Mem(Sums, 4 * (t * groups + first)), broadcast: true);
                a.Vmulps(hi, hi, d, broadcast: true);
                a.Vfmadd231ps(Acc + t, GroupSum + 2, hi);
                a.Vfnmadd231ps(Acc + t, GroupSum + 3, new Mem(Sums, 4 * (t * groups + first + 1)), broadcast: true);
            }
            a.Add(Codes, blockBytes);
        }
        a.Add(Q, BlockSize * blocksPerSuper);
        a.Add(D, 4 * blocksPerSuper);
        a.Add(Sums, 4 * perSuper);
        a.Add(Scales, perSuper * parts * Rows);
        a.Dec(Loop);
        a.JnzBack(superLoop);
        RowBlockEnd(a, rowBlockLoop, tile);
        return a.ToArray();
    }

    // IntegerFactored (Q4_K): per block, Σ code·q times the block's 16 scale bytes as integers
    // (vpmulld), then as floats times the activation scale into zmm4–7; after the super-block's blocks,
    // its offsets Σ_g m·(d·Σq) into zmm17–20 and output += S·f − M·that (the .NET kernel's order).
    private static byte[] AssembleIntegerFactored(int stride, int blocks, int perSuper, int tile)
    {
        if (perSuper < 1 || blocks % perSuper != 0) throw new ArgumentException($"{blocks} blocks do not make super-blocks of {perSuper}");
        int groups = blocks;
        var a = new X64Assembler();
        Prologue(a);
        a.Vmovdqu32(Mask, new Mem(ConstantBase, MaskAt));
        int rowBlockLoop = RowBlockStart(a, blocks / perSuper, tile);
        int superLoop = a.Position;
        LoadSuper(a, 2);
        for (int t = 0; t < tile; t++) a.Vpxord(GroupSum + t, GroupSum + t, GroupSum + t);
        for (int k = 0; k < perSuper; k++)
        {
            KernelFrame.Prefetch(a, Codes, 256);
            UnpackNibbles(a);
            a.Vpmovzxbd(Scale, new Mem(Scales, k * 2 * Rows));
            for (int t = 0; t < tile; t++)
            {
                int even = BlockDots(a, t, stride, k);
                a.Vpmulld(even, even, Scale);
                a.Vcvtdq2ps(even, even);
                a.Vfmadd231ps(GroupSum + t, even, new Mem(D, 4 * (t * blocks + k)), broadcast: true);
            }
            a.Add(Codes, 256);
        }
        for (int t = 0; t < tile; t++) a.Vpxord(Dot + t, Dot + t, Dot + t);
        for (int k = 0; k < perSuper; k++)
        {
            a.Vpmovzxbd(Zero, new Mem(Scales, k * 2 * Rows + Rows));
            a.Vcvtdq2ps(Zero, Zero);
            for (int t = 0; t < tile; t++) a.Vfmadd231ps(Dot + t, Zero, new Mem(Sums, 4 * (t * groups + k)), broadcast: true);
        }
        for (int t = 0; t < tile; t++)
        {
            a.Vfmadd231ps(Acc + t, SuperScale, GroupSum + t);
            a.Vfnmadd231ps(Acc + t, SuperOffset, Dot + t);
        }
        a.Add(Q, BlockSize * perSuper);
        a.Add(D, 4 * perSuper);
        a.Add(Sums, 4 * perSuper);
        a.Add(Scales, perSuper * 2 * Rows);
        a.Dec(Loop);
        a.JnzBack(superLoop);
        RowBlockEnd(a, rowBlockLoop, tile);
        return a.ToArray();
    }

    private static void AffineFold(X64Assembler a, int groups, int tile)
    {
        for (int t = 0; t < tile; t++)
        {
            a.Vfmadd231ps(Acc + t, Scale, GroupSum + t);
            a.Vfnmadd231ps(Acc + t, Zero, new Mem(Sums, 4 * t * groups), broadcast: true);
        }
    }
}
