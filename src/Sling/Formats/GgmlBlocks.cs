using System.Runtime.Intrinsics;

namespace Sling.Formats;

/// <summary>
/// ggml's block-quantized tensor types (llama.cpp's files): each type's block size and bytes, and
/// each row as 16-value affine blocks that hold exactly the values ggml's <c>dequantize_row_*</c>
/// computes, for every type llama-quantize writes by default: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, the
/// K-quants Q2_K–Q6_K (super-blocks of 256) and IQ4_NL / IQ4_XS. (The tests decode the blocks
/// directly, as ggml does, and check these against them value for value.)
/// </summary>
internal static unsafe class GgmlBlocks
{
    public const uint Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, IQ4_NL = 20, IQ4_XS = 23;

    internal const int QK = 32, QK_K = 256;

    /// <summary>IQ4_NL's and IQ4_XS's 16 non-uniform levels.</summary>
    internal static readonly sbyte[] Iq4Levels = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

    /// <summary>(values per block, bytes per block) of a type this class decodes; null for any other.</summary>
    /// <summary>Reads one row's scale factors (<paramref name="dmin"/> and <paramref name="min"/> empty for types without mins).</summary>
    public delegate void FactorReader(byte* x, int superBlocks, Span<float> d, Span<float> dmin, Span<byte> scale, Span<byte> min);

    /// <summary>
    /// How a super-block type stores its scales factored — a float per 256 values times a byte per group
    /// (and, with mins, the same for offsets) — and the reader of one row's factors; null for the others.
    /// </summary>
    public static (int GroupSize, bool Mins, bool SignedScale, FactorReader Read)? FactorLayout(uint type) => type switch
    {
        Q4_K => (32, true, false, static (x, n, d, dmin, s, m) => Q45KFactors(Q4_K, x, n, d, dmin, s, m)),
        Q5_K => (32, true, false, static (x, n, d, dmin, s, m) => Q45KFactors(Q5_K, x, n, d, dmin, s, m)),
        Q2_K => (16, true, false, static (x, n, d, dmin, s, m) => Q2KFactors(x, n, d, dmin, s, m)),
        Q3_K => (16, false, true, static (x, n, d, _, s, _) => Q3KFactors(x, n, d, s)),
        Q6_K => (16, false, true, static (x, n, d, _, s, _) => Q6KFactors(x, n, d, s)),
        IQ4_XS => (32, false, true, static (x, n, d, _, s, _) => Iq4XsFactors(x, n, d, s)),
        _ => null,
    };

    public static (int Values, int Bytes)? Layout(uint type) => type switch
    {
        Q4_0 => (QK, 18),
        Q4_1 => (QK, 20),
        Q5_0 => (QK, 22),
        Q5_1 => (QK, 24),
        Q8_0 => (QK, 34),
        Q2_K => (QK_K, 84),
        Q3_K => (QK_K, 110),
        Q4_K => (QK_K, 144),
        Q5_K => (QK_K, 176),
        Q6_K => (QK_K, 210),
        IQ4_NL => (QK, 18),
        IQ4_XS => (QK_K, 136),
        _ => null,
    };

    internal static float Half(byte* p) => (float)*(System.Half*)p;

    /// <summary>Q3_K's sixteen 6-bit scales, packed in 12 bytes at offset 96, unpacked as ggml does (into <paramref name="aux"/>).</summary>
    internal static sbyte* Q3KScales(byte* p, uint* aux)
    {
        Buffer.MemoryCopy(p + 96, aux, 16, 12);
        const uint kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
        uint tmp = aux[2];
        aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
        aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
        aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
        aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
        return (sbyte*)aux;
    }

    /// <summary>ggml's get_scale_min_k4: the j-th 6-bit scale and min of a Q4_K/Q5_K super-block.</summary>
    internal static void ScaleMin(int j, byte* q, out int scale, out int min)
    {
        if (j < 4)
        {
            scale = q[j] & 63;
            min = q[j + 4] & 63;
        }
        else
        {
            scale = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
            min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
        }
    }


