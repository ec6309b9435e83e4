using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Sling.Kernels.Emit;

/// <summary>
/// The int4 layout's AVX2 tile kernel for one-block groups sharing one zero point, Q4_0's blocks
/// (<see cref="Int4RowBlockMatrix"/>: 16 rows × 4 activation rows, both 8-row halves of each stored
/// vector in one pass), assembled at run time once per shape. It computes what the .NET kernel
/// (RowBlock256Both) does, in the same order and roundings, so both give the same bits (the tests
/// compare them); the difference is where values live. The JIT, with eight integer sums, four code
/// vectors, the mask, a broadcast and a product in 15 of the 16 ymm registers, keeps the eight float
/// sums in registers too and spills around every block; here the integer work owns the registers and
/// the float sums are the outputs in memory, loaded, added to and stored once per block. Measured in
/// the model (TinyLlama Q4_0, 512-token prompts, alternating in one process): 1.04–1.09× the .NET
/// kernel. Wider groups (the seed's int4) measured no faster this way and keep the .NET kernel.
/// </summary>
internal sealed unsafe class Avx2Int4Kernel
{
    /// <summary>What one call multiplies: a range of row blocks by one full tile of 4 activation rows.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 64)]
    public struct Arguments
    {
        [FieldOffset(0)] public byte* Codes;       // the first row block's codes
        [FieldOffset(8)] public Half* Scales;      // its fp16 scales: 16 per block
        [FieldOffset(16)] public sbyte* Q;         // activation row 0's codes; row t at + t·stride
        [FieldOffset(24)] public float* D;         // activation row 0's block scales; row t at + t·blocks
        [FieldOffset(32)] public int* Starts;      // activation row 0's lane starts per block (ZeroLaneStarts); row t at + t·blocks
        [FieldOffset(40)] public float* Result;    // row 0's 16 outputs of the first row block; row t at + t·ldy
        [FieldOffset(48)] public long ResultStrideBytes;
        [FieldOffset(56)] public long RowBlocks;
    }

    private const int MaskAt = 0, OnesAt = 32;
    private static readonly byte* ConstantVectors = MakeConstants();

    private static byte* MakeConstants()
    {
        var block = (byte*)NativeMemory.AlignedAlloc(64, 64); // lives as long as the process, as the kernels do
        new Span<byte>(block + MaskAt, 32).Fill(0x0F);         // the low nibble of every byte
        new Span<short>(block + OnesAt, 16).Fill(1);           // vpmaddwd's ones: adjacent words added to 32 bits
        return block;
    }

    private const int BlockSize = 32, Rows = 16, BlockBytes = 256, PrefetchDistance = 4096;
    private static readonly ConcurrentDictionary<(int, int, bool), Lazy<Avx2Int4Kernel>> Kernels = new();
    private readonly delegate* unmanaged<Arguments*, byte*, void> _entry;

    /// <summary>
    /// True when this CPU has AVX2, FMA and F16C, the system lets the kernels be loaded (64-bit Linux),
    /// and the environment variable SLING_NO_ASSEMBLED_KERNELS is not set (it measures the .NET path).
    /// </summary>
    public static bool Available { get; } = ExecutableCode.Allowed && Avx2.IsSupported && Fma.IsSupported
        && (X86Base.CpuId(1, 0).Ecx & (1 << 29)) != 0; // F16C: vcvtph2ps

    private Avx2Int4Kernel(void* entry) => _entry = (delegate* unmanaged<Arguments*, byte*, void>)entry;

    /// <summary>
    /// The kernel for activation rows of <paramref name="stride"/> codes and <paramref name="blocks"/>
    /// 32-input blocks, asking for the lines 4 KiB ahead when <paramref name="prefetch"/> (streamed
    /// weights); null where it is not available (the .NET kernel runs).
    /// </summary>
    public static Avx2Int4Kernel? For(int stride, int blocks, bool prefetch)
    {
        if (!Available) return null;
        // Lazy values: two threads asking for a new shape at once assemble and map it once.
        var kernel = Kernels.GetOrAdd((stride, blocks, prefetch), key => new Lazy<Avx2Int4Kernel>(() =>
            new Avx2Int4Kernel(ExecutableCode.Load(Assemble(key.Item1, key.Item2, key.Item3))))).Value;
        return kernel._entry == null ? null : kernel;
    }

    public void Run(Arguments* arguments) => _entry(arguments, ConstantVectors);

