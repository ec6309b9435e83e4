using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sling.Kernels;

/// <summary>
/// The integer dot-product steps of the 256-bit row-block kernels, one operator per instruction set
/// (as ggml gives each path its own <c>vec_dot</c>), so the kernels are written once: AVX2's
/// <c>vpmaddubsw</c>/<c>vpmaddwd</c> (<see cref="Avx2Dot"/>), AVX-VNNI's fused <c>vpdpbusd</c>/<c>vpdpwssd</c>
/// (<see cref="VnniDot"/>), and the same two instructions written exactly with AVX2 operations
/// (<see cref="VnniForm"/>), which runs the VNNI kernels on any AVX2 machine so tests check them there.
/// </summary>
internal interface IDot256
{
    /// <summary>
    /// A block's running sums plus Σ u·s over each 32-bit lane's four byte pairs (u unsigned, s signed).
    /// AVX2 keeps 16-bit sums of adjacent pairs until <see cref="Finish"/>: exact for codes of at most
    /// 4 bits, which is all the kernels give it (eight products of 15·128 stay within 16 bits).
    /// </summary>
    static abstract Vector256<int> Bytes(Vector256<int> sums, Vector256<byte> u, Vector256<sbyte> s);

    /// <summary>A block's <see cref="Bytes"/> sums as one 32-bit sum per lane (<paramref name="ones"/>: 16-bit ones, which the caller keeps in a register).</summary>
    static abstract Vector256<int> Finish(Vector256<int> sums, Vector256<short> ones);

    /// <summary><see cref="Finish"/> times 16-bit scales, each held twice in its 32-bit lane.</summary>
    static abstract Vector256<int> FinishScaled(Vector256<int> sums, Vector256<short> scales);

    /// <summary>sums plus Σ a·b over each 32-bit lane's two 16-bit pairs.</summary>
    static abstract Vector256<int> Words(Vector256<int> sums, Vector256<short> a, Vector256<short> b);
}

/// <summary>AVX2: <c>vpmaddubsw</c> into 16-bit sums, widened by <c>vpmaddwd</c> once per block.</summary>
internal readonly struct Avx2Dot : IDot256
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Bytes(Vector256<int> sums, Vector256<byte> u, Vector256<sbyte> s)
        => (sums.AsInt16() + Avx2.MultiplyAddAdjacent(u, s)).AsInt32(); // 16-bit adds wrap: any order, same bits

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Finish(Vector256<int> sums, Vector256<short> ones) => Avx2.MultiplyAddAdjacent(sums.AsInt16(), ones);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> FinishScaled(Vector256<int> sums, Vector256<short> scales) => Avx2.MultiplyAddAdjacent(sums.AsInt16(), scales);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Words(Vector256<int> sums, Vector256<short> a, Vector256<short> b) => sums + Avx2.MultiplyAddAdjacent(a, b);
}

/// <summary>AVX-VNNI: byte and word products added straight into 32-bit sums (<c>vpdpbusd</c>, <c>vpdpwssd</c>).</summary>
internal readonly struct VnniDot : IDot256
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Bytes(Vector256<int> sums, Vector256<byte> u, Vector256<sbyte> s) => AvxVnni.MultiplyWideningAndAdd(sums, u, s);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Finish(Vector256<int> sums, Vector256<short> ones) => sums;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> FinishScaled(Vector256<int> sums, Vector256<short> scales) => Avx2.MultiplyLow(sums, VnniForm.LowWords(scales));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Words(Vector256<int> sums, Vector256<short> a, Vector256<short> b) => AvxVnni.MultiplyWideningAndAdd(sums, a, b);
}

/// <summary>
/// <see cref="VnniDot"/>'s instructions written exactly with AVX2 operations (no 16-bit step that
/// could saturate): the VNNI kernels' every other operation runs, and is tested, on AVX2 machines.
/// </summary>
internal readonly struct VnniForm : IDot256
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Bytes(Vector256<int> sums, Vector256<byte> u, Vector256<sbyte> s)
    {
        // Bytes 0 and 2 of each lane as 16-bit words, then bytes 1 and 3: two vpmaddwd cover the four.
        var uw = u.AsInt16();
        var sw = s.AsInt16();
        var evenU = uw & Vector256.Create((short)0xFF);
        var oddU = Avx2.ShiftRightLogical(uw, 8);
        var evenS = Avx2.ShiftRightArithmetic(Avx2.ShiftLeftLogical(sw, 8), 8);
        var oddS = Avx2.ShiftRightArithmetic(sw, 8);
        return sums + Avx2.MultiplyAddAdjacent(evenU, evenS) + Avx2.MultiplyAddAdjacent(oddU, oddS);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Finish(Vector256<int> sums, Vector256<short> ones) => sums;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> FinishScaled(Vector256<int> sums, Vector256<short> scales) => Avx2.MultiplyLow(sums, LowWords(scales));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Words(Vector256<int> sums, Vector256<short> a, Vector256<short> b) => sums + Avx2.MultiplyAddAdjacent(a, b);

    /// <summary>Each 32-bit lane's low 16-bit word, sign-extended.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> LowWords(Vector256<short> words)
        => Avx2.ShiftRightArithmetic(Avx2.ShiftLeftLogical(words.AsInt32(), 16), 16);
}
