namespace Sling.Kernels.Emit;

/// <summary>An x86-64 general-purpose register, numbered as the encoding numbers it.</summary>
internal enum Gpr
{
    Rax, Rcx, Rdx, Rbx, Rsp, Rbp, Rsi, Rdi, R8, R9, R10, R11, R12, R13, R14, R15,
}

/// <summary>A memory operand: [base + index·scale + displacement].</summary>
internal readonly record struct Mem(Gpr Base, int Disp = 0, Gpr? Index = null, int Scale = 1);

/// <summary>
/// The few x86-64 instructions the emitted kernels use, encoded by hand: AVX-512 (EVEX) vector
/// operations on zmm0–zmm31, with a memory operand either a whole vector or one element broadcast
/// to all lanes, and the general-purpose moves, adds and branches around them. Memory operands
/// always carry a 32-bit displacement (never EVEX's scaled 8-bit one), which keeps the encoding
/// one rule. Checked byte for byte against the GNU assembler's output in the tests.
/// </summary>
internal sealed class X64Assembler
{
    private readonly List<byte> _code = [];

    public int Position => _code.Count;

    public byte[] ToArray() => [.. _code];

    /// <summary>The AVX2 (VEX, ymm) instructions, written into this code.</summary>
    public Vex256 Ymm => new(this);

    internal void Byte(byte value) => _code.Add(value);

    // EVEX opcode maps and implied prefixes.
    private enum Map { M0F = 1, M0F38 = 2, M0F3A = 3 }
    private enum Pp { None = 0, P66 = 1, PF3 = 2 }

    // The vector instructions, by what they compute: dst ← op(src1, src2/mem).
    public void Vpdpbusd(int dst, int src1, Mem src2, bool broadcast) => Evex(Map.M0F38, Pp.P66, 0x50, dst, src1, src2, broadcast);
    public void Vpandd(int dst, int src1, int src2) => Evex(Map.M0F, Pp.P66, 0xDB, dst, src1, src2);
    /// <summary>dst's word i ← src's word index[i] (32 words).</summary>
    public void Vpermw(int dst, int index, Mem src) => Evex(Map.M0F38, Pp.P66, 0x8D, dst, index, src, false, w: true);
    public void Vpermw(int dst, int index, int src) => Evex(Map.M0F38, Pp.P66, 0x8D, dst, index, src, w: true);
    public void Vpxord(int dst, int src1, int src2) => Evex(Map.M0F, Pp.P66, 0xEF, dst, src1, src2);
    public void Vpaddd(int dst, int src1, int src2) => Evex(Map.M0F, Pp.P66, 0xFE, dst, src1, src2);
    public void Vpsubd(int dst, int src1, Mem src2, bool broadcast) => Evex(Map.M0F, Pp.P66, 0xFA, dst, src1, src2, broadcast);
    /// <summary>dst's byte i ← table's byte (index's byte i &amp; 15) within the same 128-bit lane.</summary>
    public void Vpshufb(int dst, int table, int index) => Evex(Map.M0F38, Pp.P66, 0x00, dst, table, index);
    public void Vcvtdq2ps(int dst, int src) => Evex(Map.M0F, Pp.None, 0x5B, dst, -1, src);
    public void Vmulps(int dst, int src1, Mem src2, bool broadcast) => Evex(Map.M0F, Pp.None, 0x59, dst, src1, src2, broadcast);
    public void Vmulps(int dst, int src1, int src2) => Evex(Map.M0F, Pp.None, 0x59, dst, src1, src2);
    public void Vsubps(int dst, int src1, int src2) => Evex(Map.M0F, Pp.None, 0x5C, dst, src1, src2);
    /// <summary>Each bit of dst ← <paramref name="table"/>[dst·4 + src1·2 + src2] (0xF8: dst | (src1 &amp; src2)).</summary>
    public void Vpternlogd(int dst, int src1, int src2, byte table)
    {
        Evex(Map.M0F3A, Pp.P66, 0x25, dst, src1, src2);
        _code.Add(table);
    }
    /// <summary>Shifts each 16-bit lane left by <paramref name="bits"/>.</summary>
    public void Vpsllw(int dst, int src, byte bits)
    {
        Evex(Map.M0F, Pp.P66, 0x71, 6, dst, src); // 71 /6 ib
        _code.Add(bits);
    }
    /// <summary>dst ← src1·src2 + dst, rounded once.</summary>
    public void Vfmadd231ps(int dst, int src1, int src2) => Evex(Map.M0F38, Pp.P66, 0xB8, dst, src1, src2);
    public void Vfmadd231ps(int dst, int src1, Mem src2, bool broadcast) => Evex(Map.M0F38, Pp.P66, 0xB8, dst, src1, src2, broadcast);
    /// <summary>dst ← −(src1·src2) + dst, rounded once.</summary>
    public void Vfnmadd231ps(int dst, int src1, Mem src2, bool broadcast) => Evex(Map.M0F38, Pp.P66, 0xBC, dst, src1, src2, broadcast);
    public void Vfnmadd231ps(int dst, int src1, int src2) => Evex(Map.M0F38, Pp.P66, 0xBC, dst, src1, src2);
    /// <summary>Each int32 lane ← the low 32 bits of src1·src2.</summary>
    public void Vpmulld(int dst, int src1, int src2) => Evex(Map.M0F38, Pp.P66, 0x40, dst, src1, src2);
    /// <summary>16 fp16 values (32 bytes) widened to floats.</summary>
    public void Vcvtph2ps(int dst, Mem src) => Evex(Map.M0F38, Pp.P66, 0x13, dst, -1, src, false);
    /// <summary>16 bytes zero-extended to 16 int32 lanes.</summary>
    public void Vpmovzxbd(int dst, Mem src) => Evex(Map.M0F38, Pp.P66, 0x31, dst, -1, src, false);
    /// <summary>16 bytes sign-extended to 16 int32 lanes.</summary>
    public void Vpmovsxbd(int dst, Mem src) => Evex(Map.M0F38, Pp.P66, 0x21, dst, -1, src, false);
    public void Vbroadcastss(int dst, Mem src) => Evex(Map.M0F38, Pp.P66, 0x18, dst, -1, src, false);
    public void Vmovdqu32(int dst, Mem src) => Evex(Map.M0F, Pp.PF3, 0x6F, dst, -1, src, false);
    public void Vmovups(Mem dst, int src) => Evex(Map.M0F, Pp.None, 0x11, src, -1, dst, false);
    /// <summary>Shifts each 16-bit lane right (logical) by <paramref name="bits"/>.</summary>
    public void Vpsrlw(int dst, int src, byte bits)
    {
        // 71 /2 ib: the destination goes in EVEX.vvvv, the opcode extension in ModRM.reg.
        Evex(Map.M0F, Pp.P66, 0x71, 2, dst, src);
        _code.Add(bits);
    }

