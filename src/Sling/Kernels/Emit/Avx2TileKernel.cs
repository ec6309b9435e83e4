using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Sling.Kernels.Emit;

/// <summary>Which blocks an <see cref="Avx2TileKernel"/> folds.</summary>
internal enum Avx2TileBlocks
{
    /// <summary>Q4_0's (the int4 layout): one-block groups sharing one zero point, an fp16 scale per block and row: output += s · (d · Σ).</summary>
    Int4Scaled,
    /// <summary>
    /// Q4_K's (the int4 layout): an unsigned scale byte and offset byte per block and row times floats
    /// per super-block of 8 blocks; the scale bytes meet the 16-bit sums in the vpmaddwd that widens them.
    /// </summary>
    Int4Factored,
    /// <summary>
    /// Q8_0's and Q5_0's (the int8 layout): unsigned codes sharing one zero point (128, 16), one-block
    /// groups, an fp16 scale per block and row: output += s · (d · Σ).
    /// </summary>
    Int8Scaled,
    /// <summary>
    /// Q6_K's (the 6-bit layout): codes + 32 in low nibbles and two high-bit planes, a signed scale
    /// byte per 16 values and row times a float per super-block of 8 blocks; both halves in one pass.
    /// </summary>
    Int6Halves,
    /// <summary>
    /// Q5_K's (the 5-bit layout): codes in low nibbles and one plane of fifth bits, an unsigned scale
    /// byte and offset byte per block and row times floats per super-block of 8 blocks (Q4_K's fold).
    /// </summary>
    Int5Factored,
    /// <summary>
    /// Q3_K's (the K-quant layout without planes): codes + 4 in low nibbles, a signed scale byte per 16
    /// values and row times a float per super-block of 8 blocks; both halves in one pass, as Q6_K's.
    /// </summary>
    Int3Halves,
    /// <summary>
    /// Q2_K's (the K-quant layout without planes): codes 0–3 in low nibbles, an unsigned scale byte and
    /// offset byte per 16 values and row times floats per super-block of 8 blocks (Q4_K's fold over 16 groups).
    /// </summary>
    Int2Factored,
    /// <summary>Q2_K's in the two-bit layout (int2k): codes 0–3 four to a byte, folded as <see cref="Int2Factored"/>'s.</summary>
    Int2Packed,
    /// <summary>
    /// The seed's int4 (the int4 layout, asymmetric): groups of several blocks, an fp16 scale s and a zero
    /// point byte z per group and row: per block f += d · Σ code·q, per group output += s · (f − z · Σ_g d·Σq).
    /// </summary>
    Int4Grouped,
    /// <summary>
    /// The seed's int8 (the int8 layout, asymmetric: codes 0–255): groups of several blocks (a whole row
    /// per channel), an fp16 scale and a zero point byte per group and row, folded as <see cref="Int4Grouped"/>'s.
    /// </summary>
    Int8Grouped,
    /// <summary>
    /// IQ4_XS's (the int4 layout of level indices): each 4-bit index looked up in a table of 16 signed
    /// levels, a signed scale byte per block and row times a float per super-block of 8 blocks.
    /// </summary>
    Int4Levels,
    /// <summary>IQ4_NL's (the int4 layout of level indices): an fp16 scale per block and row, folded as Q4_0's: output += s · (d · Σ).</summary>
    Int4LevelsScaled,
}

/// <summary>
/// AVX2 tile kernels of the interleaved layouts (16 rows × 4 activation rows, both 8-row halves of
/// each stored vector in one pass) for Q4_0's, Q4_K's, IQ4_NL's, IQ4_XS's and the seed's int4 blocks
/// (<see cref="Int4RowBlockMatrix"/>), Q2_K's, Q3_K's, Q5_K's and Q6_K's (<see cref="Int6RowBlockMatrix"/>) and Q8_0's
/// and the seed's int8 (<see cref="Int8RowBlockMatrix"/>), assembled at run time once per shape. Each
/// computes what the .NET kernel (RowBlock256Both, FactoredRowBlock256Both, the level and 6-bit
/// layouts' half passes) does, in the same order and roundings,
/// so both give the same bits (the tests compare them); the difference is where values live. The JIT,
/// with eight integer sums, four code vectors, the mask, a broadcast and a product in 15 of the 16 ymm
/// registers (int4), keeps the float sums in registers too and spills around every block; here the
/// integer work owns the registers and the float sums live in memory: the outputs themselves, and a
/// super-block's sums (Q4_K, Q6_K) and Q6_K's scale words on the stack, loaded, added to and stored
/// once per block. Each loop body is one block (a super-block's eight written out measured slower in
/// the model than in a kernel alone: ~15 KB of code per form, more than the decoded-instruction cache
/// keeps beside the rest of a forward pass).
/// </summary>
internal sealed unsafe class Avx2TileKernel
{
    /// <summary>What one call multiplies: a range of row blocks by one full tile of 4 activation rows.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 96)]
    public struct Arguments
    {
        [FieldOffset(0)] public byte* Codes;       // the first row block's codes
        [FieldOffset(8)] public void* Scales;      // its fp16 scales (16 per block, or per group: the seed's), or factor bytes (Q4_K, Q5_K: 16 scale, 16 offset per block; Q2_K the same per 16 values; Q6_K, Q3_K: 16 scale per 16 values; IQ4_XS: 16 scale per block)
        [FieldOffset(16)] public void* Q;          // activation row 0's codes (int8 layout: widened to 16 bits); row t at + t·stride codes
        [FieldOffset(24)] public float* D;         // activation row 0's block scales; row t at + t·blocks
        [FieldOffset(32)] public int* Starts;      // Int4Scaled, Int8Scaled: activation row 0's −zero·Σq per block (int4: ZeroLaneStarts); Int6Halves, Int3Halves: its half-sum pairs; row t at + t·blocks
        [FieldOffset(40)] public float* Result;    // row 0's 16 outputs of the first row block; row t at + t·ldy
        [FieldOffset(48)] public long ResultStrideBytes;
        [FieldOffset(56)] public long RowBlocks;
        [FieldOffset(64)] public float* Super;     // the factored kinds (Int4Factored, Int5Factored, Int2Factored, Int6Halves, Int3Halves, Int4Levels): its super-block floats (16 scale, then for Q4_K, Q5_K and Q2_K 16 offset, per super-block)
        [FieldOffset(72)] public float* Sums;      // Int4Factored, Int5Factored, Int2Factored, Int4Grouped, Int8Grouped: activation row 0's group sums d·Σq (a group: a block, Q2_K's 16 values, the seed's group); row t at + t·groups
        [FieldOffset(80)] public byte* Zeros;      // Int4Grouped, Int8Grouped: the first row block's zero points (16 per group)
        [FieldOffset(88)] public byte* Levels;     // Int4Levels, Int4LevelsScaled: the 16 signed levels, twice (one per 128-bit lane)
    }

