using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Sling.Kernels;

/// <summary>
/// e^x for 16 (or 8) floats in single precision, for softmax weights: x = n·ln 2 + r with |r| ≤ ln 2 / 2 (ln 2
/// in two parts, so r is exact to float precision), e^r by a degree-7 polynomial (the Cephes
/// library's coefficients for expf), and 2^n put straight into the exponent bits. Within 2 ulp of
/// e^x (tested against double precision) up to x = 88 (larger x give e^88; softmax takes x ≤ 0);
/// 0 at and below −87.3, where a float's smallest normal lies, and for −∞, so a weight that should
/// vanish is an exact zero. .NET's own vector exponential
/// widens to double and took most of the attention tile's softmax time.
/// </summary>
internal static class VectorExp
{
    private const float Low = -87.33654f, High = 88f;
    // log2 e; ln 2 in two parts (the high part exact in few bits, so n·ln 2 is exact); the Cephes expf polynomial.
    private const float Log2E = 1.44269504088896341f, Ln2High = 0.693359375f, Ln2Low = 2.12194440e-4f;
    private const float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f, P3 = 4.1665795894e-2f, P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;

    /// <summary>e^x for 16 floats: the 8-float form on each half (the same bits per lane; written once).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x) => Vector512.Create(Exp(x.GetLower()), Exp(x.GetUpper()));

    /// <summary>e^x for 8 floats (as the class describes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var clamped = Vector256.Min(Vector256.Max(x, Vector256.Create(Low)), Vector256.Create(High));
        var n = Vector256.Round(clamped * Vector256.Create(Log2E));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2High), clamped);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(Ln2Low), r);
        var p = Vector256.Create(P0);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P1));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P2));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P3));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P4));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P5));
        p = Vector256.FusedMultiplyAdd(p, r * r, r) + Vector256<float>.One;
        // 2^n: n + 127 in the exponent field (n within −126..127).
        var e = p * Vector256.ShiftLeft(Vector256.ConvertToInt32(n) + Vector256.Create(127), 23).AsSingle();
        return Vector256.ConditionalSelect(Vector256.LessThanOrEqual(x, Vector256.Create(Low)), Vector256<float>.Zero, e);
    }
}
