using System.Runtime.Intrinsics.X86;

namespace Sling.Kernels;

/// <summary>Which SIMD code path a kernel runs; tests pin each one so every path is checked on any machine.</summary>
public enum KernelIsa { Scalar, Avx2, Avx512 }

public static class KernelIsas
{
    /// <summary>The widest path this CPU runs.</summary>
    public static KernelIsa Best { get; } = Avx512F.IsSupported ? KernelIsa.Avx512 : Avx2.IsSupported && Fma.IsSupported ? KernelIsa.Avx2 : KernelIsa.Scalar;

    /// <summary>The paths this CPU can run, narrowest first.</summary>
    public static IReadOnlyList<KernelIsa> Available { get; } = Enum.GetValues<KernelIsa>().Where(i => i <= Best).ToArray();
}