    private const int MaskAt = 0, OnesAt = 32, HighBitsAt = 64, LowWordsAt = 96, Int6ZeroAt = 128, FifthBitAt = 160, Int3ZeroAt = 192, CrumbAt = 224, Int6Zero = 32, Int3Zero = 4;
    private static readonly byte* ConstantVectors = MakeConstants();

    private static byte* MakeConstants()
    {
        var block = (byte*)NativeMemory.AlignedAlloc(256, 64); // lives as long as the process, as the kernels do
        new Span<byte>(block + MaskAt, 32).Fill(0x0F);         // the low nibble of every byte
        new Span<short>(block + OnesAt, 16).Fill(1);           // vpmaddwd's ones: adjacent words added to 32 bits
        new Span<byte>(block + HighBitsAt, 32).Fill(0x30);     // 6-bit codes: their two high bits
        new Span<int>(block + LowWordsAt, 8).Fill(0xFFFF);     // each 32-bit lane's low word
        new Span<short>(block + Int6ZeroAt, 16).Fill(Int6Zero); // Q6_K's code offset as words
        new Span<short>(block + Int3ZeroAt, 16).Fill(Int3Zero); // Q3_K's
        new Span<byte>(block + FifthBitAt, 32).Fill(0x10);     // 5-bit codes: their fifth bit
        new Span<byte>(block + CrumbAt, 32).Fill(0x03);        // 2-bit codes (int2k): a byte's low two bits
        return block;
    }

    private const int BlockSize = 32, Rows = 16, BlockBytes = 256, BlocksPerSuper = 8;
    private static readonly ConcurrentDictionary<(Avx2TileBlocks, int, int, int, bool), Lazy<Avx2TileKernel>> Kernels = new();
    private readonly delegate* unmanaged<Arguments*, byte*, void> _entry;

    /// <summary>
    /// True when this CPU has AVX2, FMA and F16C, the system lets the kernels be loaded (64-bit Linux),
    /// and the environment variable SLING_NO_ASSEMBLED_KERNELS is not set (it measures the .NET path).
    /// </summary>
    public static bool Available { get; } = ExecutableCode.Allowed && Avx2.IsSupported && Fma.IsSupported
        && (X86Base.CpuId(1, 0).Ecx & (1 << 29)) != 0; // F16C: vcvtph2ps

    private Avx2TileKernel(void* entry) => _entry = (delegate* unmanaged<Arguments*, byte*, void>)entry;

    /// <summary>
    /// The kernel for <paramref name="kind"/> blocks, activation rows of <paramref name="stride"/> codes
    /// and <paramref name="blocks"/> 32-input blocks (in groups of <paramref name="blocksPerGroup"/>:
    /// <see cref="Avx2TileBlocks.Int4Grouped"/>, <see cref="Avx2TileBlocks.Int8Grouped"/>), asking for the lines 4 KiB ahead when
    /// <paramref name="prefetch"/> (streamed weights); null where it is not available (the .NET kernel runs).
    /// </summary>
    public static Avx2TileKernel? For(Avx2TileBlocks kind, int stride, int blocks, bool prefetch, int blocksPerGroup = 1)
    {
        if (!Available) return null;
        // Lazy values: two threads asking for a new shape at once assemble and map it once.
        var kernel = Kernels.GetOrAdd((kind, stride, blocks, blocksPerGroup, prefetch), key => new Lazy<Avx2TileKernel>(() =>
            new Avx2TileKernel(ExecutableCode.Load(key.Item1 switch
            {
                Avx2TileBlocks.Int4Scaled => AssembleScaled(key.Item2, key.Item3, key.Item5),
                Avx2TileBlocks.Int4Factored => AssembleFactored(key.Item2, key.Item3, key.Item5),
                Avx2TileBlocks.Int4Grouped => AssembleGrouped(key.Item2, key.Item3, key.Item4, key.Item5, int8: false),
                Avx2TileBlocks.Int8Grouped => AssembleGrouped(key.Item2, key.Item3, key.Item4, key.Item5, int8: true),
                Avx2TileBlocks.Int4Levels => AssembleLevels(key.Item2, key.Item3, key.Item5),
                Avx2TileBlocks.Int4LevelsScaled => AssembleLevelsScaled(key.Item2, key.Item3, key.Item5),
                Avx2TileBlocks.Int6Halves => AssembleHalves(key.Item2, key.Item3, key.Item5, planes: 2, Int6ZeroAt),
                Avx2TileBlocks.Int3Halves => AssembleHalves(key.Item2, key.Item3, key.Item5, planes: 0, Int3ZeroAt),
                Avx2TileBlocks.Int5Factored => AssembleInt5Factored(key.Item2, key.Item3, key.Item5),
                Avx2TileBlocks.Int2Factored => AssembleInt2Factored(key.Item2, key.Item3, key.Item5, packed: false),
                Avx2TileBlocks.Int2Packed => AssembleInt2Factored(key.Item2, key.Item3, key.Item5, packed: true),
                _ => AssembleInt8Scaled(key.Item2, key.Item3, key.Item5),
            })))).Value;
        return kernel._entry == null ? null : kernel;
    }

    public void Run(Arguments* arguments) => _entry(arguments, ConstantVectors);

    // General registers: the arguments in rdi, the constants in rsi (System V); codes, scales and
    // super-block floats advance through the whole range; the activation cursors restart at every row
    // block. Scaled: rdi becomes the distance from the block scales to the lane starts (the same
    // layout), so one cursor reads both; Factored: rdi counts a super-block's blocks, the block sums
    // have a cursor of their own.
    private const Gpr Args = Gpr.Rdi, Constants = Gpr.Rsi, Codes = Gpr.Rax, Scales = Gpr.Rbx, QBase = Gpr.Rdx, DBase = Gpr.Rcx,
        StartOffset = Gpr.Rdi, BlockLoop = Gpr.Rdi, Super = Gpr.Rsi, SumBase = Gpr.R10, Sums = Gpr.R11,
        Q = Gpr.R8, D = Gpr.R9, Result = KernelFrame.Result, Ldy = KernelFrame.Ldy, RowBlocks = KernelFrame.RowBlocks, Loop = KernelFrame.Loop;
    // Vector registers: ymm0–3 rows 0–7's and ymm4–7 rows 8–15's integer sums of activation rows 0–3,
    // ymm8 the nibble mask, ymm9–12 one stored vector's four code vectors (then the block's scales),
    // ymm13 a broadcast, ymm14 a product or a loaded sum, ymm15 vpmaddwd's ones (Scaled).
    private const int Low = 0, High = 4, Mask = 8, Code = 9, Broadcast = 13, Temp = 14, Ones = 15;
    private const int SuperBytes = 8 * 32; // Int4Factored: a super-block's float sums on the stack, activation row t, half h at 64t + 32h

