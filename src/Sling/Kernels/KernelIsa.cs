using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sling.Kernels;

/// <summary>Which SIMD code path a kernel runs; tests pin each one so every path is checked on any machine.</summary>
public enum KernelIsa
{
    /// <summary>Plain loops: the reference every other path is checked against.</summary>
    Scalar,
    /// <summary>Portable 128-bit vectors (SSE, NEON, WebAssembly SIMD).</summary>
    Vector128,
    /// <summary>AVX2 + FMA: 256-bit vectors, <c>vpmaddubsw</c>/<c>vpmaddwd</c> integer dot products.</summary>
    Avx2,
    /// <summary>
    /// AVX2 with AVX-VNNI (Intel since Alder Lake, without AVX-512): the 256-bit row-block kernels with
    /// <c>vpdpbusd</c>/<c>vpdpwssd</c>, which add byte and word products straight into 32-bit sums.
    /// Other kernels run their AVX2 form.
    /// </summary>
    AvxVnni,
    /// <summary>AVX-512 F + BW: 512-bit vectors.</summary>
    Avx512,
}

internal static class KernelIsas
{
    /// <summary>The widest path this CPU runs.</summary>
    public static KernelIsa Best { get; } = Enum.GetValues<KernelIsa>().Last(Runs);

    /// <summary>The widest path, and whether the assembled VNNI kernels run beside it, as benchmarks print it.</summary>
    public static string Description => $"{Best}{(Emit.VnniKernel.Available ? " + VNNI (assembled)" : "")}";

    /// <summary>The paths this CPU can run, narrowest first.</summary>
    public static IReadOnlyList<KernelIsa> Available { get; } = Enum.GetValues<KernelIsa>().Where(Runs).ToArray();

    /// <summary>Whether this CPU has the instructions of <paramref name="isa"/>.</summary>
    public static bool Runs(KernelIsa isa) => isa switch
    {
        KernelIsa.Scalar => true,
        KernelIsa.Vector128 => Vector128.IsHardwareAccelerated,
        KernelIsa.Avx2 => Avx2.IsSupported && Fma.IsSupported,
        KernelIsa.AvxVnni => Avx2.IsSupported && Fma.IsSupported && AvxVnni.IsSupported,
        KernelIsa.Avx512 => Avx512F.IsSupported && Avx512BW.IsSupported,
        _ => false,
    };

    /// <summary>
    /// The path a kernel without an AVX-VNNI form runs for <paramref name="isa"/>: its AVX2 form (AVX-VNNI
    /// changes only the row-block kernels' integer dot products).
    /// </summary>
    public static KernelIsa WithoutVnni(KernelIsa isa) => isa == KernelIsa.AvxVnni ? KernelIsa.Avx2 : isa;

    /// <summary>The path a layout without AVX-512 kernels runs for <paramref name="isa"/>: AVX2's (with AVX-VNNI's dot products where the CPU has them).</summary>
    public static KernelIsa WithoutAvx512(KernelIsa isa) => isa == KernelIsa.Avx512 ? (Runs(KernelIsa.AvxVnni) ? KernelIsa.AvxVnni : KernelIsa.Avx2) : isa;
}
