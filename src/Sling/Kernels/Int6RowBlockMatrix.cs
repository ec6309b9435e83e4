using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sling.Kernels;

/// <summary>
/// llama.cpp's K-quants (Q6_K, Q5_K, Q3_K, Q2_K) in the 16-row interleaved layout (<see cref="RowBlockMatrix"/>)
/// at as few bits per code as their codes need: per 16-row block and 32-input block, the codes' low
/// four bits laid out as <see cref="Int4RowBlockMatrix"/> lays out its codes (256 bytes: vector j
/// holds, in lane r, inputs 8j..8j+3 in its low nibbles and 8j+4..8j+7 in its high nibbles), then
/// the bits above in 64-byte planes: six-bit codes ("int6", Q6_K) keep code vector m's two high bits
/// (m = 2j for the low nibbles of vector j, 2j + 1 for the high) at bits 2(m mod 4) of plane m / 4;
/// five-bit codes ("int5", Q5_K) keep its fifth bit at bit m of one plane; codes of three or four
/// bits ("int4k", Q3_K) have no plane. Two-bit codes (Q2_K) take a quarter byte each where the AVX2
/// kernels run ("int2k": 128 bytes, vector v holding in lane r inputs 16v + 4m .. 16v + 4m + 3 at
/// bits 2m, 2m + 1 — code vector 4v + m); the AVX-512 kernels, which this project's machine cannot
/// run to test a new form, keep them in the int4k layout. A signed code c (Q6_K's q − 32, Q3_K's q − 4, Q5_K's
/// and Q2_K's q) is stored as u = c + z, z the offset that makes it unsigned (32, 4, 0, 0; kept as
/// the layout's zero point), so value = s·c − o = s·u − (z·s + o). Scale factors as the file stores
/// them: per 16 values (Q6_K, Q3_K, Q2_K: each block's two halves summed apart) or per 32 (Q5_K),
/// with offsets for Q5_K and Q2_K.
/// </summary>
internal sealed unsafe class Int6RowBlockMatrix : RowBlockMatrix
{
    // Bytes of a block's low code bits: four per code (int6, int5, int4k; the planes follow) or two (int2k).
    private const int NibbleBytes = 256;
    private int LowBytes => Crumbs ? NibbleBytes / 2 : NibbleBytes;

    /// <summary>Two-bit codes in the two-bit form (int2k), four to a byte ("crumbs": pairs of bits).</summary>
    internal bool Crumbs { get; }

    /// <summary>The fewest bits (at most 6) that hold codes in [min, max], and the offset making them unsigned: 0 when none is negative, else half the range.</summary>
    internal static (int Bits, int Offset)? CodeWidth(int min, int max)
    {
        for (int bits = 1; bits <= 6; bits++)
        {
            if (min >= 0 && max < 1 << bits) return (bits, 0);
            if (min >= -(1 << (bits - 1)) && max < 1 << (bits - 1)) return (bits, 1 << (bits - 1));
        }
        return null;
    }

    private static string KindOf(int bits, bool twoBitCodes) => bits switch { 6 => "int6", 5 => "int5", <= 2 when twoBitCodes => "int2k", _ => "int4k" };
    private static int PlanesOf(string kind) => kind switch { "int6" => 2, "int5" => 1, "int4k" or "int2k" => 0, _ => throw new ArgumentException($"'{kind}' is not a K-quant layout") };

    /// <summary>Whether codes of two bits take the two-bit form by default: where the kernels are AVX2's (see the class notes).</summary>
    internal static bool TwoBitCodes => KernelIsas.Best < KernelIsa.Avx512;

    /// <summary>
    /// True when the source's codes are known to fit: signed, within six bits, with factored scales per
    /// 16 or 32 values in a form the AVX2 kernels fold into integer sums (<see cref="FoldsInIntegers"/>).
    /// </summary>
    internal static bool Holds(RepackSource m) =>
        m.SignedCodes && m.Factors is { GroupSize: 16 or 32 } f && m.SignedCodeRange is var (min, max) && CodeWidth(min, max) is { } width
        && FoldsInIntegers(f.GroupSize, f.Min != null, f.SignedScale, width.Offset);

    // The AVX2 kernels fold each group's scale byte into its integer sums, which leaves room for a code
    // offset only per half block (16-value groups with scales only: Q6_K, Q3_K) and for offsets only
    // without one (Q5_K, Q2_K: unsigned offset bytes). Every K-quant is one of these.
    private static bool FoldsInIntegers(int groupSize, bool offsets, bool signedScales, int zero) =>
        groupSize == 16 && !offsets || zero == 0 && !(offsets && signedScales);

    internal Int6RowBlockMatrix(StoredLayout shape, NativeBuffer codes, NativeBuffer scales, NativeBuffer? super, byte[]? zeros)
        : base(Folding(shape), codes, scales, super, zeros, shape.Kind) => (Planes, Crumbs) = Form(shape.Kind);

    // A layout's high-bit planes and whether its codes take two bits each; the two-bit form has AVX2
    // kernels only, which AVX-512 machines run too.
    private (int Planes, bool Crumbs) Form(string kind)
    {
        bool crumbs = kind == "int2k";
        if (crumbs) Isa = KernelIsas.WithoutAvx512(Isa);
        return (PlanesOf(kind), crumbs);
    }

    // A stored layout is checked as a repacked one is (Holds), before anything is built on it.
    private static StoredLayout Folding(StoredLayout shape) => FoldsInIntegers(shape.GroupSize, shape.FactorParts == 2, shape.SignedFactors, shape.SymmetricZero) ? shape
        : throw new ArgumentException($"a K-quant layout with groups of {shape.GroupSize}, {shape.FactorParts} factor parts and code offset {shape.SymmetricZero} is not a form the kernels fold");

