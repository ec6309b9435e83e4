using Sling.Formats;
using static Sling.Formats.GgmlBlocks;

namespace Sling.Tests.Support;

/// <summary>
/// ggml's <c>dequantize_row_*</c> for each block type, written directly (the same float operations in
/// the same order as ggml): the independent truth the engine's affine form of the blocks is checked
/// against, value for value.
/// </summary>
internal static unsafe class GgmlReference
{
    /// <summary>Decodes <paramref name="y"/>.Length values (whole blocks) starting at <paramref name="x"/>.</summary>
    public static void DecodeRow(uint type, byte* x, Span<float> y)
    {
        var (values, bytes) = Layout(type) ?? throw new ArgumentOutOfRangeException(nameof(type), type, "not a block type this decoder knows");
        if (y.Length % values != 0) throw new ArgumentException($"{y.Length} values are not whole blocks of {values}", nameof(y));
        for (int b = 0; b < y.Length / values; b++)
        {
            var block = y.Slice(b * values, values);
            byte* p = x + (long)b * bytes;
            switch (type)
            {
                case Q4_0: Q40(p, block); break;
                case Q4_1: Q41(p, block); break;
                case Q5_0: Q50(p, block); break;
                case Q5_1: Q51(p, block); break;
                case Q8_0: Q80(p, block); break;
                case Q2_K: Q2K(p, block); break;
                case Q3_K: Q3K(p, block); break;
                case Q4_K: Q4K(p, block); break;
                case Q5_K: Q5K(p, block); break;
                case Q6_K: Q6K(p, block); break;
                case IQ4_NL: Iq4Nl(p, block); break;
                case IQ4_XS: Iq4Xs(p, block); break;
            }
        }
    }

    static void Q40(byte* p, Span<float> y)
    {
        float d = Half(p);
        byte* qs = p + 2;
        for (int j = 0; j < 16; j++)
        {
            y[j] = ((qs[j] & 0x0F) - 8) * d;
            y[j + 16] = ((qs[j] >> 4) - 8) * d;
        }
    }

    static void Q41(byte* p, Span<float> y)
    {
        float d = Half(p), m = Half(p + 2);
        byte* qs = p + 4;
        for (int j = 0; j < 16; j++)
        {
            y[j] = (qs[j] & 0x0F) * d + m;
            y[j + 16] = (qs[j] >> 4) * d + m;
        }
    }

    static void Q50(byte* p, Span<float> y)
    {
        float d = Half(p);
        uint qh = *(uint*)(p + 2);
        byte* qs = p + 6;
        for (int j = 0; j < 16; j++)
        {
            int high0 = (int)((qh >> j) << 4) & 0x10, high1 = (int)(qh >> (j + 12)) & 0x10;
            y[j] = (((qs[j] & 0x0F) | high0) - 16) * d;
            y[j + 16] = (((qs[j] >> 4) | high1) - 16) * d;
        }
    }

    static void Q51(byte* p, Span<float> y)
    {
        float d = Half(p), m = Half(p + 2);
        uint qh = *(uint*)(p + 4);
        byte* qs = p + 8;
        for (int j = 0; j < 16; j++)
        {
            int high0 = (int)((qh >> j) << 4) & 0x10, high1 = (int)(qh >> (j + 12)) & 0x10;
            y[j] = ((qs[j] & 0x0F) | high0) * d + m;
            y[j + 16] = ((qs[j] >> 4) | high1) * d + m;
        }
    }

    static void Q80(byte* p, Span<float> y)
    {
        float d = Half(p);
        sbyte* qs = (sbyte*)(p + 2);
        for (int j = 0; j < QK; j++) y[j] = qs[j] * d;
    }

    static void Q2K(byte* p, Span<float> y)
    {
        byte* scales = p, q = p + 16;
        float d = Half(p + 80), min = Half(p + 82);
        int i = 0, s = 0;
        for (int n = 0; n < QK_K; n += 128, q += 32)
        {
            for (int shift = 0; shift < 8; shift += 2)
            {
                for (int half = 0; half < 2; half++)
                {
                    byte sc = scales[s++];
                    float dl = d * (sc & 0xF), ml = min * (sc >> 4);
                    for (int l = 0; l < 16; l++) y[i++] = dl * ((q[l + 16 * half] >> shift) & 3) - ml;
                }
            }
        }
    }

