using System.Numerics.Tensors;
using System.Runtime.Intrinsics.X86;

namespace Sling.Kernels.Emit;

/// <summary>
/// fp16 → fp32 by the CPU's own conversion, <c>vcvtph2ps</c>, 16 values per instruction. .NET 10
/// widens <see cref="Half"/> in software (TensorPrimitives.ConvertToSingle: ~0.18 ns per value from
/// L1 on this machine), which made an fp16 key/value cache slower to read than an fp32 one; the
/// instruction exists on every AVX-512 CPU (and F16C ones), but .NET exposes no intrinsic for it, so
/// the loop is assembled once with <see cref="X64Assembler"/>. Where it is not available (not 64-bit
/// Linux, no AVX-512, SLING_NO_ASSEMBLED_KERNELS set) TensorPrimitives converts.
/// </summary>
internal static unsafe class HalfWidening
{
    private static readonly delegate* unmanaged<Half*, float*, long, void> Entry = Load();

    /// <summary>True when the assembled loop runs here.</summary>
    public static bool Available => Entry != null;

    private static delegate* unmanaged<Half*, float*, long, void> Load() =>
        ExecutableCode.Allowed && Avx512F.IsSupported ? (delegate* unmanaged<Half*, float*, long, void>)ExecutableCode.Load(Assemble()) : null;

    /// <summary>
    /// The loop (System V: rdi the halves, rsi the floats, rdx the count of 16-value vectors, at least 1):
    /// widen 16 halves, store them, advance, until the count runs out.
    /// </summary>
    internal static byte[] Assemble()
    {
        var a = new X64Assembler();
        int loop = a.Position;
        a.Vcvtph2ps(0, new Mem(Gpr.Rdi));
        a.Vmovups(new Mem(Gpr.Rsi), 0);
        a.Add(Gpr.Rdi, 16 * sizeof(ushort));
        a.Add(Gpr.Rsi, 16 * sizeof(float));
        a.Dec(Gpr.Rdx);
        a.JnzBack(loop);
        a.Vzeroupper();
        a.Ret();
        return a.ToArray();
    }

    /// <summary>destination[i] = (float)source[i] for every i of <paramref name="source"/>; the same values as .NET's conversion (NaNs stay NaN).</summary>
    public static void ToSingle(ReadOnlySpan<Half> source, Span<float> destination)
    {
        if (destination.Length < source.Length) throw new ArgumentException($"{destination.Length} floats cannot hold {source.Length} halves", nameof(destination));
        int whole = Entry == null ? 0 : source.Length & ~15;
        if (whole > 0)
            fixed (Half* s = source)
            fixed (float* d = destination)
                Entry(s, d, whole / 16);
        if (whole < source.Length) TensorPrimitives.ConvertToSingle(source[whole..], destination[whole..]);
    }
}