    internal static byte[] AssembleScaled(int stride, int blocks, bool prefetch)
    {
        var a = Prologue(blocks);
        a.Ymm.Vmovdqu(Ones, new Mem(Constants, OnesAt));
        BlockTableOffset(a, StartOffset, 32);
        int rowBlockLoop = RowBlockStart(a, blocks);
        int blockLoop = a.Position;
        BlockSums(a, stride, blocks, prefetch, zeroStart: true);
        return ScaledBlockEnd(a, blocks, blockLoop, rowBlockLoop, wordPairs: true, BlockBytes, BlockSize);
    }

    internal static byte[] AssembleFactored(int stride, int blocks, bool prefetch)
    {
        if (blocks % BlocksPerSuper != 0) throw new ArgumentException($"{blocks} blocks do not make super-blocks of {BlocksPerSuper}");
        var a = Prologue(blocks);
        var y = a.Ymm;
        KernelFrame.AllocateStack(a, SuperBytes, Q);
        var (rowBlockLoop, superLoop, blockLoop) = FactoredLoops(a, blocks);
        BlockSums(a, stride, blocks, prefetch, zeroStart: false);
        // The scale bytes as two equal words per lane: vpmaddwd multiplies both 16-bit sums by them.
        for (int h = 0; h < 2; h++)
        {
            ScaleWordPairs(y, Code + h, Code + 2, h);
        }
        for (int t = 0; t < 4; t++)
        {
            y.Vbroadcastss(Broadcast, new Mem(D, 4 * t * blocks));
            for (int h = 0; h < 2; h++)
            {
                int sums = (h == 0 ? Low : High) + t;
                y.Vpmaddwd(sums, sums, Code + h);
                AddToSuperSum(y, t, h, sums, Temp);
            }
        }
        a.Add(Scales, 2 * Rows);
        NextBlock(a, blockLoop, BlockLoop);
        return FactoredEnd(a, blocks, superLoop, rowBlockLoop, SuperBytes);
    }

    // The seed's int4 and int8: Q4_0's or Q8_0's block sums (from zero), each block's as floats times d
    // into its group's float sums on the stack (Q4_K's way); per group, output += s · (f − z · Σ_g d·Σq),
    // s the group's fp16 scales and z its zero point bytes, as the .NET kernel folds a group (the same roundings).
    internal static byte[] AssembleGrouped(int stride, int blocks, int blocksPerGroup, bool prefetch, bool int8)
    {
        const Gpr Zeros = Gpr.Rsi, GroupSums = Gpr.R11, GroupSumBase = Gpr.R10;
        if (blocksPerGroup < 1 || blocks % blocksPerGroup != 0) throw new ArgumentException($"{blocks} blocks do not make groups of {blocksPerGroup}");
        int groups = blocks / blocksPerGroup;
        var a = Prologue(blocks);
        var y = a.Ymm;
        KernelFrame.AllocateStack(a, SuperBytes, Q);
        y.Vmovdqu(Ones, new Mem(Constants, OnesAt));
        KernelFrame.Load(a, Args, (GroupSumBase, 72), (Zeros, 80)); // the constants are read: their register takes the zero points
        var (rowBlockLoop, groupLoop, blockLoop) = StackSumLoops(a, groups, blocksPerGroup, BlockLoop, (GroupSums, GroupSumBase));
        if (int8) Int8BlockSums(a, stride, blocks, prefetch, zeroStart: false);
        else BlockSums(a, stride, blocks, prefetch, zeroStart: false);
        for (int t = 0; t < 4; t++)
        {
            y.Vbroadcastss(Broadcast, new Mem(D, 4 * t * blocks));
            for (int h = 0; h < 2; h++)
            {
                int sums = (h == 0 ? Low : High) + t;
                if (!int8) y.Vpmaddwd(sums, sums, Ones);
                AddToSuperSum(y, t, h, sums, Temp);
            }
        }
        if (int8) NextBlock(a, blockLoop, BlockLoop, 2 * BlockBytes, BlockSize * sizeof(short));
        else NextBlock(a, blockLoop, BlockLoop);
        // The group's fold per half: s in ymm9, z in ymm10, each row's f − z·Σ in ymm11.
        for (int h = 0; h < 2; h++)
        {
            y.Vcvtph2ps(Code, new Mem(Scales, 16 * h));
            y.Vpmovzxbd(Code + 1, new Mem(Zeros, 8 * h));
            y.Vcvtdq2ps(Code + 1, Code + 1);
            for (int t = 0; t < 4; t++)
            {
                y.Vbroadcastss(Broadcast, new Mem(GroupSums, 4 * t * groups));
                y.Vmulps(Temp, Code + 1, Broadcast);
                y.Vmovups(Code + 2, new Mem(Gpr.Rsp, 64 * t + 32 * h));
                y.Vsubps(Code + 2, Code + 2, Temp);
                y.Vmovups(Temp, Output(t, h));
                y.Vfmadd231ps(Temp, Code, Code + 2);
                y.Vmovups(Output(t, h), Temp);
            }
        }
        a.Add(Scales, Rows * sizeof(ushort));
        a.Add(Zeros, Rows);
        a.Add(GroupSums, sizeof(float));
        return SuperBlockEnd(a, groupLoop, rowBlockLoop, SuperBytes);
    }

    // IQ4_XS: each half's index vectors looked up in the level table (vpshufb within each 128-bit lane),
    // then llama.cpp's sign trick (LevelSums), each product widened at once by the block's signed scale
    // words (on the stack), as the .NET kernel does. A super-block's float sums on the stack, folded
    // into the outputs by its scale floats (Q6_K's end).
    internal static byte[] AssembleLevels(int stride, int blocks, bool prefetch)
    {
        const int WordsAt = SuperBytes, Frame = SuperBytes + 64;
        const Gpr Blocks = Gpr.R10, SuperFloats = Gpr.R11;
        if (blocks % BlocksPerSuper != 0) throw new ArgumentException($"{blocks} blocks do not make super-blocks of {BlocksPerSuper}");
        var a = Prologue(blocks);
        var y = a.Ymm;
        KernelFrame.AllocateStack(a, Frame, Q);
        KernelFrame.Load(a, Args, (Blocks, 88), (SuperFloats, 64));
        LevelRegisters(y, Blocks);
        var (rowBlockLoop, superLoop, blockLoop) = SuperBlockLoops(a, blocks, Blocks);
        if (prefetch) KernelFrame.Prefetch(a, Codes, BlockBytes);
        // The block's signed scale bytes as two equal words per lane (the low word of each, twice), each half.
        for (int h = 0; h < 2; h++)
        {
            ScaleWordPairs(y, Temp, Broadcast, h, signed: true);
            y.Vmovups(new Mem(Gpr.Rsp, WordsAt + 32 * h), Temp);
        }
        LevelSums(y, stride, new Mem(Gpr.Rsp, WordsAt), new Mem(Gpr.Rsp, WordsAt + 32));
        // The block's sums as floats times d into the super-block's sums.
        for (int t = 0; t < 4; t++)
        {
            y.Vbroadcastss(Broadcast, new Mem(D, 4 * t * blocks));
            for (int h = 0; h < 2; h++) AddToSuperSum(y, t, h, (h == 0 ? Low : High) + t, Temp);
        }
        a.Add(Scales, Rows);
        NextBlock(a, blockLoop, Blocks);
        return ScaleOnlySuperEnd(a, SuperFloats, superLoop, rowBlockLoop, Frame);
    }