    /// <summary>
    /// A Q4_K or Q5_K row's scale factors as stored: per 256-value super-block d and dmin, per 32-value
    /// sub-block the 6-bit scale and min — value = (d·sc)·q − dmin·m, the affine form factored.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Q45KFactors(uint type, byte* x, int superBlocks, Span<float> d, Span<float> dmin, Span<byte> scale, Span<byte> min)
    {
        int bytes = type == Q5_K ? 176 : 144;
        for (int b = 0; b < superBlocks; b++)
        {
            byte* p = x + (long)b * bytes;
            d[b] = Half(p);
            dmin[b] = Half(p + 2);
            for (int j = 0; j < QK_K / 32; j++)
            {
                ScaleMin(j, p + 4, out int sc, out int m);
                scale[b * 8 + j] = (byte)sc;
                min[b * 8 + j] = (byte)m;
            }
        }
    }

    /// <summary>A Q3_K row's scale factors: per 256 values d, per 16 a signed scale sc − 32 (value = d·(sc − 32)·(q − 4)).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Q3KFactors(byte* x, int superBlocks, Span<float> d, Span<byte> scale)
    {
        uint* aux = stackalloc uint[4];
        for (int b = 0; b < superBlocks; b++)
        {
            byte* p = x + (long)b * 110;
            d[b] = Half(p + 108);
            sbyte* scales = Q3KScales(p, aux);
            for (int s = 0; s < 16; s++) scale[b * 16 + s] = (byte)(sbyte)(scales[s] - 32);
        }
    }

    /// <summary>A Q2_K row's scale factors: per 256 values d and dmin, per 16 a 4-bit scale and min (value = d·sc·q − dmin·m).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Q2KFactors(byte* x, int superBlocks, Span<float> d, Span<float> dmin, Span<byte> scale, Span<byte> min)
    {
        for (int b = 0; b < superBlocks; b++)
        {
            byte* p = x + (long)b * 84;
            d[b] = Half(p + 80);
            dmin[b] = Half(p + 82);
            for (int s = 0; s < 16; s++)
            {
                scale[b * 16 + s] = (byte)(p[s] & 0xF);
                min[b * 16 + s] = (byte)(p[s] >> 4);
            }
        }
    }

    /// <summary>An IQ4_XS row's scale factors: per 256 values d, per 32 a signed scale ls − 32 (value = d·(ls − 32)·level).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Iq4XsFactors(byte* x, int superBlocks, Span<float> d, Span<byte> scale)
    {
        for (int b = 0; b < superBlocks; b++)
        {
            byte* p = x + (long)b * 136;
            d[b] = Half(p);
            ushort high = *(ushort*)(p + 2);
            for (int ib = 0; ib < 8; ib++)
                scale[b * 8 + ib] = (byte)(sbyte)((((p[4 + ib / 2] >> (4 * (ib % 2))) & 0xF) | (((high >> (2 * ib)) & 3) << 4)) - 32);
        }
    }

    /// <summary>A Q6_K row's scale factors as stored: per 256 values d, per 16 a signed 8-bit scale (value = d·sc·(q − 32)).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Q6KFactors(byte* x, int superBlocks, Span<float> d, Span<byte> scale)
    {
        for (int b = 0; b < superBlocks; b++)
        {
            byte* p = x + (long)b * 210;
            d[b] = Half(p + 208);
            new ReadOnlySpan<byte>(p + 192, 16).CopyTo(scale.Slice(b * 16, 16));
        }
    }