    // General registers: the arguments in rdi, the constants in rsi (System V); codes and scales advance
    // through the whole range; the activation cursors restart at every row block; rdi becomes the
    // distance from the block scales to the lane starts (the same layout), so one cursor reads both.
    private const Gpr Args = Gpr.Rdi, Constants = Gpr.Rsi, Codes = Gpr.Rax, Scales = Gpr.Rbx, QBase = Gpr.Rdx, DBase = Gpr.Rcx,
        StartOffset = Gpr.Rdi, Q = Gpr.R8, D = Gpr.R9, Result = KernelFrame.Result, Ldy = KernelFrame.Ldy, RowBlocks = KernelFrame.RowBlocks, Loop = KernelFrame.Loop;
    // Vector registers: ymm0–3 rows 0–7's and ymm4–7 rows 8–15's integer sums of activation rows 0–3,
    // ymm8 the nibble mask, ymm9–12 one stored vector's four code vectors (then the block's scales),
    // ymm13 a broadcast, ymm14 a product or a loaded sum, ymm15 vpmaddwd's ones.
    private const int Low = 0, High = 4, Mask = 8, Code = 9, Broadcast = 13, Temp = 14, Ones = 15;

    internal static byte[] Assemble(int stride, int blocks, bool prefetch)
    {
        if (blocks < 1) throw new ArgumentException($"{blocks} blocks");
        var a = new X64Assembler();
        var y = a.Ymm;
        KernelFrame.Enter(a);
        y.Vmovdqu(Mask, new Mem(Constants, MaskAt));
        y.Vmovdqu(Ones, new Mem(Constants, OnesAt));
        KernelFrame.Load(a, Args, (Codes, 0), (Scales, 8), (QBase, 16), (DBase, 24), (Result, 40), (Ldy, 48), (RowBlocks, 56), (StartOffset, 32));
        a.Sub(StartOffset, DBase);
        KernelFrame.TripleStride(a);

        // A row block: cursors back to the start, its outputs zero.
        int rowBlockLoop = a.Position;
        a.Mov(Q, QBase);
        a.Mov(D, DBase);
        y.Vpxor(Temp, Temp, Temp);
        for (int t = 0; t < 4; t++)
            for (int h = 0; h < 2; h++) y.Vmovups(Output(t, h), Temp);
        a.Mov(Loop, (uint)blocks);

        int blockLoop = a.Position;
        if (prefetch)
            for (int line = 0; line < BlockBytes; line += 64) a.Prefetcht0(new Mem(Codes, PrefetchDistance + line));
        BlockSums(a, stride, blocks);
        // vpmaddwd by ones adds each lane's two words to 32 bits; then floats, into the outputs.
        for (int t = 0; t < 4; t++)
        {
            y.Vpmaddwd(Low + t, Low + t, Ones);
            y.Vpmaddwd(High + t, High + t, Ones);
            y.Vcvtdq2ps(Low + t, Low + t);
            y.Vcvtdq2ps(High + t, High + t);
        }
        FoldBlock(a, blocks);
        a.Add(Codes, BlockBytes);
        a.Add(Scales, Rows * sizeof(ushort));
        a.Add(Q, BlockSize);
        a.Add(D, sizeof(float));
        a.Dec(Loop);
        a.JnzBack(blockLoop);

        a.Add(Result, Rows * sizeof(float));
        a.Dec(RowBlocks);
        a.JnzBack(rowBlockLoop);
        KernelFrame.Leave(a);
        return a.ToArray();
    }

    // Activation row t's 8 outputs of half h (rows 8h..8h+7) of the current row block.
    private static Mem Output(int t, int h) => KernelFrame.Output(t, 32 * h);

    // A block: each row's sums start at its lane start (−zero·Σq split as vpmaddubsw splits it), then
    // take Σ code·q of the four stored vectors (vector j: inputs 8j..8j+3 in the low nibbles, 8j+4..8j+7
    // in the high; bytes 0–31 rows 0–7, 32–63 rows 8–15), each quad broadcast once for both halves.
    private static void BlockSums(X64Assembler a, int stride, int blocks)
    {
        var y = a.Ymm;
        for (int t = 0; t < 4; t++)
        {
            y.Vpbroadcastd(Low + t, new Mem(D, 4 * t * blocks, StartOffset));
            y.Vmovdqa(High + t, Low + t);
        }
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

    // sums += the codes times the broadcast quad, as 16-bit pair sums (wrapping adds: any order, the same bits).
    private static void Product(Vex256 y, int sums, int codes)
    {
        y.Vpmaddubsw(Temp, codes, Broadcast);
        y.Vpaddw(sums, sums, Temp);
    }

    // output += s · (Σ · d), s the block's 16 fp16 scales, d the activation row's block scale.
    private static void FoldBlock(X64Assembler a, int blocks)
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
                y.Vmulps(sums, sums, Broadcast);
                y.Vmovups(Temp, Output(t, h));
                y.Vfmadd231ps(Temp, Code + h, sums);
                y.Vmovups(Output(t, h), Temp);
            }
        }
    }
}