    static void Q3K(byte* p, Span<float> y)
    {
        byte* hmask = p, q = p + 32;
        float d = Half(p + 108);
        uint* aux = stackalloc uint[4];
        sbyte* scales = Q3KScales(p, aux);
        int i = 0, s = 0;
        byte m = 1;
        for (int n = 0; n < QK_K; n += 128, q += 32)
        {
            for (int shift = 0; shift < 8; shift += 2, m <<= 1)
            {
                for (int half = 0; half < 2; half++)
                {
                    float dl = d * (scales[s++] - 32);
                    for (int l = 0; l < 16; l++)
                    {
                        int k = l + 16 * half;
                        y[i++] = dl * (((q[k] >> shift) & 3) - ((hmask[k] & m) != 0 ? 0 : 4));
                    }
                }
            }
        }
    }

    static void Q4K(byte* p, Span<float> y)
    {
        float d = Half(p), min = Half(p + 2);
        byte* scales = p + 4, q = p + 16;
        int i = 0;
        for (int j = 0, s = 0; j < QK_K; j += 64, q += 32, s += 2)
        {
            ScaleMin(s, scales, out int sc1, out int m1);
            ScaleMin(s + 1, scales, out int sc2, out int m2);
            float d1 = d * sc1, min1 = min * m1, d2 = d * sc2, min2 = min * m2;
            for (int l = 0; l < 32; l++) y[i++] = d1 * (q[l] & 0xF) - min1;
            for (int l = 0; l < 32; l++) y[i++] = d2 * (q[l] >> 4) - min2;
        }
    }

    static void Q5K(byte* p, Span<float> y)
    {
        float d = Half(p), min = Half(p + 2);
        byte* scales = p + 4, qh = p + 16, ql = p + 48;
        int i = 0;
        byte u1 = 1, u2 = 2;
        for (int j = 0, s = 0; j < QK_K; j += 64, ql += 32, s += 2, u1 <<= 2, u2 <<= 2)
        {
            ScaleMin(s, scales, out int sc1, out int m1);
            ScaleMin(s + 1, scales, out int sc2, out int m2);
            float d1 = d * sc1, min1 = min * m1, d2 = d * sc2, min2 = min * m2;
            for (int l = 0; l < 32; l++) y[i++] = d1 * ((ql[l] & 0xF) + ((qh[l] & u1) != 0 ? 16 : 0)) - min1;
            for (int l = 0; l < 32; l++) y[i++] = d2 * ((ql[l] >> 4) + ((qh[l] & u2) != 0 ? 16 : 0)) - min2;
        }
    }

    static void Q6K(byte* p, Span<float> y)
    {
        byte* ql = p, qh = p + 128;
        sbyte* sc = (sbyte*)(p + 192);
        float d = Half(p + 208);
        for (int n = 0; n < QK_K; n += 128, ql += 64, qh += 32, sc += 8)
        {
            for (int l = 0; l < 32; l++)
            {
                int s = l / 16;
                int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[n + l] = d * sc[s] * q1;
                y[n + l + 32] = d * sc[s + 2] * q2;
                y[n + l + 64] = d * sc[s + 4] * q3;
                y[n + l + 96] = d * sc[s + 6] * q4;
            }
        }
    }

    static void Iq4Nl(byte* p, Span<float> y)
    {
        float d = Half(p);
        byte* qs = p + 2;
        for (int j = 0; j < 16; j++)
        {
            y[j] = d * Iq4Levels[qs[j] & 0xF];
            y[j + 16] = d * Iq4Levels[qs[j] >> 4];
        }
    }

    static void Iq4Xs(byte* p, Span<float> y)
    {
        float d = Half(p);
        ushort scalesHigh = *(ushort*)(p + 2);
        byte* scalesLow = p + 4, qs = p + 8;
        for (int ib = 0; ib < QK_K / 32; ib++, qs += 16)
        {
            int ls = ((scalesLow[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((scalesHigh >> (2 * ib)) & 3) << 4);
            float dl = d * (ls - 32);
            for (int j = 0; j < 16; j++)
            {
                y[ib * 32 + j] = dl * Iq4Levels[qs[j] & 0xF];
                y[ib * 32 + j + 16] = dl * Iq4Levels[qs[j] >> 4];
            }
        }
    }
}