    // EVEX.512 with two register sources (or one, when src1 is -1: vvvv unused).
    private void Evex(Map map, Pp pp, byte opcode, int reg, int src1, int rm, bool w = false)
    {
        CheckVector(reg); CheckVector(rm);
        EvexPrefix(map, pp, reg, src1, b: rm >> 3 & 1, x: rm >> 4 & 1, broadcast: false, w);
        _code.Add(opcode);
        _code.Add((byte)(0xC0 | (reg & 7) << 3 | rm & 7));
    }

    private void Evex(Map map, Pp pp, byte opcode, int reg, int src1, Mem m, bool broadcast, bool w = false)
    {
        CheckVector(reg);
        EvexPrefix(map, pp, reg, src1, b: (int)m.Base >> 3, x: m.Index is { } i ? (int)i >> 3 : 0, broadcast, w);
        _code.Add(opcode);
        ModRmMemory(reg & 7, m);
    }

    // 62 P0 P1 P2: the register extensions R, X, B, R' and the second source vvvv/V' are stored
    // inverted; W (operand width, W1 for word permutes); L'L = 10 selects 512 bits; b marks an
    // element broadcast from memory.
    private void EvexPrefix(Map map, Pp pp, int reg, int src1, int b, int x, bool broadcast, bool w)
    {
        int v = src1 < 0 ? 0 : src1;
        if (src1 >= 0) CheckVector(src1);
        _code.Add(0x62);
        _code.Add((byte)((~reg >> 3 & 1) << 7 | (~x & 1) << 6 | (~b & 1) << 5 | (~reg >> 4 & 1) << 4 | (int)map));
        _code.Add((byte)((w ? 1 : 0) << 7 | (~v & 15) << 3 | 1 << 2 | (int)pp));
        _code.Add((byte)(2 << 5 | (broadcast ? 1 : 0) << 4 | (~v >> 4 & 1) << 3));
    }

    private static void CheckVector(int register)
    {
        if ((uint)register > 31) throw new ArgumentOutOfRangeException(nameof(register), $"zmm{register} does not exist");
    }

    // mod = 10 (32-bit displacement); rm = 100 with a SIB byte when there is an index or the base is rsp/r12.
    internal void ModRmMemory(int reg, Mem m)
    {
        int baseLow = (int)m.Base & 7;
        if (m.Index is null && baseLow != 4)
        {
            _code.Add((byte)(0x80 | reg << 3 | baseLow));
        }
        else
        {
            if (m.Index == Gpr.Rsp) throw new ArgumentException("rsp cannot be an index");
            int scale = m.Scale switch { 1 => 0, 2 => 1, 4 => 2, 8 => 3, _ => throw new ArgumentException($"scale {m.Scale} is not 1, 2, 4 or 8") };
            int index = m.Index is { } i ? (int)i & 7 : 4;
            _code.Add((byte)(0x80 | reg << 3 | 4));
            _code.Add((byte)(scale << 6 | index << 3 | baseLow));
        }
        Int32(m.Disp);
    }