    // IQ4_NL: IQ4_XS's level sums, each product widened by ones, and Q4_0's fold of the fp16 scale per
    // block: output += s · (Σ · d), as the .NET kernel's one-block groups (the same roundings).
    internal static byte[] AssembleLevelsScaled(int stride, int blocks, bool prefetch)
    {
        var a = Prologue(blocks);
        var y = a.Ymm;
        KernelFrame.Load(a, Args, (Gpr.R10, 88));
        LevelRegisters(y, Gpr.R10);
        int rowBlockLoop = RowBlockStart(a, blocks);
        int blockLoop = a.Position;
        if (prefetch) KernelFrame.Prefetch(a, Codes, BlockBytes);
        var ones = new Mem(Constants, OnesAt);
        LevelSums(y, stride, ones, ones);
        return ScaledBlockEnd(a, blocks, blockLoop, rowBlockLoop, wordPairs: false, BlockBytes, BlockSize);
    }

    // The level kernels' table (ymm12, from the 32 bytes at table) and nibble mask (ymm15).
    private const int LevelTable = 12, LevelMask = 15;

    private static void LevelRegisters(Vex256 y, Gpr table)
    {
        y.Vmovdqu(LevelTable, new Mem(table, 0));
        y.Vmovdqu(LevelMask, new Mem(Constants, MaskAt));
    }

    // The block at the cursors, level indices: each quad's index vectors of both halves looked up once
    // (levels in ymm 8 + h, magnitudes in ymm 10 + h), then per activation row one broadcast and, per
    // half, llama.cpp's AVX2 sign trick: vpmaddubsw of |level| by the codes given the levels' signs, one
    // product per quad where the .NET kernel takes two (the levels' positive and negative parts) and
    // subtracts; the same 16-bit pair sums (each within 2·127·127), widened at once by vpmaddwd with the
    // half's words (scale words, or ones) into the 32-bit sums, which start at zero.
    private static void LevelSums(Vex256 y, int stride, Mem lowWords, Mem highWords)
    {
        ZeroIntegerSums(y);
        for (int j = 0; j < 4; j++)
        {
            for (int quad = 0; quad < 2; quad++)
            {
                for (int h = 0; h < 2; h++)
                {
                    int levels = 8 + h, magnitudes = 10 + h;
                    var codes = new Mem(Codes, 64 * j + 32 * h);
                    if (quad == 0) y.Vpand(levels, LevelMask, codes);
                    else
                    {
                        y.Vmovdqu(levels, codes);
                        y.Vpsrlw(levels, levels, 4);
                        y.Vpand(levels, levels, LevelMask);
                    }
                    y.Vpshufb(levels, LevelTable, levels);
                    y.Vpabsb(magnitudes, levels);
                }
                for (int t = 0; t < 4; t++)
                {
                    y.Vpbroadcastd(Broadcast, new Mem(Q, t * stride + 8 * j + 4 * quad));
                    for (int h = 0; h < 2; h++)
                    {
                        int sums = (h == 0 ? Low : High) + t;
                        y.Vpsignb(Temp, Broadcast, 8 + h);
                        y.Vpmaddubsw(Temp, 10 + h, Temp);
                        y.Vpmaddwd(Temp, Temp, h == 0 ? lowWords : highWords);
                        y.Vpaddd(sums, sums, Temp);
                    }
                }
            }
        }
    }

    // Q8_0: per block 16 runs of 32 bytes, run p holding inputs 2p and 2p + 1 of rows 0–7 (its first 16
    // bytes) and 8–15; each half widened to 16 bits once, then per activation row one broadcast pair
    // of 16-bit codes and a vpmaddwd into each half's 32-bit sums, which start at −zero·Σq.
    internal static byte[] AssembleInt8Scaled(int stride, int blocks, bool prefetch)
    {
        var a = Prologue(blocks);
        BlockTableOffset(a, StartOffset, 32);
        int rowBlockLoop = RowBlockStart(a, blocks);
        int blockLoop = a.Position;
        Int8BlockSums(a, stride, blocks, prefetch, zeroStart: true);
        return ScaledBlockEnd(a, blocks, blockLoop, rowBlockLoop, wordPairs: false, 2 * BlockBytes, BlockSize * sizeof(short));
    }

    // The int8 layout's block at the cursors, as BlockSums the int4 layout's: each row's sums start at its
    // block's −zero·Σq (the table at the lane starts' cursor) or at zero; each of the 16 runs' halves
    // widened to 16 bits once, then per activation row one broadcast pair of 16-bit codes and a vpmaddwd
    // into each half's 32-bit sums.
    private static void Int8BlockSums(X64Assembler a, int stride, int blocks, bool prefetch, bool zeroStart)
    {
        var y = a.Ymm;
        if (prefetch) KernelFrame.Prefetch(a, Codes, 2 * BlockBytes);
        Starts(a, blocks, zeroStart);
        for (int p = 0; p < BlockSize / 2; p++)
        {
            y.Vpmovzxbw(Code, new Mem(Codes, 32 * p));
            y.Vpmovzxbw(Code + 1, new Mem(Codes, 32 * p + 16));
            for (int t = 0; t < 4; t++)
            {
                y.Vpbroadcastd(Broadcast, new Mem(Q, 2 * t * stride + 4 * p));
                y.Vpmaddwd(Temp, Code, Broadcast);
                y.Vpaddd(Low + t, Low + t, Temp);
                y.Vpmaddwd(Temp, Code + 1, Broadcast);
                y.Vpaddd(High + t, High + t, Temp);
            }
        }
    }