    /// <summary>
    /// One row as 16-value affine blocks (value = s·(c − z) − o), the exact form of each type's decoding:
    /// <paramref name="codes"/> gets a code per value, the others one entry per 16 values.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void ToAffine(uint type, byte* x, Span<byte> codes, Span<float> scales, Span<byte> zeros, Span<float> offsets)
    {
        var (values, bytes) = Layout(type) ?? throw new ArgumentOutOfRangeException(nameof(type), type, "not a block type this decoder knows");
        int n = codes.Length;
        for (int b = 0; b < n / values; b++)
        {
            byte* p = x + (long)b * bytes;
            int v0 = b * values, k0 = v0 / 16;
            var c = codes.Slice(v0, values);
            var sc = scales.Slice(k0, values / 16);
            var z = zeros.Slice(k0, values / 16);
            var o = offsets.Slice(k0, values / 16);
            switch (type)
            {
                case Q4_0: Nibbles(p + 2, c); Uniform(sc, z, o, Half(p), 8, 0); break;
                case Q4_1: Nibbles(p + 4, c); Uniform(sc, z, o, Half(p), 0, -Half(p + 2)); break;
                case Q5_0: Nibbles(p + 6, c); HighBits(*(uint*)(p + 2), c); Uniform(sc, z, o, Half(p), 16, 0); break;
                case Q5_1: Nibbles(p + 8, c); HighBits(*(uint*)(p + 4), c); Uniform(sc, z, o, Half(p), 0, -Half(p + 2)); break;
                case Q8_0:
                    for (int j = 0; j < QK; j++) c[j] = (byte)(((sbyte*)(p + 2))[j] + 128);
                    Uniform(sc, z, o, Half(p), 128, 0);
                    break;
                case Q2_K: Q2KAffine(p, sc, z, o); SixBitCodes(type, p, c, 0); break;
                case Q3_K: Q3KAffine(p, sc, z, o); SixBitCodes(type, p, c, 4); break;
                case Q4_K: Q45KAffine(p, c, sc, z, o, five: false); break;
                case Q5_K: Q45KAffine(p, c, sc, z, o, five: true); SixBitCodes(type, p, c, 0); break;
                case Q6_K: Q6KAffine(p, sc, z, o); SixBitCodes(type, p, c, 32); break;
                case IQ4_NL: Iq4Codes(p + 2, c); Uniform(sc, z, o, Half(p), 128, 0); break;
                case IQ4_XS:
                {
                    float d = Half(p);
                    ushort high = *(ushort*)(p + 2);
                    for (int ib = 0; ib < QK_K / 32; ib++)
                    {
                        Iq4Codes(p + 8 + ib * 16, c.Slice(ib * 32, 32));
                        int ls = ((p[4 + ib / 2] >> (4 * (ib % 2))) & 0xF) | (((high >> (2 * ib)) & 3) << 4);
                        Uniform(sc.Slice(ib * 2, 2), z.Slice(ib * 2, 2), o.Slice(ib * 2, 2), d * (ls - 32), 128, 0);
                    }
                    break;
                }
            }
        }
    }

    static void Uniform(Span<float> scales, Span<byte> zeros, Span<float> offsets, float scale, byte zero, float offset)
    {
        scales.Fill(scale);
        zeros.Fill(zero);
        offsets.Fill(offset);
    }

    // A 32-value block: byte j holds value j (low nibble) and value j + 16 (high nibble).
    /// <summary>
    /// A Q5_0 block's 32 values as Q8_0's are held (<see cref="Sling.Kernels.Int8GroupMatrix"/>): code q − 16
    /// offset by 128, with the block's scale — value = d·(q − 16) exactly, in a byte per code.
    /// </summary>
    public static void Q5_0AsInt8(byte* block, Span<byte> codes)
    {
        Nibbles(block + 6, codes);
        HighBits(*(uint*)(block + 2), codes);
        for (int j = 0; j < QK; j++) codes[j] += 128 - 16;
    }

    static void Nibbles(byte* qs, Span<byte> c)
    {
        for (int j = 0; j < 16; j++)
        {
            c[j] = (byte)(qs[j] & 0x0F);
            c[j + 16] = (byte)(qs[j] >> 4);
        }
    }