    /// <summary>The source repacked; two-bit codes in the two-bit form when <paramref name="twoBitCodes"/> (by default where the kernels are AVX2's).</summary>
    internal Int6RowBlockMatrix(RepackSource m, bool? twoBitCodes = null) : this(m, Width(m), twoBitCodes ?? TwoBitCodes) { }

    private static (int Bits, int Offset) Width(RepackSource m)
    {
        if (!m.SignedCodes || m.Factors is not { GroupSize: 16 or 32 })
            throw new ArgumentException("the K-quant layout holds signed codes with factored scales per 16 or 32 values");
        if (m.SignedCodeRange is not var (min, max) || CodeWidth(min, max) is not { } width)
            throw new ArgumentException("the K-quant layout holds codes of at most six bits, known before repacking");
        if (!FoldsInIntegers(m.Factors.GroupSize, m.Factors.Min != null, m.Factors.SignedScale, width.Offset))
            throw new ArgumentException("the K-quant layout holds codes offset per 16-value group with scales only, or not offset");
        return width;
    }

    private Int6RowBlockMatrix(RepackSource m, (int Bits, int Offset) width, bool twoBitCodes) : base(m, KindOf(width.Bits, twoBitCodes))
    {
        (Planes, Crumbs) = Form(Kind);
        SymmetricZero = width.Offset;
        int blocks = Cols / BlockSize, cols = Cols, planes = Planes, blockBytes = BlockBytes, lowBytes = LowBytes;
        bool crumbs = Crumbs;
        uint mask = (uint)((1 << width.Bits) - 1) * 0x01010101u, flip = (uint)width.Offset * 0x01010101u;
        int min = -width.Offset, max = (1 << width.Bits) - 1 - width.Offset;
        byte* target = _codes;
        ForEachRowBlock(m, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (rb) =>
        {
            byte* scratch = stackalloc byte[cols];
            uint* u = stackalloc uint[8];
            const uint Low = 0x0F0F0F0F, Two = 0x03030303, One = 0x01010101;
            for (int r = 0; r < RowsPerBlock; r++)
            {
                byte* row = m.Int8RowCodes(rb * RowsPerBlock + r, scratch);
                var signed = new ReadOnlySpan<sbyte>(row, cols);
                if (System.Numerics.Tensors.TensorPrimitives.Min(signed) < min || System.Numerics.Tensors.TensorPrimitives.Max(signed) > max)
                    throw new ArgumentException($"row {rb * RowsPerBlock + r} has codes outside {min}..{max}");
                uint* words = (uint*)row; // four codes per word: word mv holds inputs 4·mv .. 4·mv + 3
                for (int b = 0; b < blocks; b++, words += 8)
                {
                    byte* block = target + ((long)rb * blocks + b) * blockBytes + r * 4;
                    // u = c + z: c's low bits, with the top one flipped when z is half the range (no carries between bytes).
                    for (int k = 0; k < 8; k++) u[k] = (words[k] & mask) ^ flip;
                    if (crumbs) // code vector 4v + m at bits 2m of vector v
                    {
                        *(uint*)block = u[0] | u[1] << 2 | u[2] << 4 | u[3] << 6;
                        *(uint*)(block + 64) = u[4] | u[5] << 2 | u[6] << 4 | u[7] << 6;
                        continue;
                    }
                    *(uint*)block = (u[0] & Low) | (u[1] & Low) << 4;
                    *(uint*)(block + 64) = (u[2] & Low) | (u[3] & Low) << 4;
                    *(uint*)(block + 128) = (u[4] & Low) | (u[5] & Low) << 4;
                    *(uint*)(block + 192) = (u[6] & Low) | (u[7] & Low) << 4;
                    if (planes == 2)
                    {
                        *(uint*)(block + lowBytes) = (u[0] >> 4 & Two) | (u[1] >> 4 & Two) << 2 | (u[2] >> 4 & Two) << 4 | (u[3] >> 4 & Two) << 6;
                        *(uint*)(block + lowBytes + 64) = (u[4] >> 4 & Two) | (u[5] >> 4 & Two) << 2 | (u[6] >> 4 & Two) << 4 | (u[7] >> 4 & Two) << 6;
                    }
                    else if (planes == 1)
                    {
                        uint plane = 0;
                        for (int k = 0; k < 8; k++) plane |= (u[k] >> 4 & One) << k;
                        *(uint*)(block + lowBytes) = plane;
                    }
                }
            }
        });
    }

    /// <summary>High-bit planes after the low four bits: 2, 1 or 0.</summary>
    internal int Planes { get; }

    // Factored scales (every K-quant here) have a VNNI kernel, for each number of planes.
    private protected override Emit.VnniKernel? VnniKernel(int stride, int blocks, int tile)
        => Vnni && !Crumbs && SixBitFold(Planes) is { } fold ? Emit.VnniKernel.For(6, Emit.VnniCodes.Unsigned, stride, blocks, 0, fold, tile) : null;

    public override string Format => SourceFormat ?? Kind;
    private protected override int BlockBytes => LowBytes + 64 * Planes;

    private protected override int CodeAt(int row, int col)
    {
        int rb = row / RowsPerBlock, r = row % RowsPerBlock, b = col / BlockSize, k = col % BlockSize;
        int mv = k / 4, i = k % 4;
        byte* block = _codes + ((long)rb * (Cols / BlockSize) + b) * BlockBytes;
        if (Crumbs) return (block[mv / 4 * 64 + r * 4 + i] >> 2 * (mv % 4) & 3) - SymmetricZero;
        byte low = block[mv / 2 * 64 + r * 4 + i];
        int high = Planes switch
        {
            2 => block[LowBytes + mv / 4 * 64 + r * 4 + i] >> 2 * (mv % 4) & 3,
            1 => block[LowBytes + r * 4 + i] >> mv & 1,
            _ => 0,
        };
        return ((mv % 2 == 0 ? low & 0xF : low >> 4) | high << 4) - SymmetricZero;
    }