    // Q6_K: per block 384 bytes (the low nibbles as the int4 layout's, then two 64-byte planes of high
    // bits), both 8-row halves in one pass. Per block the four scale-word vectors (groups 2b and
    // 2b + 1, each half) and the two zero-point words go to the stack, which frees the registers for
    // eight sums, four code vectors, a broadcast and three products; a super-block's float sums too.
    // Q3_K the same without planes (256 bytes per block; its code offset 4 in the words at zeroWordsAt).
    internal static byte[] AssembleHalves(int stride, int blocks, bool prefetch, int planes, int zeroWordsAt)
    {
        const int WordsAt = SuperBytes, ZeroAt = SuperBytes + 128, Frame = SuperBytes + 192;
        int blockBytes = BlockBytes + 64 * planes;
        const Gpr HalfOffset = Gpr.Rdi, Blocks = Gpr.R10, SuperFloats = Gpr.R11;
        if (blocks % BlocksPerSuper != 0) throw new ArgumentException($"{blocks} blocks do not make super-blocks of {BlocksPerSuper}");
        var a = Prologue(blocks);
        var y = a.Ymm;
        KernelFrame.AllocateStack(a, Frame, Q);
        KernelFrame.Load(a, Args, (SuperFloats, 64));
        BlockTableOffset(a, HalfOffset, 32); // the half-sum pairs
        var (rowBlockLoop, superLoop, blockLoop) = SuperBlockLoops(a, blocks, Blocks);
        if (prefetch) KernelFrame.Prefetch(a, Codes, blockBytes);
        // Scale words (a signed byte's low word, twice per lane) of groups 2b (w = 0) and 2b + 1, and the
        // zero-point words (group 2b's byte in the low word, 2b + 1's in the high, times the offset).
        for (int h = 0; h < 2; h++)
        {
            for (int w = 0; w < 2; w++)
            {
                int lane = w == 0 ? 14 : 15;
                y.Vpmovsxbd(lane, new Mem(Scales, 2 * 8 * w + 8 * h));
                y.Vpand(lane, lane, new Mem(Constants, LowWordsAt));
                y.Vpslld(13, lane, 16);
                y.Vpor(13, lane, 13);
                y.Vmovups(new Mem(Gpr.Rsp, WordsAt + 32 * (2 * w + h)), 13);
            }
            y.Vpslld(13, 15, 16);
            y.Vpor(13, 14, 13);
            y.Vpmullw(13, 13, new Mem(Constants, zeroWordsAt));
            y.Vmovups(new Mem(Gpr.Rsp, ZeroAt + 32 * h), 13);
        }
        ZeroIntegerSums(y);
        for (int j = 0; j < 4; j++)
        {
            // Both halves' two code vectors: nibbles, their high bits merged from the planes (vector j's
            // low nibbles take bits 2(2j mod 4) of plane j / 2, its high ones bits 2((2j + 1) mod 4)).
            for (int h = 0; h < 2; h++)
            {
                NibbleCodes(y, j, h, new Mem(Constants, MaskAt));
                if (planes == 0) continue;
                y.Vmovdqu(12, new Mem(Codes, 256 + 64 * (j / 2) + 32 * h));
                PlaneBits(y, 8 + 2 * h, 4 - 2 * (2 * j % 4), new Mem(Constants, HighBitsAt));
                PlaneBits(y, 9 + 2 * h, 4 - 2 * ((2 * j + 1) % 4), new Mem(Constants, HighBitsAt));
            }
            ScaledProducts(y, stride, j, WordsAt + 32 * 2 * (j / 2)); // groups 2b (j < 2) or 2b + 1
        }
        // sums − zero·(Σq of each half block) by the zero-point words, as floats times d into the super-block's sums.
        for (int t = 0; t < 4; t++)
        {
            y.Vpbroadcastd(12, new Mem(D, 4 * t * blocks, HalfOffset));
            y.Vbroadcastss(Broadcast, new Mem(D, 4 * t * blocks));
            for (int h = 0; h < 2; h++)
            {
                int sums = (h == 0 ? Low : High) + t;
                y.Vpmaddwd(14, 12, new Mem(Gpr.Rsp, ZeroAt + 32 * h));
                y.Vpsubd(sums, sums, 14);
                AddToSuperSum(y, t, h, sums, 14);
            }
        }
        a.Add(Scales, 2 * Rows);
        NextBlock(a, blockLoop, Blocks, codeBytes: blockBytes);
        return ScaleOnlySuperEnd(a, SuperFloats, superLoop, rowBlockLoop, Frame);
    }

    // After a super-block's blocks, where the layout has no offsets (Q6_K, Q3_K, IQ4_XS): output += S · f
    // per half, S the super-block's scale floats at superFloats; the cursor on, the loops closed, return.
    private static byte[] ScaleOnlySuperEnd(X64Assembler a, Gpr superFloats, int superLoop, int rowBlockLoop, int stackBytes)
    {
        for (int h = 0; h < 2; h++)
        {
            a.Ymm.Vmovups(8, new Mem(superFloats, 32 * h));
            AddSuperSums(a.Ymm, h, 8, offsets: null);
        }
        a.Add(superFloats, Rows * sizeof(float));
        return SuperBlockEnd(a, superLoop, rowBlockLoop, stackBytes);
    }

    // Q5_K: per block 320 bytes (the low nibbles as the int4 layout's, then one 64-byte plane of fifth
    // bits: code vector m's at bit m), both 8-row halves in one pass, as Q6_K's kernel (its codes reach
    // 31, so each stored vector's 16-bit sums meet the block's scale words at once, as the .NET kernel
    // does), with Q4_K's fold: the block's scale words and the two masks on the stack, the constants'
    // register free for the super-block floats.
    internal static byte[] AssembleInt5Factored(int stride, int blocks, bool prefetch)
    {
        const int Int5BlockBytes = 320, WordsAt = SuperBytes, MaskSlot = SuperBytes + 64, BitSlot = SuperBytes + 96, Frame = SuperBytes + 128;
        if (blocks % BlocksPerSuper != 0) throw new ArgumentException($"{blocks} blocks do not make super-blocks of {BlocksPerSuper}");
        var a = Prologue(blocks);
        var y = a.Ymm;
        KernelFrame.AllocateStack(a, Frame, Q);
        y.Vmovups(new Mem(Gpr.Rsp, MaskSlot), Mask);
        y.Vmovdqu(Code, new Mem(Constants, FifthBitAt));
        y.Vmovups(new Mem(Gpr.Rsp, BitSlot), Code);
        var (rowBlockLoop, superLoop, blockLoop) = FactoredLoops(a, blocks);
        if (prefetch) KernelFrame.Prefetch(a, Codes, Int5BlockBytes);
        // The block's scale bytes as two equal words per lane (each half), for every stored vector's vpmaddwd.
        for (int h = 0; h < 2; h++)
        {
            ScaleWordPairs(y, 14, 13, h);
            y.Vmovups(new Mem(Gpr.Rsp, WordsAt + 32 * h), 14);
        }
        ZeroIntegerSums(y);
        for (int j = 0; j < 4; j++)
        {
            // Both halves' two code vectors, the fifth bits (code vector m's at bit m of the plane) merged.
            for (int h = 0; h < 2; h++)
            {
                NibbleCodes(y, j, h, new Mem(Gpr.Rsp, MaskSlot));
                y.Vmovdqu(12, new Mem(Codes, 256 + 32 * h));
                PlaneBits(y, 8 + 2 * h, 4 - 2 * j, new Mem(Gpr.Rsp, BitSlot));
                PlaneBits(y, 9 + 2 * h, 3 - 2 * j, new Mem(Gpr.Rsp, BitSlot));
            }
            ScaledProducts(y, stride, j, WordsAt);
        }
        // The block's sums as floats times d into the super-block's sums.
        for (int t = 0; t < 4; t++)
        {
            y.Vbroadcastss(Broadcast, new Mem(D, 4 * t * blocks));
            for (int h = 0; h < 2; h++) AddToSuperSum(y, t, h, (h == 0 ? Low : High) + t, 14);
        }
        a.Add(Scales, 2 * Rows);
        NextBlock(a, blockLoop, BlockLoop, codeBytes: Int5BlockBytes);
        return FactoredEnd(a, blocks, superLoop, rowBlockLoop, Frame);
    }

