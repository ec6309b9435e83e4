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
    /// <summary>AVX-512 F + BW: 512-bit vectors.</summary>
    Avx512,
}

internal static class KernelIsas
{
    /// <summary>The widest path this CPU runs.</summary>
    public static KernelIsa Best { get; } =
        Avx512F.IsSupported && Avx512BW.IsSupported ? KernelIsa.Avx512
        : Avx2.IsSupported && Fma.IsSupported ? KernelIsa.Avx2
        : Vector128.IsHardwareAccelerated ? KernelIsa.Vector128
        : KernelIsa.Scalar;

    /// <summary>The widest path, and whether the assembled VNNI kernels run beside it, as benchmarks print it.</summary>
    public static string Description => $"{Best}{(Emit.VnniKernel.Available ? " + VNNI (assembled)" : "")}";

    /// <summary>The paths this CPU can run, narrowest first.</summary>
    public static IReadOnlyList<KernelIsa> Available { get; } = Enum.GetValues<KernelIsa>().Where(i => i <= Best).ToArray();
}
