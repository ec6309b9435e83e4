using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sling.Kernels;

/// <summary>
/// The two halves of one head's attention over cached positions: the query stays in registers while
/// each key costs a few multiply-adds and a share of one horizontal sum, and the output stays in
/// registers while every position's value is added into it. Head sizes of 64, 80, 96 and 128 floats
/// have kernels of their own; others take a plain loop. Keys and values are fp32: an fp16 or int8
/// cache widens a chunk at a time, once for all the heads that read it (KvCache.Widen).
/// </summary>
internal static class Attention
{
    /// <summary>scores[i] = scale · q · key_i, where key i starts at keys[i · stride].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Scores(ReadOnlySpan<float> q, ReadOnlySpan<float> keys, int stride, Span<float> scores, float scale)
    {
        int dim = q.Length;
        if ((long)(scores.Length - 1) * stride + dim > keys.Length) throw new ArgumentException("keys end before the last position");
        if (Avx.IsSupported && Vector256.IsHardwareAccelerated)
        {
            switch (dim)
            {
                case 64: ScoresOf<Eight>(q, keys, stride, scores, scale); return;
                case 80: ScoresOf<Ten>(q, keys, stride, scores, scale); return;
                case 96: ScoresOf<Twelve>(q, keys, stride, scores, scale); return;
                case 128: ScoresOf<Sixteen>(q, keys, stride, scores, scale); return;
            }
        }
        ref float qr = ref MemoryMarshal.GetReference(q);
        ref float kr = ref MemoryMarshal.GetReference(keys);
        for (int i = 0; i < scores.Length; i++)
        {
            ref float key = ref Unsafe.Add(ref kr, (nint)((long)i * stride));
            float sum = 0;
            int c = 0;
            if (Vector256.IsHardwareAccelerated && dim >= 8)
            {
                var acc = Vector256<float>.Zero;
                for (; c <= dim - 8; c += 8)
                    acc = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref qr, (nuint)c), Vector256.LoadUnsafe(ref Unsafe.Add(ref key, c)), acc);
                sum = Vector256.Sum(acc);
            }
            for (; c < dim; c++) sum += Unsafe.Add(ref qr, c) * Unsafe.Add(ref key, c);
            scores[i] = sum * scale;
        }
    }

    /// <summary>output = Σ_i weights[i] · value_i, where value i starts at values[i · stride]; with
    /// <paramref name="accumulate"/> the sum continues from what output holds (a paged cache's later
    /// blocks), in the same order of operations as one call over all positions.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void WeightedSum(ReadOnlySpan<float> weights, ReadOnlySpan<float> values, int stride, Span<float> output, bool accumulate = false)
    {
        int dim = output.Length;
        if ((long)(weights.Length - 1) * stride + dim > values.Length) throw new ArgumentException("values end before the last position");
        if (Vector256.IsHardwareAccelerated)
        {
            switch (dim)
            {
                case 64: WeightedSumOf<Eight>(weights, values, stride, output, accumulate); return;
                case 80: WeightedSumOf<Ten>(weights, values, stride, output, accumulate); return;
                case 96: WeightedSumOf<Twelve>(weights, values, stride, output, accumulate); return;
                case 128: WeightedSumOf<Sixteen>(weights, values, stride, output, accumulate); return;
            }
        }
        ref float vr = ref MemoryMarshal.GetReference(values);
        ref float or = ref MemoryMarshal.GetReference(output);
        int c = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; c <= dim - 8; c += 8)
            {
                var acc = accumulate ? Vector256.LoadUnsafe(ref or, (nuint)c) : Vector256<float>.Zero;
                for (int i = 0; i < weights.Length; i++)
                    acc = Vector256.FusedMultiplyAdd(Vector256.Create(weights[i]), Vector256.LoadUnsafe(ref Unsafe.Add(ref vr, (nint)((long)i * stride + c))), acc);
                acc.StoreUnsafe(ref or, (nuint)c);
            }
        for (; c < dim; c++)
        {
            float sum = accumulate ? Unsafe.Add(ref or, c) : 0;
            for (int i = 0; i < weights.Length; i++) sum += weights[i] * Unsafe.Add(ref vr, (nint)((long)i * stride + c));
            Unsafe.Add(ref or, c) = sum;
        }
    }

    /// <summary>A head size in 8-float vectors, known when the kernel is compiled (an operator struct).</summary>
    private interface IVectors { static abstract int Count { get; } }
    private readonly struct Eight : IVectors { public static int Count => 8; }    // 64: TinyLlama, Qwen2.5-0.5B, SmolLM2, Llama 3.2-1B
    private readonly struct Ten : IVectors { public static int Count => 10; }     // 80: Phi-2
    private readonly struct Twelve : IVectors { public static int Count => 12; }  // 96: Phi-3 mini
    private readonly struct Sixteen : IVectors { public static int Count => 16; } // 128: Mistral, Llama 3 8B, Qwen2.5-1.5B

    // A head of N·8 floats (N ≤ 16): the query lives in N registers, eight keys are scored at a time
    // (eight independent chains) and their eight sums come out of one horizontal-add tree.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScoresOf<N>(ReadOnlySpan<float> q, ReadOnlySpan<float> keys, int stride, Span<float> scores, float scale)
        where N : struct, IVectors
    {
        ref float qr = ref MemoryMarshal.GetReference(q);
        ref float kr = ref MemoryMarshal.GetReference(keys);
        int n = N.Count;
        var q0 = Vector256.LoadUnsafe(ref qr, 0); var q1 = Vector256.LoadUnsafe(ref qr, 8);
        var q2 = Vector256.LoadUnsafe(ref qr, 16); var q3 = Vector256.LoadUnsafe(ref qr, 24);
        var q4 = Vector256.LoadUnsafe(ref qr, 32); var q5 = Vector256.LoadUnsafe(ref qr, 40);
        var q6 = Vector256.LoadUnsafe(ref qr, 48); var q7 = Vector256.LoadUnsafe(ref qr, 56);
        Vector256<float> q8 = default, q9 = default, q10 = default, q11 = default, q12 = default, q13 = default, q14 = default, q15 = default;
        if (n > 8) { q8 = Vector256.LoadUnsafe(ref qr, 64); q9 = Vector256.LoadUnsafe(ref qr, 72); }
        if (n > 10) { q10 = Vector256.LoadUnsafe(ref qr, 80); q11 = Vector256.LoadUnsafe(ref qr, 88); }
        if (n > 12)
        {
            q12 = Vector256.LoadUnsafe(ref qr, 96); q13 = Vector256.LoadUnsafe(ref qr, 104);
            q14 = Vector256.LoadUnsafe(ref qr, 112); q15 = Vector256.LoadUnsafe(ref qr, 120);
        }
        // One key's chain, in order from the first vector to the last.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        Vector256<float> Dot(ref float key)
        {
            var acc = q0 * Vector256.LoadUnsafe(ref key);
            acc = Vector256.FusedMultiplyAdd(q1, Vector256.LoadUnsafe(ref Unsafe.Add(ref key, 8)), acc);
            acc = Vector256.FusedMultiplyAdd(q2, Vector256.LoadUnsafe(ref Unsafe.Add(ref key, 16)), acc);
            acc = Vector256.FusedMultiplyAdd(q3, Vector256.LoadUnsafe(ref Unsafe.Add(ref key, 24)), acc);
            acc = Vector256.FusedMultiplyAdd(q4, Vector256.LoadUnsafe(ref Unsafe.Add(ref key, 32)), acc);
            acc = Vector256.FusedMultiplyAdd(q5, Vector256.LoadUnsafe(ref Unsafe.Add(ref key, 40)), acc);
            acc = Vector256.FusedMultiplyAdd(q6, Vector256.LoadUnsafe(ref Unsafe.Add(ref key, 48)), acc);
            acc = Vector256.FusedMultiplyAdd(q7, Vector256.LoadUnsafe(ref Unsafe.Add(ref key, 56)), acc);
            if (n > 8)
            {
                acc = Vector256.FusedMultiplyAdd(q8, Vector256.LoadUnsafe(ref Unsafe.Add(ref key, 64)), acc);
                acc = Vector256.FusedMultiplyAdd(q9, Vector256.LoadUnsafe(ref Unsafe.Add(ref key, 72)), acc);
            }
            if (n > 10)
            {
                acc = Vector256.FusedMultiplyAdd(q10, Vector256.LoadUnsafe(ref Unsafe.Add(ref key, 80)), acc);
                acc = Vector256.FusedMultiplyAdd(q11, Vector256.LoadUnsafe(ref Unsafe.Add(ref key, 88)), acc);
            }
            if (n > 12)
            {
                acc = Vector256.FusedMultiplyAdd(q12, Vector256.LoadUnsafe(ref Unsafe.Add(ref key, 96)), acc);
                acc = Vector256.FusedMultiplyAdd(q13, Vector256.LoadUnsafe(ref Unsafe.Add(ref key, 104)), acc);
                acc = Vector256.FusedMultiplyAdd(q14, Vector256.LoadUnsafe(ref Unsafe.Add(ref key, 112)), acc);
                acc = Vector256.FusedMultiplyAdd(q15, Vector256.LoadUnsafe(ref Unsafe.Add(ref key, 120)), acc);
            }
            return acc;
        }
        var factor = Vector256.Create(scale);
        int count = scores.Length, i = 0;
        for (; i <= count - 8; i += 8)
        {
            ref float k0 = ref Unsafe.Add(ref kr, (nint)((long)i * stride));
            var a0 = Dot(ref k0);
            var a1 = Dot(ref Unsafe.Add(ref k0, stride));
            var a2 = Dot(ref Unsafe.Add(ref k0, 2 * stride));
            var a3 = Dot(ref Unsafe.Add(ref k0, 3 * stride));
            var a4 = Dot(ref Unsafe.Add(ref k0, 4 * stride));
            var a5 = Dot(ref Unsafe.Add(ref k0, 5 * stride));
            var a6 = Dot(ref Unsafe.Add(ref k0, 6 * stride));
            var a7 = Dot(ref Unsafe.Add(ref k0, 7 * stride));
            // hadd pairs within 128-bit lanes, then fold the two lanes: lane j of the result is key j's sum.
            var h0123 = Avx.HorizontalAdd(Avx.HorizontalAdd(a0, a1), Avx.HorizontalAdd(a2, a3));
            var h4567 = Avx.HorizontalAdd(Avx.HorizontalAdd(a4, a5), Avx.HorizontalAdd(a6, a7));
            var sums = Avx.Permute2x128(h0123, h4567, 0x20) + Avx.Permute2x128(h0123, h4567, 0x31);
            (sums * factor).StoreUnsafe(ref MemoryMarshal.GetReference(scores), (nuint)i);
        }
        for (; i < count; i++) scores[i] = Vector256.Sum(Dot(ref Unsafe.Add(ref kr, (nint)((long)i * stride)))) * scale;
    }

    // A head of N·8 floats: the output lives in N registers while every position's value is added,
    // one broadcast weight per position (N independent chains).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightedSumOf<N>(ReadOnlySpan<float> weights, ReadOnlySpan<float> values, int stride, Span<float> output, bool accumulate)
        where N : struct, IVectors
    {
        ref float vr = ref MemoryMarshal.GetReference(values);
        ref float or = ref MemoryMarshal.GetReference(output);
        int n = N.Count;
        Vector256<float> o0 = default, o1 = default, o2 = default, o3 = default, o4 = default, o5 = default, o6 = default, o7 = default;
        Vector256<float> o8 = default, o9 = default, o10 = default, o11 = default, o12 = default, o13 = default, o14 = default, o15 = default;
        if (accumulate)
        {
            o0 = Vector256.LoadUnsafe(ref or, 0); o1 = Vector256.LoadUnsafe(ref or, 8); o2 = Vector256.LoadUnsafe(ref or, 16); o3 = Vector256.LoadUnsafe(ref or, 24);
            o4 = Vector256.LoadUnsafe(ref or, 32); o5 = Vector256.LoadUnsafe(ref or, 40); o6 = Vector256.LoadUnsafe(ref or, 48); o7 = Vector256.LoadUnsafe(ref or, 56);
            if (n > 8) { o8 = Vector256.LoadUnsafe(ref or, 64); o9 = Vector256.LoadUnsafe(ref or, 72); }
            if (n > 10) { o10 = Vector256.LoadUnsafe(ref or, 80); o11 = Vector256.LoadUnsafe(ref or, 88); }
            if (n > 12)
            {
                o12 = Vector256.LoadUnsafe(ref or, 96); o13 = Vector256.LoadUnsafe(ref or, 104);
                o14 = Vector256.LoadUnsafe(ref or, 112); o15 = Vector256.LoadUnsafe(ref or, 120);
            }
        }
        for (int i = 0; i < weights.Length; i++)
        {
            var w = Vector256.Create(weights[i]);
            ref float v = ref Unsafe.Add(ref vr, (nint)((long)i * stride));
            o0 = Vector256.FusedMultiplyAdd(w, Vector256.LoadUnsafe(ref v), o0);
            o1 = Vector256.FusedMultiplyAdd(w, Vector256.LoadUnsafe(ref Unsafe.Add(ref v, 8)), o1);
            o2 = Vector256.FusedMultiplyAdd(w, Vector256.LoadUnsafe(ref Unsafe.Add(ref v, 16)), o2);
            o3 = Vector256.FusedMultiplyAdd(w, Vector256.LoadUnsafe(ref Unsafe.Add(ref v, 24)), o3);
            o4 = Vector256.FusedMultiplyAdd(w, Vector256.LoadUnsafe(ref Unsafe.Add(ref v, 32)), o4);
            o5 = Vector256.FusedMultiplyAdd(w, Vector256.LoadUnsafe(ref Unsafe.Add(ref v, 40)), o5);
            o6 = Vector256.FusedMultiplyAdd(w, Vector256.LoadUnsafe(ref Unsafe.Add(ref v, 48)), o6);
            o7 = Vector256.FusedMultiplyAdd(w, Vector256.LoadUnsafe(ref Unsafe.Add(ref v, 56)), o7);
            if (n > 8)
            {
                o8 = Vector256.FusedMultiplyAdd(w, Vector256.LoadUnsafe(ref Unsafe.Add(ref v, 64)), o8);
                o9 = Vector256.FusedMultiplyAdd(w, Vector256.LoadUnsafe(ref Unsafe.Add(ref v, 72)), o9);
            }
            if (n > 10)
            {
                o10 = Vector256.FusedMultiplyAdd(w, Vector256.LoadUnsafe(ref Unsafe.Add(ref v, 80)), o10);
                o11 = Vector256.FusedMultiplyAdd(w, Vector256.LoadUnsafe(ref Unsafe.Add(ref v, 88)), o11);
            }
            if (n > 12)
            {
                o12 = Vector256.FusedMultiplyAdd(w, Vector256.LoadUnsafe(ref Unsafe.Add(ref v, 96)), o12);
                o13 = Vector256.FusedMultiplyAdd(w, Vector256.LoadUnsafe(ref Unsafe.Add(ref v, 104)), o13);
                o14 = Vector256.FusedMultiplyAdd(w, Vector256.LoadUnsafe(ref Unsafe.Add(ref v, 112)), o14);
                o15 = Vector256.FusedMultiplyAdd(w, Vector256.LoadUnsafe(ref Unsafe.Add(ref v, 120)), o15);
            }
        }
        o0.StoreUnsafe(ref or, 0); o1.StoreUnsafe(ref or, 8); o2.StoreUnsafe(ref or, 16); o3.StoreUnsafe(ref or, 24);
        o4.StoreUnsafe(ref or, 32); o5.StoreUnsafe(ref or, 40); o6.StoreUnsafe(ref or, 48); o7.StoreUnsafe(ref or, 56);
        if (n > 8) { o8.StoreUnsafe(ref or, 64); o9.StoreUnsafe(ref or, 72); }
        if (n > 10) { o10.StoreUnsafe(ref or, 80); o11.StoreUnsafe(ref or, 88); }
        if (n > 12) { o12.StoreUnsafe(ref or, 96); o13.StoreUnsafe(ref or, 104); o14.StoreUnsafe(ref or, 112); o15.StoreUnsafe(ref or, 120); }
    }
}