    // Q2_K: per block 256 bytes (codes 0–3 in the int4 layout's low nibbles) or, packed, 128 (int2k:
    // four codes to a byte), both 8-row halves in one pass, as Q3_K's kernel without the zero point:
    // each stored vector's 16-bit sums meet the scale words of its 16-value group (groups 2b and
    // 2b + 1, both halves: on the stack with the mask), and Q4_K's fold over the super-block's 16
    // groups with their offset bytes and each row's group sums.
    internal static byte[] AssembleInt2Factored(int stride, int blocks, bool prefetch, bool packed)
    {
        const int WordsAt = SuperBytes, MaskSlot = SuperBytes + 128, Frame = SuperBytes + 160, GroupsPerSuper = 2 * BlocksPerSuper;
        int blockBytes = packed ? BlockBytes / 2 : BlockBytes;
        if (blocks % BlocksPerSuper != 0) throw new ArgumentException($"{blocks} blocks do not make super-blocks of {BlocksPerSuper}");
        var a = Prologue(blocks);
        var y = a.Ymm;
        KernelFrame.AllocateStack(a, Frame, Q);
        if (packed) y.Vmovdqu(Mask, new Mem(Constants, CrumbAt));
        y.Vmovups(new Mem(Gpr.Rsp, MaskSlot), Mask);
        var (rowBlockLoop, superLoop, blockLoop) = FactoredLoops(a, blocks);
        if (prefetch) KernelFrame.Prefetch(a, Codes, blockBytes);
        // Group 2b + w's scale bytes (32 factor bytes on) as two equal words per lane, each half.
        for (int w = 0; w < 2; w++)
            for (int h = 0; h < 2; h++)
            {
                ScaleWordPairs(y, 14, 13, h, at: 2 * Rows * w);
                y.Vmovups(new Mem(Gpr.Rsp, WordsAt + 32 * (2 * w + h)), 14);
            }
        ZeroIntegerSums(y);
        for (int j = 0; j < 4; j++)
        {
            for (int h = 0; h < 2; h++)
                if (packed) CrumbCodes(y, j, h, new Mem(Gpr.Rsp, MaskSlot));
                else NibbleCodes(y, j, h, new Mem(Gpr.Rsp, MaskSlot));
            ScaledProducts(y, stride, j, WordsAt + 32 * 2 * (j / 2)); // groups 2b (j < 2) or 2b + 1
        }
        for (int t = 0; t < 4; t++)
        {
            y.Vbroadcastss(Broadcast, new Mem(D, 4 * t * blocks));
            for (int h = 0; h < 2; h++) AddToSuperSum(y, t, h, (h == 0 ? Low : High) + t, 14);
        }
        a.Add(Scales, 2 * 2 * Rows);
        NextBlock(a, blockLoop, BlockLoop, codeBytes: blockBytes);
        return FactoredEnd(a, blocks, superLoop, rowBlockLoop, Frame, GroupsPerSuper);
    }

    // The loops of the kernels whose float sums wait on the stack: a row block's start (`units` turns of
    // the unit loop; a cursor that restarts with every row block set from its base), a unit's (a
    // super-block, or a group: its float sums zeroed, the block counter set to perUnit), the block
    // loop's top. Returns the three loops' tops.
    private static (int RowBlockLoop, int UnitLoop, int BlockLoop) StackSumLoops(X64Assembler a, int units, int perUnit, Gpr counter, (Gpr Cursor, Gpr Base)? restart = null)
    {
        int rowBlockLoop = RowBlockStart(a, units);
        if (restart is var (cursor, from)) a.Mov(cursor, from);
        int unitLoop = a.Position;
        ZeroSuperSums(a);
        a.Mov(counter, (uint)perUnit);
        return (rowBlockLoop, unitLoop, a.Position);
    }

    // Q6_K's, Q3_K's and IQ4_XS's loops: super-blocks of 8 blocks.
    private static (int RowBlockLoop, int SuperLoop, int BlockLoop) SuperBlockLoops(X64Assembler a, int blocks, Gpr counter)
        => StackSumLoops(a, blocks / BlocksPerSuper, BlocksPerSuper, counter);

    // Q4_K's, Q5_K's and Q2_K's loops: the super-block floats' and group sums' cursors loaded over the
    // constants' register (the constants read by then), then super-blocks of 8 blocks, the group sums'
    // cursor back at its base with every row block.
    private static (int RowBlockLoop, int SuperLoop, int BlockLoop) FactoredLoops(X64Assembler a, int blocks)
    {
        KernelFrame.Load(a, Args, (Super, 64), (SumBase, 72));
        return StackSumLoops(a, blocks / BlocksPerSuper, BlocksPerSuper, BlockLoop, (Sums, SumBase));
    }

    // After a super-block's blocks: its fold, the cursors on to the next one, the loops closed, return.
    private static byte[] FactoredEnd(X64Assembler a, int blocks, int superLoop, int rowBlockLoop, int stackBytes, int groupsPerSuper = BlocksPerSuper)
    {
        FoldSuper(a, blocks, groupsPerSuper);
        a.Add(Super, 2 * Rows * sizeof(float));
        a.Add(Sums, sizeof(float) * groupsPerSuper);
        return SuperBlockEnd(a, superLoop, rowBlockLoop, stackBytes);
    }

    // Half h's scale bytes of the block at the cursor (`at` bytes on) as two equal words per 32-bit lane
    // in register words: vpmaddwd multiplies both 16-bit sums of a lane by them. Unsigned bytes (Q4_K,
    // Q5_K, Q2_K) widen with zeros; signed ones (IQ4_XS) keep only their low word, which a negative
    // byte's sign would otherwise spill out of into the second.
    private static void ScaleWordPairs(Vex256 y, int words, int scratch, int h, int at = 0, bool signed = false)
    {
        if (signed)
        {
            y.Vpmovsxbd(words, new Mem(Scales, at + 8 * h));
            y.Vpand(words, words, new Mem(Constants, LowWordsAt));
        }
        else y.Vpmovzxbd(words, new Mem(Scales, at + 8 * h));
        y.Vpslld(scratch, words, 16);
        y.Vpor(words, words, scratch);
    }

