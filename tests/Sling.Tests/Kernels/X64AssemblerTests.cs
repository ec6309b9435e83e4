using Sling.Kernels.Emit;

namespace Sling.Tests.Kernels;

/// <summary>
/// The hand-encoded instructions of the emitted kernels (AVX-512's EVEX forms on zmm, AVX2's VEX forms
/// on ymm), byte for byte against the GNU assembler (binutils 2.40, `.intel_syntax noprefix`, memory
/// operands written with `{disp32}` as the encoder always uses a 32-bit displacement): each expected
/// string is what `as` + `objdump -d` printed.
/// </summary>
public class X64AssemblerTests
{
    public static TheoryData<string, string> Cases() => new()
    {
        { "vpdpbusd zmm17, zmm8, dword ptr [r8 + 0x1000]{1to16}", "62c23d58508800100000" },
        { "vpdpbusd zmm3, zmm31, dword ptr [rax + 4]{1to16}", "62f20550509804000000" },
        { "vpdpbusd zmm24, zmm15, zmmword ptr [r12 + 64]", "6242054850842440000000" },
        { "vpandd zmm9, zmm28, zmm16", "62311d40dbc8" },
        { "vpermw zmm9, zmm29, zmmword ptr [rax + 64]", "627295408d8840000000" },
        { "vpermw zmm8, zmm29, zmm28", "621295408dc4" },
        { "vmovdqu32 zmm29, zmmword ptr [rdi + 192]", "62617e486fafc0000000" },
        { "vpxord zmm31, zmm31, zmm31", "62010540efff" },
        { "vpaddd zmm17, zmm17, zmm18", "62a17540feca" },
        { "vcvtdq2ps zmm17, zmm17", "62a17c485bc9" },
        { "vcvtdq2ps zmm5, zmm27", "62917c485beb" },
        { "vmulps zmm28, zmm27, dword ptr [r11 + 0x40]{1to16}", "6241245059a340000000" },
        { "vsubps zmm4, zmm4, zmm28", "62915c485ce4" },
        { "vpsubd zmm17, zmm17, dword ptr [r9 + rdi + 0x100]{1to16}", "62c17550fa8c3900010000" },
        { "vpshufb zmm8, zmm25, zmm8", "6252354000c0" },
        { "vpshufb zmm13, zmm25, zmm20", "6232354000ec" },
        { "sub rdi, rsi", "4829f7" },
        { "vpternlogd zmm8, zmm28, zmm27, 0xf8", "62131d4025c3f8" },
        { "vpternlogd zmm15, zmm25, zmm27, 0xf8", "6213354025fbf8" },
        { "vpsllw zmm28, zmm25, 4", "62911d4071f104" },
        { "vfnmadd231ps zmm2, zmm27, dword ptr [r11 + 0x80]{1to16}", "62d22550bc9380000000" },
        { "vfnmadd231ps zmm3, zmm30, zmm20", "62b20d40bcdc" },
        { "vpmulld zmm17, zmm17, zmm26", "6282754040ca" },
        { "vpmulld zmm20, zmm23, zmm26", "6282454040e2" },
        { "vpmovsxbd zmm26, xmmword ptr [rbx + 32]", "62627d48219320000000" },
        { "vmulps zmm26, zmm29, zmm26", "6201144059d2" },
        { "vfmadd231ps zmm0, zmm26, zmm4", "62f22d40b8c4" },
        { "vfmadd231ps zmm7, zmm23, dword ptr [r9 + 0x88]{1to16}", "62d24550b8b988000000" },
        { "vcvtph2ps zmm26, ymmword ptr [rbx]", "62627d48139300000000" },
        { "vcvtph2ps zmm0, ymmword ptr [rdi]", "62f27d48138700000000" },
        { "vmovups zmmword ptr [rsi], zmm0", "62f17c48118600000000" },
        { "add rdi, 32", "4883c720" },
        { "add rsi, 64", "4883c640" },
        { "dec rdx", "48ffca" },
        { "vpmovzxbd zmm27, xmmword ptr [rcx + 16]", "62627d48319910000000" },
        { "vbroadcastss zmm27, dword ptr [rdi + 72]", "62627d48189f48000000" },
        { "vmovdqu32 zmm28, zmmword ptr [rax + 192]", "62617e486fa0c0000000" },
        { "vmovdqu32 zmm16, zmmword ptr [rdi + 128]", "62e17e486f8780000000" },
        { "vmovups zmmword ptr [r12], zmm0", "62d17c4811842400000000" },
        { "vmovups zmmword ptr [r12 + r13], zmm1", "62917c48118c2c00000000" },
        { "vmovups zmmword ptr [r12 + r13*2], zmm2", "62917c4811946c00000000" },
        { "vmovups zmmword ptr [r12 + rbp], zmm3", "62d17c48119c2c00000000" },
        { "vpsrlw zmm28, zmm28, 4", "62911d4071d404" },
        { "vpsrlw zmm20, zmm9, 4", "62d15d4071d104" },
        { "mov rax, qword ptr [rdi]", "488b8700000000" },
        { "mov r13, qword ptr [rdi + 56]", "4c8baf38000000" },
        { "mov r8, qword ptr [r12 + 8]", "4d8b842408000000" },
        { "mov r8, rdx", "4989d0" },
        { "mov rbp, r13", "4c89ed" },
        { "add rbp, r13", "4c01ed" },
        { "add rax, 256", "480500010000" },
        { "add r9, 512", "4981c100020000" },
        { "add r8, -128", "4983c080" },
        { "mov r8, rsp", "4989e0" },
        { "add rsp, -264", "4881c4f8feffff" },
        { "and rsp, -64", "4883e4c0" },
        { "mov qword ptr [rsp + 256], r8", "4c89842400010000" },
        { "mov qword ptr [r12 + 8], rdi", "4989bc2408000000" },
        { "mov rsp, qword ptr [rsp + 256]", "488ba42400010000" },
        { "add r11, 4", "4983c304" },
        { "mov r15d, 64", "41bf40000000" },
        { "mov ebx, 7", "bb07000000" },
        { "dec r15", "49ffcf" },
        { "dec r14", "49ffce" },
        { "prefetcht0 byte ptr [rax + 4096]", "0f188800100000" },
        { "prefetcht0 byte ptr [r9 + 4160]", "410f188940100000" },
        { "push rbx", "53" },
        { "push r12", "4154" },
        { "pop r15", "415f" },
        { "pop rbp", "5d" },
        { "vzeroupper", "c5f877" },
        { "ret", "c3" },
        { "vmovdqu ymm10, ymmword ptr [rax + 64]", "c57e6f9040000000" },
        { "vmovdqu ymm3, ymmword ptr [rax + 32]", "c5fe6f9820000000" },
        { "vmovdqa ymm4, ymm0", "c5fd6fe0" },
        { "vmovdqa ymm12, ymm3", "c57d6fe3" },
        { "vmovups ymm14, ymmword ptr [r12 + rbp]", "c4417c10b42c00000000" },
        { "vpand ymm9, ymm8, ymmword ptr [rax + 96]", "c53ddb8860000000" },
        { "vmovups ymmword ptr [r12 + r13*2 + 32], ymm14", "c4017c11b46c20000000" },
        { "vpand ymm10, ymm10, ymm8", "c4412ddbd0" },
        { "vpand ymm1, ymm2, ymm12", "c4c16ddbcc" },
        { "vfmadd231ps ymm14, ymm10, ymmword ptr [rsp + 96]", "c4622db8b42460000000" },
        { "vfnmadd231ps ymm14, ymm11, ymm3", "c46225bcf3" },
        { "vfnmadd231ps ymm14, ymm11, ymm0", "c46225bcf0" },
        { "vpmovzxbd ymm10, qword ptr [rbx + 8]", "c4627d319308000000" },
        { "vpmovzxbd ymm9, qword ptr [rbx - 240]", "c4627d318b10ffffff" },
        { "vpor ymm9, ymm9, ymm11", "c44135ebcb" },
        { "vpor ymm10, ymm10, ymm11", "c4412debd3" },
        { "vpslld ymm11, ymm9, 16", "c4c12572f110" },
        { "vpslld ymm11, ymm10, 16", "c4c12572f210" },
        { "vpaddd ymm0, ymm0, ymm14", "c4c17dfec6" },
        { "vpaddd ymm7, ymm7, ymm14", "c4c145fefe" },
        { "vpmovzxbw ymm9, xmmword ptr [rax + 480]", "c4627d3088e0010000" },
        { "vpmovzxbw ymm10, xmmword ptr [rax + 496]", "c4627d3090f0010000" },
        { "vpmaddwd ymm13, ymm13, ymmword ptr [rsp + 256]", "c515f5ac2400010000" },
        { "vpmaddwd ymm14, ymm12, ymmword ptr [rsp + 416]", "c51df5b424a0010000" },
        { "vpsubd ymm0, ymm0, ymm14", "c4c17dfac6" },
        { "vpsubd ymm7, ymm7, ymm14", "c4c145fafe" },
        { "vpmullw ymm13, ymm13, ymmword ptr [rsi + 128]", "c515d5ae80000000" },
        { "vpmovsxbd ymm14, qword ptr [rbx + 8]", "c4627d21b308000000" },
        { "vpmovsxbd ymm15, qword ptr [rbx + 24]", "c4627d21bb18000000" },
        { "vpsllw ymm13, ymm12, 4", "c4c11571f404" },
        { "vpsllw ymm13, ymm12, 2", "c4c11571f402" },
        { "vpxor ymm14, ymm14, ymm14", "c4410deff6" },
        { "vpsrlw ymm10, ymm10, 4", "c4c12d71d204" },
        { "vpsrlw ymm2, ymm12, 4", "c4c16d71d404" },
        { "vpbroadcastd ymm13, dword ptr [r8 + 0x1608]", "c4427d58a808160000" },
        { "vpbroadcastd ymm4, dword ptr [r9 + rdi + 8]", "c4c27d58a43908000000" },
        { "vbroadcastss ymm13, dword ptr [r9 + 0x2c0]", "c4427d18a9c0020000" },
        { "vbroadcastss ymm13, dword ptr [r11 + 4]", "c4427d18ab04000000" },
        { "vpmaddubsw ymm14, ymm9, ymm13", "c4423504f5" },
        { "vpmaddubsw ymm14, ymm12, ymm13", "c4421d04f5" },
        { "vpaddw ymm0, ymm0, ymm14", "c4c17dfdc6" },
        { "vpaddw ymm7, ymm7, ymm14", "c4c145fdfe" },
        { "vpmaddwd ymm3, ymm3, ymm15", "c4c165f5df" },
        { "vpmaddwd ymm12, ymm12, ymm15", "c4411df5e7" },
        { "vcvtdq2ps ymm5, ymm5", "c5fc5bed" },
        { "vcvtdq2ps ymm12, ymm3", "c57c5be3" },
        { "vmulps ymm6, ymm6, ymm13", "c4c14c59f5" },
        { "vmulps ymm14, ymm11, ymm13", "c4412459f5" },
        { "vsubps ymm11, ymm11, ymm14", "c441245cde" },
        { "vsubps ymm2, ymm3, ymm4", "c5e45cd4" },
        { "vpshufb ymm8, ymm12, ymm8", "c4421d00c0" },
        { "vpshufb ymm1, ymm2, ymm3", "c4e26d00cb" },
        { "vpabsb ymm10, ymm8", "c4427d1cd0" },
        { "vpabsb ymm1, ymm2", "c4e27d1cca" },
        { "vpsignb ymm14, ymm13, ymm8", "c4421508f0" },
        { "vpsignb ymm1, ymm2, ymm3", "c4e26d08cb" },
        { "vfmadd231ps ymm14, ymm9, ymm0", "c46235b8f0" },
        { "vfmadd231ps ymm14, ymm10, ymm7", "c4622db8f7" },
        { "vcvtph2ps ymm9, xmmword ptr [rbx + 16]", "c4627d138b10000000" },
        { "vcvtph2ps ymm10, xmmword ptr [rbx + 48]", "c4627d139330000000" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void EncodesAsTheGnuAssemblerDoes(string instruction, string expected)
    {
        var a = new X64Assembler();
        Emit(a, instruction);
        Assert.Equal(expected, Convert.ToHexStringLower(a.ToArray()));
    }

    [Fact]
    public void ABackwardBranchLandsOnItsTarget()
    {
        var a = new X64Assembler();
        int top = a.Position;
        a.Dec(Gpr.R15);          // 3 bytes
        a.JnzBack(top);          // 6 bytes: jumps back 9
        Assert.Equal("49ffcf0f85f7ffffff", Convert.ToHexStringLower(a.ToArray()));
    }

    [Fact]
    public void RefusesRegistersAndScalesThatDoNotExist()
    {
        var a = new X64Assembler();
        Assert.Throws<ArgumentOutOfRangeException>(() => a.Vpaddd(32, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => a.Ymm.Vpaddw(16, 0, 0)); // VEX reaches ymm0–15 only
        Assert.Throws<ArgumentOutOfRangeException>(() => a.Ymm.Vmulps(0, 16, 0));
        Assert.Throws<ArgumentException>(() => a.Vmovups(new Mem(Gpr.Rax, 0, Gpr.Rcx, 3), 0));
        Assert.Throws<ArgumentException>(() => a.Vmovups(new Mem(Gpr.Rax, 0, Gpr.Rsp), 0));
    }

    // The cases above, spelled as calls.
    private static void Emit(X64Assembler a, string instruction)
    {
        switch (instruction)
        {
            case "vpdpbusd zmm17, zmm8, dword ptr [r8 + 0x1000]{1to16}": a.Vpdpbusd(17, 8, new Mem(Gpr.R8, 0x1000), true); break;
            case "vpdpbusd zmm3, zmm31, dword ptr [rax + 4]{1to16}": a.Vpdpbusd(3, 31, new Mem(Gpr.Rax, 4), true); break;
            case "vpdpbusd zmm24, zmm15, zmmword ptr [r12 + 64]": a.Vpdpbusd(24, 15, new Mem(Gpr.R12, 64), false); break;
            case "vpandd zmm9, zmm28, zmm16": a.Vpandd(9, 28, 16); break;
            case "vpermw zmm9, zmm29, zmmword ptr [rax + 64]": a.Vpermw(9, 29, new Mem(Gpr.Rax, 64)); break;
            case "vpermw zmm8, zmm29, zmm28": a.Vpermw(8, 29, 28); break;
            case "vmovdqu32 zmm29, zmmword ptr [rdi + 192]": a.Vmovdqu32(29, new Mem(Gpr.Rdi, 192)); break;
            case "vpxord zmm31, zmm31, zmm31": a.Vpxord(31, 31, 31); break;
            case "vpaddd zmm17, zmm17, zmm18": a.Vpaddd(17, 17, 18); break;
            case "vcvtdq2ps zmm17, zmm17": a.Vcvtdq2ps(17, 17); break;
            case "vcvtdq2ps zmm5, zmm27": a.Vcvtdq2ps(5, 27); break;
            case "vmulps zmm28, zmm27, dword ptr [r11 + 0x40]{1to16}": a.Vmulps(28, 27, new Mem(Gpr.R11, 0x40), true); break;
            case "vsubps zmm4, zmm4, zmm28": a.Vsubps(4, 4, 28); break;
            case "vpsubd zmm17, zmm17, dword ptr [r9 + rdi + 0x100]{1to16}": a.Vpsubd(17, 17, new Mem(Gpr.R9, 0x100, Gpr.Rdi), true); break;
            case "vpshufb zmm8, zmm25, zmm8": a.Vpshufb(8, 25, 8); break;
            case "vpshufb zmm13, zmm25, zmm20": a.Vpshufb(13, 25, 20); break;
            case "sub rdi, rsi": a.Sub(Gpr.Rdi, Gpr.Rsi); break;
            case "vpternlogd zmm8, zmm28, zmm27, 0xf8": a.Vpternlogd(8, 28, 27, 0xF8); break;
            case "vpternlogd zmm15, zmm25, zmm27, 0xf8": a.Vpternlogd(15, 25, 27, 0xF8); break;
            case "vpsllw zmm28, zmm25, 4": a.Vpsllw(28, 25, 4); break;
            case "vfnmadd231ps zmm2, zmm27, dword ptr [r11 + 0x80]{1to16}": a.Vfnmadd231ps(2, 27, new Mem(Gpr.R11, 0x80), true); break;
            case "vfnmadd231ps zmm3, zmm30, zmm20": a.Vfnmadd231ps(3, 30, 20); break;
            case "vpmulld zmm17, zmm17, zmm26": a.Vpmulld(17, 17, 26); break;
            case "vpmulld zmm20, zmm23, zmm26": a.Vpmulld(20, 23, 26); break;
            case "vpmovsxbd zmm26, xmmword ptr [rbx + 32]": a.Vpmovsxbd(26, new Mem(Gpr.Rbx, 32)); break;
            case "vmulps zmm26, zmm29, zmm26": a.Vmulps(26, 29, 26); break;
            case "vfmadd231ps zmm0, zmm26, zmm4": a.Vfmadd231ps(0, 26, 4); break;
            case "vfmadd231ps zmm7, zmm23, dword ptr [r9 + 0x88]{1to16}": a.Vfmadd231ps(7, 23, new Mem(Gpr.R9, 0x88), true); break;
            case "vcvtph2ps zmm26, ymmword ptr [rbx]": a.Vcvtph2ps(26, new Mem(Gpr.Rbx)); break;
            case "vcvtph2ps zmm0, ymmword ptr [rdi]": a.Vcvtph2ps(0, new Mem(Gpr.Rdi)); break;
            case "vmovups zmmword ptr [rsi], zmm0": a.Vmovups(new Mem(Gpr.Rsi), 0); break;
            case "add rdi, 32": a.Add(Gpr.Rdi, 32); break;
            case "add rsi, 64": a.Add(Gpr.Rsi, 64); break;
            case "dec rdx": a.Dec(Gpr.Rdx); break;
            case "vpmovzxbd zmm27, xmmword ptr [rcx + 16]": a.Vpmovzxbd(27, new Mem(Gpr.Rcx, 16)); break;
            case "vbroadcastss zmm27, dword ptr [rdi + 72]": a.Vbroadcastss(27, new Mem(Gpr.Rdi, 72)); break;
            case "vmovdqu32 zmm28, zmmword ptr [rax + 192]": a.Vmovdqu32(28, new Mem(Gpr.Rax, 192)); break;
            case "vmovdqu32 zmm16, zmmword ptr [rdi + 128]": a.Vmovdqu32(16, new Mem(Gpr.Rdi, 128)); break;
            case "vmovups zmmword ptr [r12], zmm0": a.Vmovups(new Mem(Gpr.R12), 0); break;
            case "vmovups zmmword ptr [r12 + r13], zmm1": a.Vmovups(new Mem(Gpr.R12, 0, Gpr.R13), 1); break;
            case "vmovups zmmword ptr [r12 + r13*2], zmm2": a.Vmovups(new Mem(Gpr.R12, 0, Gpr.R13, 2), 2); break;
            case "vmovups zmmword ptr [r12 + rbp], zmm3": a.Vmovups(new Mem(Gpr.R12, 0, Gpr.Rbp), 3); break;
            case "vpsrlw zmm28, zmm28, 4": a.Vpsrlw(28, 28, 4); break;
            case "vpsrlw zmm20, zmm9, 4": a.Vpsrlw(20, 9, 4); break;
            case "mov rax, qword ptr [rdi]": a.MovLoad(Gpr.Rax, new Mem(Gpr.Rdi)); break;
            case "mov r13, qword ptr [rdi + 56]": a.MovLoad(Gpr.R13, new Mem(Gpr.Rdi, 56)); break;
            case "mov r8, qword ptr [r12 + 8]": a.MovLoad(Gpr.R8, new Mem(Gpr.R12, 8)); break;
            case "mov r8, rdx": a.Mov(Gpr.R8, Gpr.Rdx); break;
            case "mov rbp, r13": a.Mov(Gpr.Rbp, Gpr.R13); break;
            case "add rbp, r13": a.Add(Gpr.Rbp, Gpr.R13); break;
            case "add rax, 256": a.Add(Gpr.Rax, 256); break;
            case "add r9, 512": a.Add(Gpr.R9, 512); break;
            case "add r8, -128": a.Add(Gpr.R8, -128); break;
            case "mov r8, rsp": a.Mov(Gpr.R8, Gpr.Rsp); break;
            case "add rsp, -264": a.Add(Gpr.Rsp, -264); break;
            case "and rsp, -64": a.And(Gpr.Rsp, -64); break;
            case "mov qword ptr [rsp + 256], r8": a.MovStore(new Mem(Gpr.Rsp, 256), Gpr.R8); break;
            case "mov qword ptr [r12 + 8], rdi": a.MovStore(new Mem(Gpr.R12, 8), Gpr.Rdi); break;
            case "mov rsp, qword ptr [rsp + 256]": a.MovLoad(Gpr.Rsp, new Mem(Gpr.Rsp, 256)); break;
            case "add r11, 4": a.Add(Gpr.R11, 4); break;
            case "mov r15d, 64": a.Mov(Gpr.R15, 64u); break;
            case "mov ebx, 7": a.Mov(Gpr.Rbx, 7u); break;
            case "dec r15": a.Dec(Gpr.R15); break;
            case "dec r14": a.Dec(Gpr.R14); break;
            case "prefetcht0 byte ptr [rax + 4096]": a.Prefetcht0(new Mem(Gpr.Rax, 4096)); break;
            case "prefetcht0 byte ptr [r9 + 4160]": a.Prefetcht0(new Mem(Gpr.R9, 4160)); break;
            case "push rbx": a.Push(Gpr.Rbx); break;
            case "push r12": a.Push(Gpr.R12); break;
            case "pop r15": a.Pop(Gpr.R15); break;
            case "pop rbp": a.Pop(Gpr.Rbp); break;
            case "vzeroupper": a.Vzeroupper(); break;
            case "ret": a.Ret(); break;
            case "vmovdqu ymm10, ymmword ptr [rax + 64]": a.Ymm.Vmovdqu(10, new Mem(Gpr.Rax, 64)); break;
            case "vmovdqu ymm3, ymmword ptr [rax + 32]": a.Ymm.Vmovdqu(3, new Mem(Gpr.Rax, 32)); break;
            case "vmovdqa ymm4, ymm0": a.Ymm.Vmovdqa(4, 0); break;
            case "vmovdqa ymm12, ymm3": a.Ymm.Vmovdqa(12, 3); break;
            case "vmovups ymm14, ymmword ptr [r12 + rbp]": a.Ymm.Vmovups(14, new Mem(Gpr.R12, 0, Gpr.Rbp)); break;
            case "vpand ymm9, ymm8, ymmword ptr [rax + 96]": a.Ymm.Vpand(9, 8, new Mem(Gpr.Rax, 96)); break;
            case "vmovups ymmword ptr [r12 + r13*2 + 32], ymm14": a.Ymm.Vmovups(new Mem(Gpr.R12, 32, Gpr.R13, 2), 14); break;
            case "vpand ymm10, ymm10, ymm8": a.Ymm.Vpand(10, 10, 8); break;
            case "vpand ymm1, ymm2, ymm12": a.Ymm.Vpand(1, 2, 12); break;
            case "vfmadd231ps ymm14, ymm10, ymmword ptr [rsp + 96]": a.Ymm.Vfmadd231ps(14, 10, new Mem(Gpr.Rsp, 96)); break;
            case "vfnmadd231ps ymm14, ymm11, ymm3": a.Ymm.Vfnmadd231ps(14, 11, 3); break;
            case "vfnmadd231ps ymm14, ymm11, ymm0": a.Ymm.Vfnmadd231ps(14, 11, 0); break;
            case "vpmovzxbd ymm10, qword ptr [rbx + 8]": a.Ymm.Vpmovzxbd(10, new Mem(Gpr.Rbx, 8)); break;
            case "vpmovzxbd ymm9, qword ptr [rbx - 240]": a.Ymm.Vpmovzxbd(9, new Mem(Gpr.Rbx, -240)); break;
            case "vpor ymm9, ymm9, ymm11": a.Ymm.Vpor(9, 9, 11); break;
            case "vpor ymm10, ymm10, ymm11": a.Ymm.Vpor(10, 10, 11); break;
            case "vpslld ymm11, ymm9, 16": a.Ymm.Vpslld(11, 9, 16); break;
            case "vpslld ymm11, ymm10, 16": a.Ymm.Vpslld(11, 10, 16); break;
            case "vpaddd ymm0, ymm0, ymm14": a.Ymm.Vpaddd(0, 0, 14); break;
            case "vpaddd ymm7, ymm7, ymm14": a.Ymm.Vpaddd(7, 7, 14); break;
            case "vpmovzxbw ymm9, xmmword ptr [rax + 480]": a.Ymm.Vpmovzxbw(9, new Mem(Gpr.Rax, 480)); break;
            case "vpmovzxbw ymm10, xmmword ptr [rax + 496]": a.Ymm.Vpmovzxbw(10, new Mem(Gpr.Rax, 496)); break;
            case "vpmaddwd ymm13, ymm13, ymmword ptr [rsp + 256]": a.Ymm.Vpmaddwd(13, 13, new Mem(Gpr.Rsp, 256)); break;
            case "vpmaddwd ymm14, ymm12, ymmword ptr [rsp + 416]": a.Ymm.Vpmaddwd(14, 12, new Mem(Gpr.Rsp, 416)); break;
            case "vpsubd ymm0, ymm0, ymm14": a.Ymm.Vpsubd(0, 0, 14); break;
            case "vpsubd ymm7, ymm7, ymm14": a.Ymm.Vpsubd(7, 7, 14); break;
            case "vpmullw ymm13, ymm13, ymmword ptr [rsi + 128]": a.Ymm.Vpmullw(13, 13, new Mem(Gpr.Rsi, 128)); break;
            case "vpmovsxbd ymm14, qword ptr [rbx + 8]": a.Ymm.Vpmovsxbd(14, new Mem(Gpr.Rbx, 8)); break;
            case "vpmovsxbd ymm15, qword ptr [rbx + 24]": a.Ymm.Vpmovsxbd(15, new Mem(Gpr.Rbx, 24)); break;
            case "vpsllw ymm13, ymm12, 4": a.Ymm.Vpsllw(13, 12, 4); break;
            case "vpsllw ymm13, ymm12, 2": a.Ymm.Vpsllw(13, 12, 2); break;
            case "vpxor ymm14, ymm14, ymm14": a.Ymm.Vpxor(14, 14, 14); break;
            case "vpsrlw ymm10, ymm10, 4": a.Ymm.Vpsrlw(10, 10, 4); break;
            case "vpsrlw ymm2, ymm12, 4": a.Ymm.Vpsrlw(2, 12, 4); break;
            case "vpbroadcastd ymm13, dword ptr [r8 + 0x1608]": a.Ymm.Vpbroadcastd(13, new Mem(Gpr.R8, 0x1608)); break;
            case "vpbroadcastd ymm4, dword ptr [r9 + rdi + 8]": a.Ymm.Vpbroadcastd(4, new Mem(Gpr.R9, 8, Gpr.Rdi)); break;
            case "vbroadcastss ymm13, dword ptr [r9 + 0x2c0]": a.Ymm.Vbroadcastss(13, new Mem(Gpr.R9, 0x2c0)); break;
            case "vbroadcastss ymm13, dword ptr [r11 + 4]": a.Ymm.Vbroadcastss(13, new Mem(Gpr.R11, 4)); break;
            case "vpmaddubsw ymm14, ymm9, ymm13": a.Ymm.Vpmaddubsw(14, 9, 13); break;
            case "vpmaddubsw ymm14, ymm12, ymm13": a.Ymm.Vpmaddubsw(14, 12, 13); break;
            case "vpaddw ymm0, ymm0, ymm14": a.Ymm.Vpaddw(0, 0, 14); break;
            case "vpaddw ymm7, ymm7, ymm14": a.Ymm.Vpaddw(7, 7, 14); break;
            case "vpmaddwd ymm3, ymm3, ymm15": a.Ymm.Vpmaddwd(3, 3, 15); break;
            case "vpmaddwd ymm12, ymm12, ymm15": a.Ymm.Vpmaddwd(12, 12, 15); break;
            case "vcvtdq2ps ymm5, ymm5": a.Ymm.Vcvtdq2ps(5, 5); break;
            case "vcvtdq2ps ymm12, ymm3": a.Ymm.Vcvtdq2ps(12, 3); break;
            case "vmulps ymm6, ymm6, ymm13": a.Ymm.Vmulps(6, 6, 13); break;
            case "vmulps ymm14, ymm11, ymm13": a.Ymm.Vmulps(14, 11, 13); break;
            case "vsubps ymm11, ymm11, ymm14": a.Ymm.Vsubps(11, 11, 14); break;
            case "vsubps ymm2, ymm3, ymm4": a.Ymm.Vsubps(2, 3, 4); break;
            case "vpshufb ymm8, ymm12, ymm8": a.Ymm.Vpshufb(8, 12, 8); break;
            case "vpshufb ymm1, ymm2, ymm3": a.Ymm.Vpshufb(1, 2, 3); break;
            case "vpabsb ymm10, ymm8": a.Ymm.Vpabsb(10, 8); break;
            case "vpabsb ymm1, ymm2": a.Ymm.Vpabsb(1, 2); break;
            case "vpsignb ymm14, ymm13, ymm8": a.Ymm.Vpsignb(14, 13, 8); break;
            case "vpsignb ymm1, ymm2, ymm3": a.Ymm.Vpsignb(1, 2, 3); break;
            case "vfmadd231ps ymm14, ymm9, ymm0": a.Ymm.Vfmadd231ps(14, 9, 0); break;
            case "vfmadd231ps ymm14, ymm10, ymm7": a.Ymm.Vfmadd231ps(14, 10, 7); break;
            case "vcvtph2ps ymm9, xmmword ptr [rbx + 16]": a.Ymm.Vcvtph2ps(9, new Mem(Gpr.Rbx, 16)); break;
            case "vcvtph2ps ymm10, xmmword ptr [rbx + 48]": a.Ymm.Vcvtph2ps(10, new Mem(Gpr.Rbx, 48)); break;
            default: throw new ArgumentException(instruction);
        }
    }
}
