namespace Sling.Kernels.Emit;

/// <summary>
/// The AVX2 (VEX-encoded, 256-bit) instructions of the emitted kernels on ymm0–ymm15, written into an
/// <see cref="X64Assembler"/>: <c>a.Ymm.Vpmaddubsw(14, 9, 13)</c>. The two-byte VEX prefix where the
/// encoding allows it (map 0F, W0, no extended base, index or register in ModRM.rm), as the GNU
/// assembler chooses; memory operands with a 32-bit displacement, as the EVEX forms. Checked byte
/// for byte against the GNU assembler's output in the tests.
/// </summary>
internal readonly struct Vex256(X64Assembler a)
{
    private enum Map { M0F = 1, M0F38 = 2 }
    private enum Pp { None = 0, P66 = 1, PF3 = 2 }

    /// <summary>dst ← 32 bytes at m.</summary>
    public void Vmovdqu(int dst, Mem m) => Op(Map.M0F, Pp.PF3, 0x6F, dst, -1, m);
    /// <summary>dst ← src.</summary>
    public void Vmovdqa(int dst, int src) => Op(Map.M0F, Pp.P66, 0x6F, dst, -1, src);
    /// <summary>m ← src (32 bytes, unaligned).</summary>
    public void Vmovups(Mem m, int src) => Op(Map.M0F, Pp.None, 0x11, src, -1, m);
    /// <summary>dst ← 32 bytes at m (unaligned).</summary>
    public void Vmovups(int dst, Mem m) => Op(Map.M0F, Pp.None, 0x10, dst, -1, m);
    public void Vpand(int dst, int src1, int src2) => Op(Map.M0F, Pp.P66, 0xDB, dst, src1, src2);
    public void Vpand(int dst, int src1, Mem src2) => Op(Map.M0F, Pp.P66, 0xDB, dst, src1, src2);
    public void Vpxor(int dst, int src1, int src2) => Op(Map.M0F, Pp.P66, 0xEF, dst, src1, src2);
    /// <summary>Shifts each 16-bit lane right (logical) by <paramref name="bits"/>.</summary>
    public void Vpsrlw(int dst, int src, byte bits) => Shift(0x71, 2, dst, src, bits);
    /// <summary>Each 32-bit lane ← the dword at m.</summary>
    public void Vpbroadcastd(int dst, Mem m) => Op(Map.M0F38, Pp.P66, 0x58, dst, -1, m);
    /// <summary>Each float lane ← the float at m.</summary>
    public void Vbroadcastss(int dst, Mem m) => Op(Map.M0F38, Pp.P66, 0x18, dst, -1, m);
    /// <summary>Unsigned bytes of src1 times signed bytes of src2, adjacent products added into 16-bit lanes (saturating).</summary>
    public void Vpmaddubsw(int dst, int src1, int src2) => Op(Map.M0F38, Pp.P66, 0x04, dst, src1, src2);
    /// <summary>Each byte ← the byte of src1's 128-bit lane that src2's byte indexes (its low 4 bits; 0 where its top bit is set).</summary>
    public void Vpshufb(int dst, int src1, int src2) => Op(Map.M0F38, Pp.P66, 0x00, dst, src1, src2);
    /// <summary>Each byte ← src1's, negated where src2's is negative, 0 where it is 0.</summary>
    public void Vpsignb(int dst, int src1, int src2) => Op(Map.M0F38, Pp.P66, 0x08, dst, src1, src2);
    /// <summary>Each byte ← |src| (unsigned: −128 gives 128).</summary>
    public void Vpabsb(int dst, int src) => Op(Map.M0F38, Pp.P66, 0x1C, dst, -1, src);
    public void Vpaddw(int dst, int src1, int src2) => Op(Map.M0F, Pp.P66, 0xFD, dst, src1, src2);
    public void Vpaddd(int dst, int src1, int src2) => Op(Map.M0F, Pp.P66, 0xFE, dst, src1, src2);
    /// <summary>16 bytes zero-extended to 16 words.</summary>
    public void Vpmovzxbw(int dst, Mem m) => Op(Map.M0F38, Pp.P66, 0x30, dst, -1, m);
    /// <summary>Signed words of src1 times those of src2, adjacent products added into 32-bit lanes.</summary>
    public void Vpmaddwd(int dst, int src1, int src2) => Op(Map.M0F, Pp.P66, 0xF5, dst, src1, src2);
    public void Vpmaddwd(int dst, int src1, Mem src2) => Op(Map.M0F, Pp.P66, 0xF5, dst, src1, src2);
    public void Vpsubd(int dst, int src1, int src2) => Op(Map.M0F, Pp.P66, 0xFA, dst, src1, src2);
    /// <summary>The low 16 bits of each word product.</summary>
    public void Vpmullw(int dst, int src1, Mem src2) => Op(Map.M0F, Pp.P66, 0xD5, dst, src1, src2);
    /// <summary>8 bytes sign-extended to 8 int32 lanes.</summary>
    public void Vpmovsxbd(int dst, Mem m) => Op(Map.M0F38, Pp.P66, 0x21, dst, -1, m);
    /// <summary>Shifts each 16-bit lane left by <paramref name="bits"/>.</summary>
    public void Vpsllw(int dst, int src, byte bits) => Shift(0x71, 6, dst, src, bits);
    public void Vcvtdq2ps(int dst, int src) => Op(Map.M0F, Pp.None, 0x5B, dst, -1, src);
    public void Vmulps(int dst, int src1, int src2) => Op(Map.M0F, Pp.None, 0x59, dst, src1, src2);
    public void Vsubps(int dst, int src1, int src2) => Op(Map.M0F, Pp.None, 0x5C, dst, src1, src2);
    /// <summary>dst ← src1·src2 + dst, rounded once.</summary>
    public void Vfmadd231ps(int dst, int src1, int src2) => Op(Map.M0F38, Pp.P66, 0xB8, dst, src1, src2);
    public void Vfmadd231ps(int dst, int src1, Mem src2) => Op(Map.M0F38, Pp.P66, 0xB8, dst, src1, src2);
    /// <summary>dst ← −(src1·src2) + dst, rounded once.</summary>
    public void Vfnmadd231ps(int dst, int src1, int src2) => Op(Map.M0F38, Pp.P66, 0xBC, dst, src1, src2);
    /// <summary>8 bytes zero-extended to 8 int32 lanes.</summary>
    public void Vpmovzxbd(int dst, Mem m) => Op(Map.M0F38, Pp.P66, 0x31, dst, -1, m);
    public void Vpor(int dst, int src1, int src2) => Op(Map.M0F, Pp.P66, 0xEB, dst, src1, src2);
    /// <summary>Shifts each 32-bit lane left by <paramref name="bits"/>.</summary>
    public void Vpslld(int dst, int src, byte bits) => Shift(0x72, 6, dst, src, bits);

    // 71 /2, 71 /6, 72 /6 with an 8-bit count: the destination in VEX.vvvv, the extension in ModRM.reg.
    private void Shift(byte opcode, int extension, int dst, int src, byte bits)
    {
        Op(Map.M0F, Pp.P66, opcode, extension, dst, src);
        a.Byte(bits);
    }
    /// <summary>8 fp16 values (16 bytes) widened to floats (F16C).</summary>
    public void Vcvtph2ps(int dst, Mem m) => Op(Map.M0F38, Pp.P66, 0x13, dst, -1, m);

    private void Op(Map map, Pp pp, byte opcode, int reg, int src1, int rm)
    {
        Check(rm);
        Prefix(map, pp, reg, src1, x: 0, b: rm >> 3);
        a.Byte(opcode);
        a.Byte((byte)(0xC0 | (reg & 7) << 3 | rm & 7));
    }

    private void Op(Map map, Pp pp, byte opcode, int reg, int src1, Mem m)
    {
        Prefix(map, pp, reg, src1, x: m.Index is { } i ? (int)i >> 3 : 0, b: (int)m.Base >> 3);
        a.Byte(opcode);
        a.ModRmMemory(reg & 7, m);
    }

    // C5 [R̄ v̄v̄v̄v̄ L pp] or C4 [R̄ X̄ B̄ mmmmm] [W v̄v̄v̄v̄ L pp]: R, X, B and vvvv stored inverted, L = 1 (256 bits), W0.
    private void Prefix(Map map, Pp pp, int reg, int src1, int x, int b)
    {
        Check(reg);
        if (src1 >= 0) Check(src1);
        int v = src1 < 0 ? 0 : src1;
        int last = (~v & 15) << 3 | 1 << 2 | (int)pp;
        if (map == Map.M0F && x == 0 && b == 0)
        {
            a.Byte(0xC5);
            a.Byte((byte)((~reg >> 3 & 1) << 7 | last));
            return;
        }
        a.Byte(0xC4);
        a.Byte((byte)((~reg >> 3 & 1) << 7 | (~x & 1) << 6 | (~b & 1) << 5 | (int)map));
        a.Byte((byte)last);
    }

    private static void Check(int register)
    {
        if ((uint)register > 15) throw new ArgumentOutOfRangeException(nameof(register), $"ymm{register} has no VEX encoding");
    }
}