    // The 32-bit sums of every activation row and half set to zero.
    private static void ZeroIntegerSums(Vex256 y)
    {
        for (int t = 0; t < 4; t++)
        {
            y.Vpxor(Low + t, Low + t, Low + t);
            y.Vpxor(High + t, High + t, High + t);
        }
    }

    // Stored vector j's half h (rows 8h..8h + 7) as its low-nibble and high-nibble code vectors, in ymm 8 + 2h and 9 + 2h.
    private static void NibbleCodes(Vex256 y, int j, int h, Mem mask)
    {
        int low = 8 + 2 * h, high = low + 1;
        y.Vmovdqu(low, new Mem(Codes, 64 * j + 32 * h));
        y.Vpsrlw(high, low, 4);
        y.Vpand(low, low, mask);
        y.Vpand(high, high, mask);
    }

    // The int2k layout's code vectors 2j and 2j + 1 (quads 2j, 2j + 1) of half h, in ymm 8 + 2h and
    // 9 + 2h: stored vector j / 2 holds code vector m at bits 2m (16-bit shifts; the mask drops what
    // crosses a byte border).
    private static void CrumbCodes(Vex256 y, int j, int h, Mem mask)
    {
        int low = 8 + 2 * h, high = low + 1;
        y.Vmovdqu(low, new Mem(Codes, 64 * (j / 2) + 32 * h));
        if (j % 2 == 1) y.Vpsrlw(low, low, 4);
        y.Vpsrlw(high, low, 2);
        y.Vpand(low, low, mask);
        y.Vpand(high, high, mask);
    }

    // Stored vector j's code vectors (ymm8–11) times each activation row's two quads: each half's 16-bit
    // sums by the scale words on the stack at words (rows 0–7) and words + 32 (8–15), into its 32-bit sums.
    private static void ScaledProducts(Vex256 y, int stride, int j, int words)
    {
        for (int t = 0; t < 4; t++)
        {
            int q = t * stride + 8 * j;
            y.Vpbroadcastd(12, new Mem(Q, q));
            y.Vpmaddubsw(13, 8, 12);
            y.Vpmaddubsw(14, 10, 12);
            y.Vpbroadcastd(12, new Mem(Q, q + 4));
            y.Vpmaddubsw(15, 9, 12);
            y.Vpaddw(13, 13, 15);
            y.Vpmaddubsw(15, 11, 12);
            y.Vpaddw(14, 14, 15);
            y.Vpmaddwd(13, 13, new Mem(Gpr.Rsp, words));
            y.Vpmaddwd(14, 14, new Mem(Gpr.Rsp, words + 32));
            y.Vpaddd(Low + t, Low + t, 13);
            y.Vpaddd(High + t, High + t, 14);
        }
    }

    // codes |= the plane's bits (in ymm12) shifted left by shift (right when negative) within 16-bit
    // lanes and masked: Q6_K's bits 2k, 2k + 1 to 4 and 5 (shift 4 − 2k), Q5_K's bit m to 4 (shift 4 − m).
    private static void PlaneBits(Vex256 y, int codes, int shift, Mem mask)
    {
        if (shift > 0) y.Vpsllw(13, 12, (byte)shift);
        else if (shift < 0) y.Vpsrlw(13, 12, (byte)-shift);
        y.Vpand(13, shift == 0 ? 12 : 13, mask);
        y.Vpor(codes, codes, 13);
    }

    // register ← the distance from the block scales to the per-block table whose address is at
    // argument offset argument (the same layout), so the block scales' cursor reads both.
    private static void BlockTableOffset(X64Assembler a, Gpr register, int argument)
    {
        a.MovLoad(register, new Mem(Args, argument));
        a.Sub(register, DBase);
    }

    // A super-block's float sums on the stack (activation row t, half h at 64t + 32h) set to zero: ymm14
    // is zero at the top of every super-block.
    private static void ZeroSuperSums(X64Assembler a)
    {
        for (int k = 0; k < 8; k++) a.Ymm.Vmovups(new Mem(Gpr.Rsp, 32 * k), Temp);
    }

    // Row t's half h of a block's 32-bit sums, as floats times the broadcast d, into the super-block's sums.
    private static void AddToSuperSum(Vex256 y, int t, int h, int sums, int scratch)
    {
        var f = new Mem(Gpr.Rsp, 64 * t + 32 * h);
        y.Vcvtdq2ps(sums, sums);
        y.Vmovups(scratch, f);
        y.Vfmadd231ps(scratch, sums, Broadcast);
        y.Vmovups(f, scratch);
    }

    // Half h of the outputs += S · f (S in register scale), less M · m where there are offsets (M in
    // register offsets, row t's m in ymm t).
    private static void AddSuperSums(Vex256 y, int h, int scale, int? offsets)
    {
        for (int t = 0; t < 4; t++)
        {
            y.Vmovups(Temp, Output(t, h));
            y.Vfmadd231ps(Temp, scale, new Mem(Gpr.Rsp, 64 * t + 32 * h));
            if (offsets is { } m) y.Vfnmadd231ps(Temp, m, Low + t);
            y.Vmovups(Output(t, h), Temp);
        }
    }

    // Registers saved, the nibble mask, and the arguments every kernel reads.
    private static X64Assembler Prologue(int blocks)
    {
        if (blocks < 1) throw new ArgumentException($"{blocks} blocks");
        var a = new X64Assembler();
        KernelFrame.Enter(a);
        a.Ymm.Vmovdqu(Mask, new Mem(Constants, MaskAt));
        KernelFrame.Load(a, Args, (Codes, 0), (Scales, 8), (QBase, 16), (DBase, 24), (Result, 40), (Ldy, 48), (RowBlocks, 56));
        KernelFrame.TripleStride(a);
        return a;
    }

    // A row block: cursors back to the start, its outputs zero (ymm14 stays zero), the loop counter set.
    private static int RowBlockStart(X64Assembler a, int iterations)
    {
        int top = a.Position;
        a.Mov(Q, QBase);
        a.Mov(D, DBase);
        a.Ymm.Vpxor(Temp, Temp, Temp);
        for (int t = 0; t < 4; t++)
            for (int h = 0; h < 2; h++) a.Ymm.Vmovups(Output(t, h), Temp);
        a.Mov(Loop, (uint)iterations);
        return top;
    }

    // The cursors past a block (of int4 codes unless said); back to its loop's top while its counter lasts.
    private static void NextBlock(X64Assembler a, int top, Gpr counter, int codeBytes = BlockBytes, int activationBytes = BlockSize)
    {
        a.Add(Codes, codeBytes);
        a.Add(Q, activationBytes);
        a.Add(D, sizeof(float));
        a.Dec(counter);
        a.JnzBack(top);
    }

