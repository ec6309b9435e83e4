namespace Sling.Kernels.Emit;

/// <summary>
/// What the assembled tile kernels (<see cref="VnniKernel"/>, <see cref="Avx2TileKernel"/>) share
/// around their loops: the System V callee-saved registers they use, saved on entry and restored on
/// return; their arguments read from one struct; a tile's four output rows, at result + t·ldy
/// (ldy, 2·ldy and 3·ldy from two registers and a scale); and the prefetch of streamed weights.
/// </summary>
internal static class KernelFrame
{
    /// <summary>The output cursor, the output row stride in bytes, three times it, the row blocks left, and the loop counter.</summary>
    public const Gpr Result = Gpr.R12, Ldy = Gpr.R13, Ldy3 = Gpr.Rbp, RowBlocks = Gpr.R14, Loop = Gpr.R15;

    // rbx, rbp and r12–r15: the callee-saved registers of the System V ABI, all used by the kernels.
    private static readonly Gpr[] Saved = [Gpr.Rbx, Gpr.Rbp, Gpr.R12, Gpr.R13, Gpr.R14, Gpr.R15];

    public static void Enter(X64Assembler a)
    {
        foreach (var r in Saved) a.Push(r);
    }

    /// <summary>Each register ← the 64-bit field at its offset in the arguments at <paramref name="args"/>, in order.</summary>
    public static void Load(X64Assembler a, Gpr args, params ReadOnlySpan<(Gpr Register, int Offset)> fields)
    {
        foreach (var (register, offset) in fields) a.MovLoad(register, new Mem(args, offset));
    }

    /// <summary><see cref="Ldy3"/> ← 3 · <see cref="Ldy"/>.</summary>
    public static void TripleStride(X64Assembler a)
    {
        a.Mov(Ldy3, Ldy);
        a.Add(Ldy3, Ldy);
        a.Add(Ldy3, Ldy);
    }

    /// <summary>Activation row t's outputs of the current row block, <paramref name="disp"/> bytes on.</summary>
    public static Mem Output(int t, int disp = 0) => t switch
    {
        0 => new Mem(Result, disp),
        1 => new Mem(Result, disp, Ldy),
        2 => new Mem(Result, disp, Ldy, 2),
        3 => new Mem(Result, disp, Ldy3),
        _ => throw new ArgumentOutOfRangeException(nameof(t), $"a tile has rows 0–3, not {t}"),
    };

    /// <summary>
    /// Asks for the <paramref name="bytes"/> of the block at <paramref name="codes"/> 4 KiB ahead (past the
    /// page border the hardware prefetcher stops at), as the .NET kernels' PrefetchAhead does.
    /// </summary>
    public static void Prefetch(X64Assembler a, Gpr codes, int bytes)
    {
        for (int line = 0; line < bytes; line += 64) a.Prefetcht0(new Mem(codes, PrefetchDistance + line));
    }

    private const int PrefetchDistance = 4096;

    /// <summary>
    /// <paramref name="bytes"/> of stack from a 64-byte boundary, the caller's rsp kept just above them
    /// (below the pushed registers rsp sits 8 bytes past a 16-byte boundary, where every other 32-byte
    /// slot would straddle two cache lines); <paramref name="scratch"/> is overwritten. <see cref="FreeStack"/> undoes it.
    /// </summary>
    public static void AllocateStack(X64Assembler a, int bytes, Gpr scratch)
    {
        a.Mov(scratch, Gpr.Rsp);
        a.Add(Gpr.Rsp, -(bytes + 8));
        a.And(Gpr.Rsp, -64);
        a.MovStore(new Mem(Gpr.Rsp, bytes), scratch);
    }

    /// <summary>The caller's rsp back, as it was before <see cref="AllocateStack"/> of <paramref name="bytes"/>.</summary>
    public static void FreeStack(X64Assembler a, int bytes)
    {
        a.MovLoad(Gpr.Rsp, new Mem(Gpr.Rsp, bytes));
    }

    /// <summary>Upper vector halves cleared, the saved registers restored, return.</summary>
    public static void Leave(X64Assembler a)
    {
        a.Vzeroupper();
        for (int i = Saved.Length - 1; i >= 0; i--) a.Pop(Saved[i]);
        a.Ret();
    }
}