    // Code vector m's high two bits moved to bits 4–5 of each byte (16-bit shifts: what crosses a
    // byte border lands outside the mask).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> High(Vector512<byte> plane, int k, Vector512<byte> mask) => k switch
    {
        0 => Vector512.ShiftLeft(plane.AsUInt16(), 4).AsByte() & mask,
        1 => Vector512.ShiftLeft(plane.AsUInt16(), 2).AsByte() & mask,
        2 => plane & mask,
        _ => Vector512.ShiftRightLogical(plane.AsUInt16(), 2).AsByte() & mask,
    };

    // Code vector m's fifth bit (bit m of the one plane) moved to bit 4.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Fifth(Vector512<byte> plane, int m, Vector512<byte> bit) => (m <= 4
        ? Vector512.ShiftLeft(plane.AsUInt16(), 4 - m) : Vector512.ShiftRightLogical(plane.AsUInt16(), m - 4)).AsByte() & bit;

    // A block's eight code vectors u (4 inputs × 16 rows each): the low four bits as the int4 layout
    // holds them (its unpack asks for those lines), then the bits of the planes the layout has.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Unpack(byte* c, int planes, Vector512<byte> nibble, out Vector512<byte> u0, out Vector512<byte> u1, out Vector512<byte> u2,
        out Vector512<byte> u3, out Vector512<byte> u4, out Vector512<byte> u5, out Vector512<byte> u6, out Vector512<byte> u7)
    {
        Int4RowBlockMatrix.Unpack(c, nibble, out u0, out u1, out u2, out u3, out u4, out u5, out u6, out u7);
        if (planes == 0) return;
        Sse.Prefetch0(c + PrefetchDistance + NibbleBytes);
        var p0 = Vector512.Load(c + NibbleBytes);
        if (planes == 1)
        {
            var bit = Vector512.Create((byte)0x10);
            u0 |= Fifth(p0, 0, bit); u1 |= Fifth(p0, 1, bit); u2 |= Fifth(p0, 2, bit); u3 |= Fifth(p0, 3, bit);
            u4 |= Fifth(p0, 4, bit); u5 |= Fifth(p0, 5, bit); u6 |= Fifth(p0, 6, bit); u7 |= Fifth(p0, 7, bit);
            return;
        }
        Sse.Prefetch0(c + PrefetchDistance + NibbleBytes + 64);
        var p1 = Vector512.Load(c + NibbleBytes + 64);
        var two = Vector512.Create((byte)0x30);
        u0 |= High(p0, 0, two); u1 |= High(p0, 1, two); u2 |= High(p0, 2, two); u3 |= High(p0, 3, two);
        u4 |= High(p1, 0, two); u5 |= High(p1, 1, two); u6 |= High(p1, 2, two); u7 |= High(p1, 3, two);
    }

    // Σ code·q of one 16-input half (code vectors 4h..4h+3 against quads 4h..4h+3): two vpmaddubsw sums
    // (each lane at most 2·63·127) fit a 16-bit lane, then vpmaddwd widens.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> HalfDot(Vector512<byte> u0, Vector512<byte> u1, Vector512<byte> u2, Vector512<byte> u3, int* quads, Vector512<short> ones)
    {
        var s0 = Avx512BW.MultiplyAddAdjacent(u0, Vector512.Create(quads[0]).AsSByte()) + Avx512BW.MultiplyAddAdjacent(u1, Vector512.Create(quads[1]).AsSByte());
        var s1 = Avx512BW.MultiplyAddAdjacent(u2, Vector512.Create(quads[2]).AsSByte()) + Avx512BW.MultiplyAddAdjacent(u3, Vector512.Create(quads[3]).AsSByte());
        return Avx512BW.MultiplyAddAdjacent(s0, ones) + Avx512BW.MultiplyAddAdjacent(s1, ones);
    }

    /// <summary>One activation row's block folded in: per group, s·d·Σ u·q − (z·s + o)·d·Σq, the two
    /// halves as groups of their own (16 values) or together (32). Halves with scales only take z·Σq
    /// out of each half's integer sum: d · (s₀·Σ₀ + s₁·Σ₁).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Fold(Vector512<float> acc, Vector512<byte> u0, Vector512<byte> u1, Vector512<byte> u2, Vector512<byte> u3,
        Vector512<byte> u4, Vector512<byte> u5, Vector512<byte> u6, Vector512<byte> u7, ActivationRow x, int b,
        Vector512<float> s0, Vector512<float> o0, Vector512<float> s1, Vector512<float> o1, bool halves, bool halfZero, Vector512<short> ones)
    {
        int* quads = (int*)(x.Codes + b * BlockSize);
        var d = Vector512.Create(x.Scales[b]);
        if (halfZero)
        {
            var low = Avx512F.ConvertToVector512Single(HalfDot(u0, u1, u2, u3, quads, ones) - Vector512.Create(x.ZeroSum(2 * b)));
            var high = Avx512F.ConvertToVector512Single(HalfDot(u4, u5, u6, u7, quads + 4, ones) - Vector512.Create(x.ZeroSum(2 * b + 1)));
            return Vector512.FusedMultiplyAdd(Vector512.FusedMultiplyAdd(s1, high, s0 * low), d, acc);
        }
        float* sums = x.GroupSums;
        var first = Avx512F.ConvertToVector512Single(HalfDot(u0, u1, u2, u3, quads, ones));
        var second = Avx512F.ConvertToVector512Single(HalfDot(u4, u5, u6, u7, quads + 4, ones));
        if (!halves) return AffineGroup(acc, s0, o0, (first + second) * d, sums, b);
        acc = AffineGroup(acc, s0, o0, first * d, sums, 2 * b);
        return AffineGroup(acc, s1, o1, second * d, sums, 2 * b + 1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private protected override void RowBlock(Weights w, Activations a, float* result, int stride)
    {
        if (Crumbs) throw new InvalidOperationException("the two-bit K-quant layout (int2k) runs on the AVX2 kernels only");
        var nibble = Vector512.Create((byte)0xF);
        var ones = Vector512<short>.One;
        var zero = Vector512.Create((float)SymmetricZero);
        int planes = Planes, blockBytes = BlockBytes;
        bool halves = w.BlocksPerGroup == 0; // groups of 16 (Q6_K, Q3_K, Q2_K) or of 32 (Q5_K)
        bool halfZero = HalfZero; // Q6_K, Q3_K: the code offset leaves the integer sums
        int tile = a.Tile, blocks = halves ? w.Groups / 2 : w.Groups;
        Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        ActivationRow x0 = a.At(0), x1 = a.At(1), x2 = a.At(2), x3 = a.At(3);
        for (int b = 0; b < blocks; b++)
        {
            Unpack(w.Codes + (long)b * blockBytes, planes, nibble, out var u0, out var u1, out var u2, out var u3, out var u4, out var u5, out var u6, out var u7);
            int g = halves ? 2 * b : b;
            var s0 = w.Scales(g);
            Vector512<float> s1 = halves ? w.Scales(g + 1) : default, o0 = default, o1 = default;
            if (!halfZero)
            {
                o0 = Vector512.FusedMultiplyAdd(s0, zero, w.Offsets(g));
                if (halves) o1 = Vector512.FusedMultiplyAdd(s1, zero, w.Offsets(g + 1));
            }
            acc0 = Fold(acc0, u0, u1, u2, u3, u4, u5, u6, u7, x0, b, s0, o0, s1, o1, halves, halfZero, ones);
            if (tile > 1) acc1 = Fold(acc1, u0, u1, u2, u3, u4, u5, u6, u7, x1, b, s0, o0, s1, o1, halves, halfZero, ones);
            if (tile > 2) acc2 = Fold(acc2, u0, u1, u2, u3, u4, u5, u6, u7, x2, b, s0, o0, s1, o1, halves, halfZero, ones);
            if (tile > 3) acc3 = Fold(acc3, u0, u1, u2, u3, u4, u5, u6, u7, x3, b, s0, o0, s1, o1, halves, halfZero, ones);
        }
        acc0.Store(result);
        if (tile > 1) acc1.Store(result + stride);
        if (tile > 2) acc2.Store(result + 2 * stride);
        if (tile > 3) acc3.Store(result + 3 * stride);
    }

    /// <summary>
    /// The layout's high-bit planes (2, 1, 0) as a constant of each compiled AVX2 kernel, so unpacking a
    /// code vector has no branch on them and the masks stay in registers (measured in one process,
    /// alternating: TinyLlama pp512 Q5_K_M 1.18–1.21×, Q3_K_M 1.08–1.13×; one row in cache Q5_K 1.10×,
    /// Q6_K 1.05×, Q3_K 1.04×; Q5_K_M generation 1.08–1.14×).
    /// </summary>
    private interface IPlanes { static abstract int Count { get; } static abstract bool Crumbs { get; } }
    private readonly struct NoPlane : IPlanes { public static int Count => 0; public static bool Crumbs => false; }
    private readonly struct OnePlane : IPlanes { public static int Count => 1; public static bool Crumbs => false; }
    private readonly struct TwoPlanes : IPlanes { public static int Count => 2; public static bool Crumbs => false; }
    private readonly struct Crumbed : IPlanes { public static int Count => 0; public static bool Crumbs => true; } // int2k

    // AVX2: 8 rows per register. Rows 8·half.. are the 32-byte halves of each 64-byte vector and plane,
    // unpacked as in the 512-bit kernel; the scale bytes fold into the integer sums (ScaledRowBlock256).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> High256(Vector256<byte> plane, int k, Vector256<byte> mask) => k switch
    {
        0 => Vector256.ShiftLeft(plane.AsUInt16(), 4).AsByte() & mask,
        1 => Vector256.ShiftLeft(plane.AsUInt16(), 2).AsByte() & mask,
        2 => plane & mask,
        _ => Vector256.ShiftRightLogical(plane.AsUInt16(), 2).AsByte() & mask,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Fifth256(Vector256<byte> plane, int m, Vector256<byte> bit) => (m <= 4
        ? Vector256.ShiftLeft(plane.AsUInt16(), 4 - m) : Vector256.ShiftRightLogical(plane.AsUInt16(), m - 4)).AsByte() & bit;

    // Stored vector j of a block's half (c: at the half) as two code vectors, their high bits merged from the planes.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Codes256(byte* c, int j, int planes, Vector256<byte> nibble, Vector256<byte> p0, Vector256<byte> p1,
        out Vector256<byte> low, out Vector256<byte> high)
    {
        Nibbles256(c + 64 * j, nibble, out low, out high);
        if (planes == 1)
        {
            var bit = Vector256.Create((byte)0x10);
            low |= Fifth256(p0, 2 * j, bit);
            high |= Fifth256(p0, 2 * j + 1, bit);
        }
        else if (planes == 2)
        {
            var two = Vector256.Create((byte)0x30);
            var p = j < 2 ? p0 : p1;
            low |= High256(p, 2 * j % 4, two);
            high |= High256(p, (2 * j + 1) % 4, two);
        }
    }

    // One stored vector's two code vectors times a row's two activation quads, 16-bit sums (at most
    // 2·63·127 per lane) added to the 32-bit sums times the group's scale words (vpmaddwd + vpaddd,
    // or AVX-VNNI's vpdpwssd).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> ScaledQuad256<TDot>(Vector256<int> sums, Vector256<byte> low, Vector256<byte> high, int* quads, int j, Vector256<short> scale) where TDot : struct, IDot256
        => TDot.Words(sums, Avx2.MultiplyAddAdjacent(low, Vector256.Create(quads[2 * j]).AsSByte()) + Avx2.MultiplyAddAdjacent(high, Vector256.Create(quads[2 * j + 1]).AsSByte()), scale);

    // One 16-value group's four code vectors (quads 2j .. 2j + 3, j even) of a block's half (c: at the
    // half): the int4k layout's stored vectors j and j + 1, or the int2k layout's vector j / 2, whose
    // code vector m sits at bits 2m (16-bit shifts: what crosses a byte border lands outside the mask).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GroupCodes256<TPlanes>(byte* c, int j, Vector256<byte> nibble,
        out Vector256<byte> low0, out Vector256<byte> high0, out Vector256<byte> low1, out Vector256<byte> high1) where TPlanes : struct, IPlanes
    {
        if (!TPlanes.Crumbs)
        {
            Codes256(c, j, 0, nibble, default, default, out low0, out high0);
            Codes256(c, j + 1, 0, nibble, default, default, out low1, out high1);
            return;
        }
        var x = Vector256.Load(c + 32 * j).AsUInt16();
        var three = Vector256.Create((byte)3);
        low0 = x.AsByte() & three;
        high0 = Vector256.ShiftRightLogical(x, 2).AsByte() & three;
        low1 = Vector256.ShiftRightLogical(x, 4).AsByte() & three;
        high1 = Vector256.ShiftRightLogical(x, 6).AsByte() & three;
    }

    // Stored vectors j and j + 1 (one 16-value group) for the tile's rows, for codes of at most four
    // bits (Q3_K, Q2_K): their four 16-bit products per row add in 16 bits (at most 4·2·15·127) before
    // one vpmaddwd by the group's scale words instead of two (measured in one process, alternating:
    // Q3_K/Q2_K tiles ~10 % faster). Five-bit codes would fit (4·2·31·127) but came out slower: two
    // vectors' unpacking from their plane at once leaves too few registers.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScaledPairs256<T, TDot, TPlanes>(Activations a, byte* c, int j, Vector256<byte> nibble,
        int* q0, int* q1, int* q2, int* q3, Vector256<short> scale, ref Vector256<int> i0, ref Vector256<int> i1, ref Vector256<int> i2, ref Vector256<int> i3)
        where T : struct, ITileRows where TDot : struct, IDot256 where TPlanes : struct, IPlanes
    {
        GroupCodes256<TPlanes>(c, j, nibble, out var low0, out var high0, out var low1, out var high1);
        i0 = PairSums256<TDot>(i0, low0, high0, low1, high1, q0, j, scale);
        if (T.Has(a, 1)) i1 = PairSums256<TDot>(i1, low0, high0, low1, high1, q1, j, scale);
        if (T.Has(a, 2)) i2 = PairSums256<TDot>(i2, low0, high0, low1, high1, q2, j, scale);
        if (T.Has(a, 3)) i3 = PairSums256<TDot>(i3, low0, high0, low1, high1, q3, j, scale);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> PairSums256<TDot>(Vector256<int> sums, Vector256<byte> low0, Vector256<byte> high0, Vector256<byte> low1, Vector256<byte> high1,
        int* quads, int j, Vector256<short> scale) where TDot : struct, IDot256
    {
        var first = Avx2.MultiplyAddAdjacent(low0, Vector256.Create(quads[2 * j]).AsSByte()) + Avx2.MultiplyAddAdjacent(high0, Vector256.Create(quads[2 * j + 1]).AsSByte());
        var second = Avx2.MultiplyAddAdjacent(low1, Vector256.Create(quads[2 * j + 2]).AsSByte()) + Avx2.MultiplyAddAdjacent(high1, Vector256.Create(quads[2 * j + 3]).AsSByte());
        return TDot.Words(sums, first + second, scale);
    }

    // Stored vector j for the tile's rows: Σ s·code·q into their 32-bit sums.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScaledQuads256<T, TDot>(Activations a, byte* c, int j, int planes, Vector256<byte> nibble, Vector256<byte> p0, Vector256<byte> p1,
        int* q0, int* q1, int* q2, int* q3, Vector256<short> scale, ref Vector256<int> i0, ref Vector256<int> i1, ref Vector256<int> i2, ref Vector256<int> i3)
        where T : struct, ITileRows where TDot : struct, IDot256
    {
        Codes256(c, j, planes, nibble, p0, p1, out var low, out var high);
        i0 = ScaledQuad256<TDot>(i0, low, high, q0, j, scale);
        if (T.Has(a, 1)) i1 = ScaledQuad256<TDot>(i1, low, high, q1, j, scale);
        if (T.Has(a, 2)) i2 = ScaledQuad256<TDot>(i2, low, high, q2, j, scale);
        if (T.Has(a, 3)) i3 = ScaledQuad256<TDot>(i3, low, high, q3, j, scale);
    }

    // A block's integer sums (less s·zero·Σq per half where the codes' offset leaves that way: one
    // vpmaddwd of the block's two half sums by the halves' scale·zero words) as floats times its activation scale.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> AddScaledBlock256(ActivationRow x, int b, Vector256<int> sum, bool halfZero, Vector256<short> zeroScales, Vector256<float> f)
    {
        if (halfZero) sum -= Avx2.MultiplyAddAdjacent(x.HalfSums256(b), zeroScales);
        return Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(sum), Vector256.Create(x.Scales[b]), f);
    }

    // A super-block's offsets: Σ_g m·(d·Σq) of its groups (zero where there are none).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> OffsetSums256(Weights w, ActivationRow x, int first, int count, int half, bool offsets)
    {
        Vector256<float> m = default;
        if (!offsets) return m;
        for (int g = first; g < first + count; g++) m = Vector256.FusedMultiplyAdd(w.OffsetFactors256(g, half), Vector256.Create(x.GroupSums[g]), m);
        return m;
    }

    // The K-quant layout with its scale bytes folded into the integer sums (AVX2): each stored vector's
    // 16-bit sums meet their group's scale bytes in the vpmaddwd that widens them (so a scale costs no
    // float operation), a block's sums become one float times its activation scale, and the
    // super-block's floats S and M join once per super-block: output += S·Σ_b d_b·Σ s·code·q − M·Σ_g m·d·Σq.
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private void ScaledRowBlock256<T, TDot, TPlanes>(Weights w, Activations a, float* result, int stride, int half) where T : struct, ITileRows where TDot : struct, IDot256 where TPlanes : struct, IPlanes
    {
        var nibble = Vector256.Create((byte)0xF);
        int planes = TPlanes.Count, blockBytes = BlockBytes, lowBytes = LowBytes;
        bool halves = w.BlocksPerGroup == 0, halfZero = HalfZero;
        int perBlock = halves ? 2 : 1, perSuper = w.GroupsPerSuper, blocks = w.Groups / perBlock;
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        ActivationRow x0 = a.At(0), x1 = a.At(1), x2 = a.At(2), x3 = a.At(3);
        for (int super = 0, b = 0; b < blocks; super++)
        {
            Vector256<float> f0 = default, f1 = default, f2 = default, f3 = default;
            for (int end = b + perSuper / perBlock; b < end; b++)
            {
                byte* c = w.Half256(b, blockBytes, half);
                Vector256<byte> p0 = planes > 0 ? Vector256.Load(c + lowBytes) : default, p1 = planes > 1 ? Vector256.Load(c + lowBytes + 64) : default;
                int g = b * perBlock, o = b * BlockSize;
                var scale0 = w.ScaleWords256(g, half);
                var scale1 = halves ? w.ScaleWords256(g + 1, half) : scale0;
                var zeroScales = halfZero ? w.ZeroScaleWords256(g, half) : default;
                int* q0 = (int*)(x0.Codes + o), q1 = (int*)(x1.Codes + o), q2 = (int*)(x2.Codes + o), q3 = (int*)(x3.Codes + o);
                Vector256<int> i0 = default, i1 = default, i2 = default, i3 = default;
                if (planes == 0)
                {
                    ScaledPairs256<T, TDot, TPlanes>(a, c, 0, nibble, q0, q1, q2, q3, scale0, ref i0, ref i1, ref i2, ref i3);
                    ScaledPairs256<T, TDot, TPlanes>(a, c, 2, nibble, q0, q1, q2, q3, scale1, ref i0, ref i1, ref i2, ref i3);
                }
                else
                {
                    ScaledQuads256<T, TDot>(a, c, 0, planes, nibble, p0, p1, q0, q1, q2, q3, scale0, ref i0, ref i1, ref i2, ref i3);
                    ScaledQuads256<T, TDot>(a, c, 1, planes, nibble, p0, p1, q0, q1, q2, q3, scale0, ref i0, ref i1, ref i2, ref i3);
                    ScaledQuads256<T, TDot>(a, c, 2, planes, nibble, p0, p1, q0, q1, q2, q3, scale1, ref i0, ref i1, ref i2, ref i3);
                    ScaledQuads256<T, TDot>(a, c, 3, planes, nibble, p0, p1, q0, q1, q2, q3, scale1, ref i0, ref i1, ref i2, ref i3);
                }
                f0 = AddScaledBlock256(x0, b, i0, halfZero, zeroScales, f0);
                if (T.Has(a, 1)) f1 = AddScaledBlock256(x1, b, i1, halfZero, zeroScales, f1);
                if (T.Has(a, 2)) f2 = AddScaledBlock256(x2, b, i2, halfZero, zeroScales, f2);
                if (T.Has(a, 3)) f3 = AddScaledBlock256(x3, b, i3, halfZero, zeroScales, f3);
            }
            FoldSuper256<T>(w, a, x0, x1, x2, x3, super, super * perSuper, (super + 1) * perSuper, half, f0, f1, f2, f3, ref acc0, ref acc1, ref acc2, ref acc3);
        }
        Store256(a, result, stride, acc0, acc1, acc2, acc3);
    }

    // The tile kernel compiled for this layout's planes.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ScaledRowBlock256Planes<T, TDot>(Weights w, Activations a, float* result, int stride, int half) where T : struct, ITileRows where TDot : struct, IDot256
    {
        switch (Planes)
        {
            case 0 when Crumbs: ScaledRowBlock256<T, TDot, Crumbed>(w, a, result, stride, half); break;
            case 0: ScaledRowBlock256<T, TDot, NoPlane>(w, a, result, stride, half); break;
            case 1: ScaledRowBlock256<T, TDot, OnePlane>(w, a, result, stride, half); break;
            default: ScaledRowBlock256<T, TDot, TwoPlanes>(w, a, result, stride, half); break;
        }
    }

    // Stored vector j of a block for one activation row, both halves (the row's quads are loaded once
    // for the 16 rows: the JIT takes the second half's broadcasts from the first's).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void QuadBoth256One<TDot>(byte* block, int j, int planes, Vector256<byte> nibble, Vector256<byte> planeL, Vector256<byte> planeH,
        int* q, Vector256<short> scaleL, Vector256<short> scaleH, ref Vector256<int> low, ref Vector256<int> high) where TDot : struct, IDot256
    {
        Codes256(block, j, planes, nibble, planeL, planeL, out var lowL, out var highL);
        low = ScaledQuad256<TDot>(low, lowL, highL, q, j, scaleL);
        Codes256(block + 32, j, planes, nibble, planeH, planeH, out var lowH, out var highH);
        high = ScaledQuad256<TDot>(high, lowH, highH, q, j, scaleH);
    }

    // Stored vectors j and j + 1 for one row, both halves, for codes of at most four bits (Q3_K, Q2_K):
    // each half's four byte products added in 16 bits before one vpmaddwd by its scale words
    // (PairSums256; five-bit codes this way measured slower: 0.77×).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PairBoth256One<TDot, TPlanes>(byte* block, int j, Vector256<byte> nibble,
        int* q, Vector256<short> scaleL, Vector256<short> scaleH, ref Vector256<int> low, ref Vector256<int> high) where TDot : struct, IDot256 where TPlanes : struct, IPlanes
    {
        GroupCodes256<TPlanes>(block, j, nibble, out var low0, out var high0, out var low1, out var high1);
        low = PairSums256<TDot>(low, low0, high0, low1, high1, q, j, scaleL);
        GroupCodes256<TPlanes>(block + 32, j, nibble, out low0, out high0, out low1, out high1);
        high = PairSums256<TDot>(high, low0, high0, low1, high1, q, j, scaleH);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // dispatch
    private protected override void RowBlock256(Weights w, Activations a, float* result, int stride, int half)
    {
        if (a.Tile == Tile) RowBlock256<FullTile>(w, a, result, stride, half);
        else RowBlock256<PartialTile>(w, a, result, stride, half);
    }

    // The dot products of Isa: AVX2's, or AVX-VNNI's (in their AVX2 form where the CPU lacks them).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void RowBlock256<T>(Weights w, Activations a, float* result, int stride, int half) where T : struct, ITileRows
    {
        if (Isa != KernelIsa.AvxVnni) ScaledRowBlock256Planes<T, Avx2Dot>(w, a, result, stride, half);
        else if (AvxVnni.IsSupported) ScaledRowBlock256Planes<T, VnniDot>(w, a, result, stride, half);
        else ScaledRowBlock256Planes<T, VnniForm>(w, a, result, stride, half);
    }

    // Q6_K's blocks (two high-bit planes, signed scale bytes per 16 values, the code offset 32), Q3_K's
    // (no plane, the code offset 4), Q5_K's (one plane, unsigned scale and offset bytes per block) and
    // Q2_K's (no plane, unsigned scale and offset bytes per 16 values) have assembled AVX2 tile kernels
    // that take both halves in one pass; other tiles run the half passes.
    private protected override Emit.Avx2TileBlocks? Avx2Blocks(Weights w, Activations a)
        => HalfZero && w.SignedFactors && !w.HasOffsetFactors && w.GroupsPerSuper == 16 && a.HalfPairs(0) != null
           && (Planes, SymmetricZero) is (2, 32) or (0, 4)
            ? Planes == 2 ? Emit.Avx2TileBlocks.Int6Halves : Emit.Avx2TileBlocks.Int3Halves
        : Planes == 1 && SymmetricZero == 0 && !w.SignedFactors && w.HasOffsetFactors && w.BlocksPerGroup == 1 && w.GroupsPerSuper == 8 && a.Groups == a.Blocks
            ? Emit.Avx2TileBlocks.Int5Factored
        : Planes == 0 && SymmetricZero == 0 && !HalfZero && !w.SignedFactors && w.HasOffsetFactors && w.BlocksPerGroup == 0 && w.GroupsPerSuper == 16
           && a.Groups == 2 * a.Blocks && a.GroupSums(0) != null
            ? Crumbs ? Emit.Avx2TileBlocks.Int2Packed : Emit.Avx2TileBlocks.Int2Factored : null;

    private protected override bool RowBlock256Both(Weights w, Activations a, float* result, int stride, int count) => RunAssembled(w, a, result, stride, count);

    private protected override bool RowBlock256One(Weights w, Activations a, float* result, int count)
    {
        if (Isa != KernelIsa.AvxVnni) RowBlock256One<Avx2Dot>(w, a, result, count);
        else if (AvxVnni.IsSupported) RowBlock256One<VnniDot>(w, a, result, count);
        else RowBlock256One<VnniForm>(w, a, result, count);
        return true;
    }

    // The one-row kernel compiled for this layout's planes and llama.cpp's form of its scales.
    private void RowBlock256One<TDot>(Weights w, Activations a, float* result, int count) where TDot : struct, IDot256
    {
        bool halves = w.BlocksPerGroup == 0, halfZero = HalfZero, signed = w.SignedFactors, offsets = w.HasOffsetFactors;
        if (halves && halfZero && signed && !offsets) RowBlock256One<TDot, ScaleHalves>(w, a, result, count);
        else if (halves && !halfZero && !signed && offsets) RowBlock256One<TDot, OffsetHalves>(w, a, result, count);
        else if (!halves && !halfZero && !signed && offsets) RowBlock256One<TDot, OffsetBlocks>(w, a, result, count);
        else RowBlock256One<TDot, AnyFold>(w, a, result, count);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void RowBlock256One<TDot, TFold>(Weights w, Activations a, float* result, int count) where TDot : struct, IDot256 where TFold : struct, IFold
    {
        switch (Planes)
        {
            case 0 when Crumbs: RowBlocks256One<TDot, Crumbed, TFold>(w, a, result, count); break;
            case 0: RowBlocks256One<TDot, NoPlane, TFold>(w, a, result, count); break;
            case 1: RowBlocks256One<TDot, OnePlane, TFold>(w, a, result, count); break;
            default: RowBlocks256One<TDot, TwoPlanes, TFold>(w, a, result, count); break;
        }
    }

    /// <summary>
    /// How a layout's scales fold, as constants of each compiled one-row kernel for llama.cpp's forms
    /// (no test per group on what the weights hold): Q6_K's and Q3_K's signed scale bytes per 16 values
    /// with the code offset per half block, Q2_K's unsigned scale and offset bytes per 16 values, Q5_K's
    /// per 32; any other form reads them from the weights. Measured in one process against reading
    /// every form from the weights (alternating every 8 generated tokens, TinyLlama): Q2_K 1.21×,
    /// Q3_K_M 1.13×, Q5_K_M 1.12×, Q4_K_M 1.04× (its Q6_K tensors).
    /// </summary>
    private interface IFold
    {
        static abstract bool Halves(in Weights w);
        static abstract bool HalfZero(bool halfZero);
        static abstract bool Signed(in Weights w);
        static abstract bool Offsets(in Weights w);
    }

    private readonly struct ScaleHalves : IFold
    {
        public static bool Halves(in Weights w) => true;
        public static bool HalfZero(bool halfZero) => true;
        public static bool Signed(in Weights w) => true;
        public static bool Offsets(in Weights w) => false;
    }

    private readonly struct OffsetHalves : IFold
    {
        public static bool Halves(in Weights w) => true;
        public static bool HalfZero(bool halfZero) => false;
        public static bool Signed(in Weights w) => false;
        public static bool Offsets(in Weights w) => true;
    }

    private readonly struct OffsetBlocks : IFold
    {
        public static bool Halves(in Weights w) => false;
        public static bool HalfZero(bool halfZero) => false;
        public static bool Signed(in Weights w) => false;
        public static bool Offsets(in Weights w) => true;
    }

    private readonly struct AnyFold : IFold
    {
        public static bool Halves(in Weights w) => w.BlocksPerGroup == 0;
        public static bool HalfZero(bool halfZero) => halfZero;
        public static bool Signed(in Weights w) => w.SignedFactors;
        public static bool Offsets(in Weights w) => w.HasOffsetFactors;
    }

    // The tile kernel for one activation row (generation), a range's row blocks in one call: both halves
    // of each stored vector in the same step, each broadcast serving the 16 rows (the integer sums are
    // the tile's, so a row gives the same bits alone or in a tile). Measured in one process against the
    // half-by-half form it replaced: one row in cache Q5_K 52 → 58–64 GOP/s, Q6_K 42–43 → 45–46, Q3_K
    // 54 → 72; TinyLlama Q5_K_M generation 1.20–1.31× (per token, alternating).
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private void RowBlocks256One<TDot, TPlanes, TFold>(Weights w, Activations a, float* result, int count) where TDot : struct, IDot256 where TPlanes : struct, IPlanes where TFold : struct, IFold
    {
        var nibble = Vector256.Create((byte)0xF);
        int planes = TPlanes.Count, blockBytes = BlockBytes, lowBytes = LowBytes;
        bool halves = TFold.Halves(w), halfZero = TFold.HalfZero(HalfZero), signed = TFold.Signed(w), offsets = TFold.Offsets(w);
        int perBlock = halves ? 2 : 1, perSuper = w.GroupsPerSuper, blocks = w.Groups / perBlock;
        var x = a.At(0);
        for (int k = 0; k < count; k++, w = w.Next(), result += RowsPerBlock)
        {
            Vector256<float> low = default, high = default;
            for (int super = 0, b = 0; b < blocks; super++)
            {
                Vector256<float> fLow = default, fHigh = default;
                for (int end = b + perSuper / perBlock; b < end; b++)
                {
                    byte* block = w.Half256(b, blockBytes, 0);
                    int g = b * perBlock;
                    int* q = (int*)(x.Codes + b * BlockSize);
                    var scaleL0 = w.ScaleWords256(g, 0, signed);
                    var scaleL1 = halves ? w.ScaleWords256(g + 1, 0, signed) : scaleL0;
                    var scaleH0 = w.ScaleWords256(g, 1, signed);
                    var scaleH1 = halves ? w.ScaleWords256(g + 1, 1, signed) : scaleH0;
                    Vector256<int> sumL = default, sumH = default;
                    if (planes == 0)
                    {
                        PairBoth256One<TDot, TPlanes>(block, 0, nibble, q, scaleL0, scaleH0, ref sumL, ref sumH);
                        PairBoth256One<TDot, TPlanes>(block, 2, nibble, q, scaleL1, scaleH1, ref sumL, ref sumH);
                    }
                    else
                    {
                        // Q5_K's one plane serves the four vectors; Q6_K's second serves vectors 2 and 3.
                        Vector256<byte> planeL = Vector256.Load(block + lowBytes), planeH = Vector256.Load(block + 32 + lowBytes);
                        QuadBoth256One<TDot>(block, 0, planes, nibble, planeL, planeH, q, scaleL0, scaleH0, ref sumL, ref sumH);
                        QuadBoth256One<TDot>(block, 1, planes, nibble, planeL, planeH, q, scaleL0, scaleH0, ref sumL, ref sumH);
                        if (planes == 2)
                        {
                            planeL = Vector256.Load(block + lowBytes + 64);
                            planeH = Vector256.Load(block + 32 + lowBytes + 64);
                        }
                        QuadBoth256One<TDot>(block, 2, planes, nibble, planeL, planeH, q, scaleL1, scaleH1, ref sumL, ref sumH);
                        QuadBoth256One<TDot>(block, 3, planes, nibble, planeL, planeH, q, scaleL1, scaleH1, ref sumL, ref sumH);
                    }
                    fLow = AddScaledBlock256(x, b, sumL, halfZero, halfZero ? w.ZeroScaleWords256(g, 0, signed) : default, fLow);
                    fHigh = AddScaledBlock256(x, b, sumH, halfZero, halfZero ? w.ZeroScaleWords256(g, 1, signed) : default, fHigh);
                }
                int first = super * perSuper;
                low = AffineGroup256(low, w.SuperFactors256(super, 0, 0), w.SuperFactors256(super, 1, 0), fLow, OffsetSums256(w, x, first, perSuper, 0, offsets));
                high = AffineGroup256(high, w.SuperFactors256(super, 0, 1), w.SuperFactors256(super, 1, 1), fHigh, OffsetSums256(w, x, first, perSuper, 1, offsets));
            }
            low.Store(result);
            high.Store(result + RowsPerBlock / 2);
        }
    }
}
