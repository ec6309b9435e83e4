using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Sling.Kernels;

/// <summary>
/// IEEE half → float without a lookup or a per-element call (a <c>(float)half</c> cast is a software
/// routine in .NET): move exponent and mantissa into float position (&lt;&lt; 13), multiply by 2^112 to
/// re-bias the exponent (127 − 15), which also turns half subnormals into the right floats, the
/// sign kept. Inf/NaN come out as large finite numbers; weights and scales hold none.
/// </summary>
internal static unsafe class HalfConversion
{
    private const float Rebias = 5.192296858534828E+33f; // 2^112

    /// <summary>
    /// Eight halves sign-extended to 32 bits (the widening load does it): after &lt;&lt; 13 the sign's
    /// copies fill bits 28–31, and one mask keeps bit 31 as the float's sign beside exponent and
    /// mantissa, so the product by 2^112 carries it (three operations where zero-extended halves took six).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Widen(Vector256<int> h)
        => (Vector256.ShiftLeft(h, 13) & Vector256.Create(unchecked((int)0x8FFFE000))).AsSingle() * Vector256.Create(Rebias);

    /// <summary>16 halves at once: one widening load and the same four steps on a whole 512-bit vector
    /// (two 256-bit conversions and an insert cost twice the instructions, per group in the kernels).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Widen16(Half* source)
    {
        var h = System.Runtime.Intrinsics.X86.Avx512F.ConvertToVector512UInt32(Vector256.Load((ushort*)source));
        var magnitude = Vector512.ShiftLeft(h & Vector512.Create(0x7FFFu), 13).AsSingle() * Vector512.Create(Rebias);
        return (magnitude.AsUInt32() | Vector512.ShiftLeft(h & Vector512.Create(0x8000u), 16)).AsSingle();
    }

    /// <summary>destination[i] = (float)source[i] for i &lt; count.</summary>
    public static void ToSingle(Half* source, float* destination, int count)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i <= count - 8; i += 8)
                Widen(Vector256.WidenLower(Vector128.Load((short*)source + i).ToVector256Unsafe())).Store(destination + i);
        for (; i < count; i++) destination[i] = (float)source[i];
    }
}