    // On to the next super-block (ymm14 zero again for the next one's sums), then the next row block;
    // the stack freed, return.
    private static byte[] SuperBlockEnd(X64Assembler a, int superLoop, int rowBlockLoop, int stackBytes)
    {
        a.Ymm.Vpxor(Temp, Temp, Temp);
        a.Dec(Loop);
        a.JnzBack(superLoop);
        RowBlockEnd(a, rowBlockLoop);
        KernelFrame.FreeStack(a, stackBytes);
        KernelFrame.Leave(a);
        return a.ToArray();
    }

    // On to the next row block (the kernels without super-blocks return from here).
    private static void RowBlockEnd(X64Assembler a, int rowBlockLoop)
    {
        a.Add(Result, Rows * sizeof(float));
        a.Dec(RowBlocks);
        a.JnzBack(rowBlockLoop);
    }

    // Activation row t's 8 outputs of half h (rows 8h..8h+7) of the current row block.
    private static Mem Output(int t, int h) => KernelFrame.Output(t, 32 * h);

    // The block at the cursors: each row's sums start at its lane start (−zero·Σq split as vpmaddubsw
    // splits it) or zero, then take Σ code·q of the four stored vectors (vector j: inputs 8j..8j+3 in the low nibbles, 8j+4..8j+7
    // in the high; bytes 0–31 rows 0–7, 32–63 rows 8–15), each quad broadcast once for both halves.
    private static void BlockSums(X64Assembler a, int stride, int blocks, bool prefetch, bool zeroStart)
    {
        var y = a.Ymm;
        if (prefetch) KernelFrame.Prefetch(a, Codes, BlockBytes);
        Starts(a, blocks, zeroStart);
        int lowL = Code, lowH = Code + 1, highL = Code + 2, highH = Code + 3;
        for (int j = 0; j < 4; j++)
        {
            var low = new Mem(Codes, 64 * j);
            var high = new Mem(Codes, 64 * j + 32);
            y.Vpand(lowL, Mask, low);
            y.Vmovdqu(lowH, low);
            y.Vpsrlw(lowH, lowH, 4);
            y.Vpand(lowH, lowH, Mask);
            y.Vpand(highL, Mask, high);
            y.Vmovdqu(highH, high);
            y.Vpsrlw(highH, highH, 4);
            y.Vpand(highH, highH, Mask);
            for (int t = 0; t < 4; t++)
            {
                int q = t * stride + 8 * j;
                y.Vpbroadcastd(Broadcast, new Mem(Q, q));
                Product(y, Low + t, lowL);
                Product(y, High + t, highL);
                y.Vpbroadcastd(Broadcast, new Mem(Q, q + 4));
                Product(y, Low + t, lowH);
                Product(y, High + t, highH);
            }
        }
    }

    // Each activation row's sums of both halves start at its block's −zero·Σq (from the table at the
    // lane starts' cursor), or at zero.
    private static void Starts(X64Assembler a, int blocks, bool zeroStart)
    {
        var y = a.Ymm;
        for (int t = 0; t < 4; t++)
        {
            if (zeroStart) y.Vpbroadcastd(Low + t, new Mem(D, 4 * t * blocks, StartOffset));
            else y.Vpxor(Low + t, Low + t, Low + t);
            y.Vmovdqa(High + t, Low + t);
        }
    }

    // sums += the codes times the broadcast quad, as 16-bit pair sums (wrapping adds: any order, the same bits).
    private static void Product(Vex256 y, int sums, int codes)
    {
        y.Vpmaddubsw(Temp, codes, Broadcast);
        y.Vpaddw(sums, sums, Temp);
    }

    // Q4_0's and Q8_0's blocks: output += s · (Σ · d), s the block's 16 fp16 scales, d the activation
    // row's block scale, the int4 kernel's 16-bit pair sums first added to 32 bits (vpmaddwd by ones);
    // then the cursors on to the next block, the loops closed, return.
    private static byte[] ScaledBlockEnd(X64Assembler a, int blocks, int blockLoop, int rowBlockLoop, bool wordPairs, int codeBytes, int activationBytes)
    {
        var y = a.Ymm;
        y.Vcvtph2ps(Code, new Mem(Scales));
        y.Vcvtph2ps(Code + 1, new Mem(Scales, 16));
        for (int t = 0; t < 4; t++)
        {
            y.Vbroadcastss(Broadcast, new Mem(D, 4 * t * blocks));
            for (int h = 0; h < 2; h++)
            {
                int sums = (h == 0 ? Low : High) + t;
                if (wordPairs) y.Vpmaddwd(sums, sums, Ones);
                y.Vcvtdq2ps(sums, sums);
                y.Vmulps(sums, sums, Broadcast);
                y.Vmovups(Temp, Output(t, h));
                y.Vfmadd231ps(Temp, Code + h, sums);
                y.Vmovups(Output(t, h), Temp);
            }
        }
        a.Add(Scales, Rows * sizeof(ushort));
        NextBlock(a, blockLoop, Loop, codeBytes, activationBytes);
        RowBlockEnd(a, rowBlockLoop);
        KernelFrame.Leave(a);
        return a.ToArray();
    }

    // A super-block's sums into the outputs, per half: the offsets' Σ_g m·(d·Σq)_g (offset bytes as
    // floats times each row's group sums, from zero), then output = (output + S · f) − M · that, S and
    // M the super-block's scale and offset floats. The cursors have passed the super-block's blocks;
    // its groups are its 8 blocks (Q4_K, Q5_K) or their 16 halves (Q2_K), each with a scale and an offset byte per row.
    private static void FoldSuper(X64Assembler a, int blocks, int groupsPerSuper)
    {
        var y = a.Ymm;
        int back = -groupsPerSuper * 2 * Rows, groups = blocks / BlocksPerSuper * groupsPerSuper; // the super-block's first factor bytes; group sums per activation row
        for (int h = 0; h < 2; h++)
        {
            for (int t = 0; t < 4; t++) y.Vpxor(Low + t, Low + t, Low + t); // the integer sums are done: their registers are free
            for (int g = 0; g < groupsPerSuper; g++)
            {
                y.Vpmovzxbd(Code, new Mem(Scales, back + 2 * Rows * g + Rows + 8 * h));
                y.Vcvtdq2ps(Code, Code);
                for (int t = 0; t < 4; t++)
                {
                    y.Vbroadcastss(Broadcast, new Mem(Sums, 4 * (t * groups + g)));
                    y.Vfmadd231ps(Low + t, Code, Broadcast);
                }
            }
            y.Vmovups(Code + 1, new Mem(Super, 32 * h));
            y.Vmovups(Code + 2, new Mem(Super, 4 * Rows + 32 * h));
            AddSuperSums(y, h, Code + 1, offsets: Code + 2);
        }
    }
}