    private void Int32(int value)
    {
        for (int i = 0; i < 4; i++) _code.Add((byte)(value >> 8 * i));
    }

    private void Rex(bool w, int reg, Mem? m, int rm = 0)
    {
        int x = m?.Index is { } i ? (int)i >> 3 : 0;
        int b = m is { } mm ? (int)mm.Base >> 3 : rm >> 3;
        int rex = 0x40 | (w ? 8 : 0) | (reg >> 3 & 1) << 2 | x << 1 | b;
        if (rex != 0x40) _code.Add((byte)rex);
    }

    /// <summary>dst ← the 64-bit value at <paramref name="m"/>.</summary>
    public void MovLoad(Gpr dst, Mem m) => RegMem(0x8B, dst, m);

    /// <summary>The 64-bit value at <paramref name="m"/> ← src.</summary>
    public void MovStore(Mem m, Gpr src) => RegMem(0x89, src, m);

    // A 64-bit operation between a register (ModRM.reg) and memory.
    private void RegMem(byte opcode, Gpr reg, Mem m)
    {
        Rex(true, (int)reg, m);
        _code.Add(opcode);
        ModRmMemory((int)reg & 7, m);
    }

    /// <summary>dst ← src (64-bit).</summary>
    public void Mov(Gpr dst, Gpr src) => RegReg(0x89, src, dst);

    /// <summary>dst ← dst AND value (64-bit, a sign-extended 8-bit immediate: −64 clears the low six bits).</summary>
    public void And(Gpr dst, sbyte value) => GroupImm8(4, dst, value);

    // 83 /digit ib: the 64-bit arithmetic group (digit 0 add, 4 and) on a register with a sign-extended 8-bit immediate.
    private void GroupImm8(int digit, Gpr dst, sbyte value)
    {
        Rex(true, 0, null, (int)dst);
        _code.Add(0x83);
        _code.Add((byte)(0xC0 | digit << 3 | (int)dst & 7));
        _code.Add((byte)value);
    }

    /// <summary>dst ← dst + src (64-bit).</summary>
    public void Add(Gpr dst, Gpr src) => RegReg(0x01, src, dst);

    /// <summary>dst ← dst − src (64-bit).</summary>
    public void Sub(Gpr dst, Gpr src) => RegReg(0x29, src, dst);

    private void RegReg(byte opcode, Gpr reg, Gpr rm)
    {
        Rex(true, (int)reg, null, (int)rm);
        _code.Add(opcode);
        _code.Add((byte)(0xC0 | ((int)reg & 7) << 3 | (int)rm & 7));
    }

    /// <summary>dst ← dst + value (64-bit, a sign-extended 32-bit immediate).</summary>
    public void Add(Gpr dst, int value)
    {
        if (value is >= sbyte.MinValue and <= sbyte.MaxValue)
        {
            GroupImm8(0, dst, (sbyte)value);
            return;
        }
        Rex(true, 0, null, (int)dst);
        if (dst == Gpr.Rax) _code.Add(0x05); // the accumulator's own form
        else
        {
            _code.Add(0x81); // 81 /0 id
            _code.Add((byte)(0xC0 | (int)dst & 7));
        }
        Int32(value);
    }

    /// <summary>dst ← value (zero-extended 32-bit immediate).</summary>
    public void Mov(Gpr dst, uint value)
    {
        if ((int)dst >= 8) _code.Add(0x41);
        _code.Add((byte)(0xB8 + ((int)dst & 7)));
        Int32((int)value);
    }

    /// <summary>dst ← dst − 1, setting the zero flag.</summary>
    public void Dec(Gpr dst)
    {
        Rex(true, 0, null, (int)dst);
        _code.Add(0xFF);
        _code.Add((byte)(0xC8 | (int)dst & 7));
    }

    /// <summary>Jumps back to <paramref name="target"/> (a <see cref="Position"/>) unless the zero flag is set.</summary>
    public void JnzBack(int target)
    {
        _code.Add(0x0F);
        _code.Add(0x85);
        Int32(target - (Position + 4));
    }

    public void Push(Gpr r)
    {
        if ((int)r >= 8) _code.Add(0x41);
        _code.Add((byte)(0x50 + ((int)r & 7)));
    }

    public void Pop(Gpr r)
    {
        if ((int)r >= 8) _code.Add(0x41);
        _code.Add((byte)(0x58 + ((int)r & 7)));
    }

    /// <summary>Asks for the cache line at <paramref name="m"/> into every cache level.</summary>
    public void Prefetcht0(Mem m)
    {
        Rex(false, 0, m);
        _code.Add(0x0F);
        _code.Add(0x18);
        ModRmMemory(1, m);
    }

    public void Vzeroupper()
    {
        _code.Add(0xC5);
        _code.Add(0xF8);
        _code.Add(0x77);
    }

    public void Ret() => _code.Add(0xC3);
}