    static void HighBits(uint qh, Span<byte> c)
    {
        for (int j = 0; j < 16; j++)
        {
            c[j] |= (byte)(((qh >> j) << 4) & 0x10);
            c[j + 16] |= (byte)((qh >> (j + 12)) & 0x10);
        }
    }

    // IQ4 levels −127..113 stored as level + 128.
    static void Iq4Codes(byte* qs, Span<byte> c)
    {
        for (int j = 0; j < 16; j++)
        {
            c[j] = (byte)(Iq4Levels[qs[j] & 0xF] + 128);
            c[j + 16] = (byte)(Iq4Levels[qs[j] >> 4] + 128);
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    static void Q2KAffine(byte* p, Span<float> sc, Span<byte> z, Span<float> o)
    {
        float d = Half(p + 80), min = Half(p + 82);
        for (int s = 0; s < QK_K / 16; s++)
        {
            sc[s] = d * (p[s] & 0xF);
            o[s] = min * (p[s] >> 4);
            z[s] = 0;
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    static void Q3KAffine(byte* p, Span<float> sc, Span<byte> z, Span<float> o)
    {
        // value = dl · (q − (high bit ? 0 : 4)) = dl · (c − 4) with c = q + (high bit ? 4 : 0).
        float d = Half(p + 108);
        uint* aux = stackalloc uint[4];
        sbyte* scales = Q3KScales(p, aux);
        for (int s = 0; s < QK_K / 16; s++)
        {
            sc[s] = d * (scales[s] - 32);
            z[s] = 4;
            o[s] = 0;
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    static void Q45KAffine(byte* p, Span<byte> c, Span<float> sc, Span<byte> z, Span<float> o, bool five)
    {
        float d = Half(p), min = Half(p + 2);
        byte* scales = p + 4, ql = p + 16;
        int i = 0;
        for (int j = 0, s = 0; j < QK_K; j += 64, ql += 32, s += 2)
        {
            ScaleMin(s, scales, out int sc1, out int m1);
            ScaleMin(s + 1, scales, out int sc2, out int m2);
            float d1 = d * sc1, min1 = min * m1, d2 = d * sc2, min2 = min * m2;
            for (int h = 0; h < 2; h++)
            {
                sc[2 * s + h] = d1; o[2 * s + h] = min1; z[2 * s + h] = 0;
                sc[2 * s + 2 + h] = d2; o[2 * s + 2 + h] = min2; z[2 * s + 2 + h] = 0;
            }
            if (five) continue; // Q5_K's codes come from SixBitCodes
            for (int l = 0; l < 32; l++) c[i++] = (byte)(ql[l] & 0xF);
            for (int l = 0; l < 32; l++) c[i++] = (byte)(ql[l] >> 4);
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    static void Q6KAffine(byte* p, Span<float> scales, Span<byte> z, Span<float> o)
    {
        sbyte* sc = (sbyte*)(p + 192);
        float d = Half(p + 208);
        // Sixteen values per scale: values 16·m … share sc[m].
        for (int m = 0; m < QK_K / 16; m++)
        {
            scales[m] = d * sc[m];
            z[m] = 32;
            o[m] = 0;
        }
    }

    /// <summary>One super-block's codes (code = signed code + <paramref name="zero"/>) from <see cref="SignedCodes"/>.</summary>
    static void SixBitCodes(uint type, byte* p, Span<byte> c, int zero)
    {
        fixed (byte* codes = c) SignedCodes(type, p, 1, (sbyte*)codes);
        if (zero != 0) System.Numerics.Tensors.TensorPrimitives.Add(c, (byte)zero, c);
    }

    /// <summary>
    /// The signed codes of <paramref name="superBlocks"/> K-quant super-blocks (Q2_K: q, 0..3; Q3_K: q − 4;
    /// Q5_K: q, 0..31; Q6_K: q − 32), 32 at a time with vector operations: what the interleaved layouts
    /// store, whose scales come factored from the <c>…Factors</c> readers, and, plus the zero point, the
    /// codes of <see cref="ToAffine"/> (the one decoder of these types' codes).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void SignedCodes(uint type, byte* x, int superBlocks, sbyte* codes)
    {
        var nibble = Vector256.Create((byte)0x0F);
        if (type == Q5_K)
        {
            var sixteen = Vector256.Create((byte)16);
            for (int b = 0; b < superBlocks; b++, x += 176)
            {
                var qh = Vector256.Load(x + 16);
                for (int j = 0; j < 4; j++, codes += 64)
                {
                    var q = Vector256.Load(x + 48 + 32 * j);
                    var lowBit = Vector256.Create((byte)(1 << 2 * j));
                    var highBit = Vector256.Create((byte)(2 << 2 * j));
                    var low = (q & nibble) + (Vector256.Equals(qh & lowBit, lowBit) & sixteen);
                    var high = (Vector256.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & nibble)
                               + (Vector256.Equals(qh & highBit, highBit) & sixteen);
                    low.AsSByte().Store(codes);
                    high.AsSByte().Store(codes + 32);
                }
            }
            return;
        }
        if (type is Q2_K or Q3_K)
        {
            // Q2_K: q = (qs[32n + k] >> 2j) & 3 for values 128n + 32j + k; Q3_K adds 4 when hmask[k] has
            // bit 4n + j, and its code is that minus 4.
            var three = Vector256.Create((byte)3);
            bool q3 = type == Q3_K;
            int bytes = q3 ? 110 : 84;
            for (int b = 0; b < superBlocks; b++, x += bytes)
            {
                byte* qs = q3 ? x + 32 : x + 16;
                var hmask = q3 ? Vector256.Load(x) : default;
                for (int n = 0; n < 2; n++)
                {
                    var q = Vector256.Load(qs + 32 * n).AsUInt16();
                    for (int j = 0; j < 4; j++, codes += 32)
                    {
                        var c = Vector256.ShiftRightLogical(q, 2 * j).AsByte() & three;
                        if (q3)
                        {
                            var bit = Vector256.Create((byte)(1 << (4 * n + j)));
                            c = c + (Vector256.Equals(hmask & bit, bit) & Vector256.Create((byte)4)) - Vector256.Create((byte)4);
                        }
                        c.Store((byte*)codes);
                    }
                }
            }
            return;
        }
        if (type != Q6_K) throw new ArgumentOutOfRangeException(nameof(type), type, "signed codes are decoded for Q2_K, Q3_K, Q5_K and Q6_K");
        var two = Vector256.Create((byte)0x30);
        var zero = Vector256.Create((byte)32);
        for (int b = 0; b < superBlocks; b++, x += 210)
        {
            for (int n = 0; n < 2; n++, codes += 128)
            {
                byte* ql = x + 64 * n, qh = x + 128 + 32 * n;
                var a = Vector256.Load(ql);
                var c = Vector256.Load(ql + 32);
                var h = Vector256.Load(qh).AsUInt16();
                ((a & nibble) | (Vector256.ShiftLeft(h, 4).AsByte() & two)).Store((byte*)codes);
                ((c & nibble) | (Vector256.ShiftLeft(h, 2).AsByte() & two)).Store((byte*)codes + 32);
                ((Vector256.ShiftRightLogical(a.AsUInt16(), 4).AsByte() & nibble) | (h.AsByte() & two)).Store((byte*)codes + 64);
                ((Vector256.ShiftRightLogical(c.AsUInt16(), 4).AsByte() & nibble)
                    | (Vector256.ShiftRightLogical(h, 2).AsByte() & two)).Store((byte*)codes + 96);
                for (int k = 0; k < 128; k += 32)
                    (Vector256.Load((byte*)codes + k) - zero).Store((byte*)codes + k);
            }
        }
    }
}
