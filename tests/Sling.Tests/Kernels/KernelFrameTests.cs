using Sling.Kernels.Emit;

namespace Sling.Tests.Kernels;

/// <summary>A fact skipped, saying why, where assembled code cannot run.</summary>
public sealed class AssembledCodeFactAttribute : FactAttribute
{
    public AssembledCodeFactAttribute()
    {
        if (!ExecutableCode.Allowed) Skip = "this is not 64-bit Linux, or SLING_NO_ASSEMBLED_KERNELS is set: no assembled code runs here";
    }
}

/// <summary>The assembled kernels' stack frame, run: where it starts and that the caller gets its rsp back.</summary>
public unsafe class KernelFrameTests
{
    [AssembledCodeFact]
    public void TheFrameStartsOnACacheLineWhateverTheCallersAlignment()
    {
        const int Bytes = 320;
        // For every 8-byte step of the caller's rsp within a cache line: move rsp down by 8·shift,
        // record it, take the frame, record its rsp and the caller's as kept there, give it back,
        // record rsp once more, undo the shift, return. A frame that did not give rsp back exactly
        // would return to the wrong address (the test process would not survive it).
        long* seen = stackalloc long[4];
        for (int shift = 0; shift < 8; shift++)
        {
            var a = new X64Assembler();
            a.Add(Gpr.Rsp, -8 * shift);
            a.MovStore(new Mem(Gpr.Rdi, 0), Gpr.Rsp);
            KernelFrame.AllocateStack(a, Bytes, Gpr.R8);
            a.MovStore(new Mem(Gpr.Rdi, 8), Gpr.Rsp);
            a.MovLoad(Gpr.Rax, new Mem(Gpr.Rsp, Bytes));
            a.MovStore(new Mem(Gpr.Rdi, 16), Gpr.Rax);
            KernelFrame.FreeStack(a, Bytes);
            a.MovStore(new Mem(Gpr.Rdi, 24), Gpr.Rsp);
            a.Add(Gpr.Rsp, 8 * shift);
            a.Ret();
            var entry = (delegate* unmanaged<long*, void>)ExecutableCode.Load(a.ToArray());
            Assert.True(entry != null, "the code could not be mapped executable");
            entry(seen);
            long caller = seen[0], frame = seen[1];
            Assert.Equal(0, frame % 64);
            Assert.InRange(caller - frame, Bytes + 8, Bytes + 8 + 63); // the frame's bytes and the kept rsp, below the caller's
            Assert.Equal(caller, seen[2]);
            Assert.Equal(caller, seen[3]);
        }
    }
}
