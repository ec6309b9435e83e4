using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sling.Bench;

/// <summary>
/// What the AVX2 tile kernels' instruction mix allows, without memory: the inner loop of each form
/// over one block of 16 weight rows × 32 inputs held in L1, times a tile of 4 activation rows, each
/// block's integer sums finished to float and added to sums kept in memory (as the assembled tiles
/// keep theirs). GOP/s counts 2 per multiply-add, as <c>bench kernel</c> does, so a kernel's GOP/s
/// over its form's ceiling is the share of the arithmetic limit it reaches:
/// <list type="bullet">
/// <item>int4 nibbles (Q4_0, Q4_K, the seed's int4): 4-bit codes split by mask and shift,
/// <c>vpmaddubsw</c> with a broadcast quad of activation codes, the 16-bit sums added per block and
/// widened once by <c>vpmaddwd</c>;</item>
/// <item>int8 widened pairs (Q8_0, the seed's int8): codes widened to 16 bits, <c>vpmaddwd</c> with a
/// broadcast pair (unsigned codes times signed activations would overflow <c>vpmaddubsw</c>);</item>
/// <item>int8 sign trick (llama.cpp's AVX2 form for Q8_0, measured as the alternative): |code| times the
/// activation carrying the code's sign in <c>vpmaddubsw</c>, then <c>vpmaddwd</c> by ones per product.</item>
/// </list>
/// </summary>
internal static unsafe class CeilingBench
{
    private const int Blocks = 64; // 16 rows × 2048 inputs: 16 or 32 KiB of codes, in L1 beside the activations

    // Each form with the formats whose AVX2 tile kernels have its instruction mix.
    private static readonly (string Name, Func<Buffers, long> Body, string[] Formats)[] Forms =
    [
        ("int4 nibbles", Int4Nibbles, ["q4_0", "int4", "q4_k"]),
        ("int8 widened pairs", Int8WidenedPairs, ["q8_0", "int8"]),
        ("int8 sign trick", Int8SignTrick, []),
    ];

    /// <summary>
    /// Prints each form's ceiling on one core and on <paramref name="threads"/>, then the GOP/s of its
    /// formats' products (a <paramref name="rows"/> × <paramref name="cols"/> matrix times
    /// <paramref name="tokens"/> activation rows, as <c>bench kernel</c>) as shares of it.
    /// </summary>
    public static void Run(int threads, double seconds, int rows, int cols, int tokens)
    {
        if (!Avx2.IsSupported) throw new PlatformNotSupportedException("the ceilings are the AVX2 kernels'; this CPU has no AVX2");
        threads = threads > 0 ? threads : Environment.ProcessorCount;
        Console.WriteLine($"AVX2 tile kernels' instruction mix, data in L1 (16 weight rows × 4 activation rows × {Blocks * 32} inputs per pass), best of {seconds:F1} s per form and product in rounds that alternate them;");
        Console.WriteLine($"each form's products: {rows}x{cols} × {tokens} tokens, int8 activations, {threads} threads, the kernels the models run (bench kernel --isa avx2)");
        // Rounds alternate the loops and the products, each keeping its best: the machine's other load only slows a run.
        const int Rounds = 4;
        foreach (var (name, body, formats) in Forms)
        {
            double one = 0, all = 0;
            var rates = new double[formats.Length];
            for (int round = 0; round < Rounds; round++)
            {
                one = Math.Max(one, Rate(body, 1, seconds / Rounds));
                all = Math.Max(all, threads > 1 ? Rate(body, threads, seconds / Rounds) : one);
                for (int f = 0; f < formats.Length; f++)
                    rates[f] = Math.Max(rates[f], KernelBench.IntegerRate(rows, cols, formats[f], tokens, threads, Sling.Kernels.KernelIsa.Avx2, seconds / Rounds));
            }
            Console.WriteLine($"  {name,-20} {one,7:F1} GOP/s on one core, {all,7:F1} GOP/s on {threads}");
            for (int f = 0; f < formats.Length; f++)
                Console.WriteLine($"    {formats[f],-18} {rates[f],7:F1} GOP/s = {100 * rates[f] / all:F0} % of the ceiling");
        }
    }

    // Passes per second on each of `threads` threads at once, the slowest thread's; 2 · 16 · 4 · 32 · Blocks operations a pass.
    private static double Rate(Func<Buffers, long> body, int threads, double seconds)
    {
        const int Passes = 2000;
        var data = Slots(threads);
        double best = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            var times = new double[threads];
            var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
            {
                long start = Stopwatch.GetTimestamp();
                long check = 0;
                for (int p = 0; p < Passes; p++) check += body(data[t]);
                times[t] = Stopwatch.GetElapsedTime(start).TotalSeconds;
                GC.KeepAlive(check);
            })).ToArray();
            foreach (var w in workers) w.Start();
            foreach (var w in workers) w.Join();
            best = Math.Max(best, threads * Passes * 2.0 * 16 * 4 * 32 * Blocks / times.Max() / 1e9);
        }
        return best;
    }

    // One thread's data per worker slot, made once (outside every timed pass) and kept for the process.
    private static readonly List<Buffers> s_slots = [];

    private static Buffers[] Slots(int threads)
    {
        while (s_slots.Count < threads) s_slots.Add(new Buffers());
        return [.. s_slots.Take(threads)];
    }

    private sealed class Buffers
    {
        public readonly byte* Codes = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(Blocks * 512, 64);
        public readonly sbyte* Activations = (sbyte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(4 * Blocks * 32, 64);
        public readonly float* Sums = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(4 * 16 * sizeof(float), 64);
        public readonly float* Scales = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(4 * Blocks * sizeof(float), 64);

        public Buffers()
        {
            var rng = new Random(1);
            for (int i = 0; i < Blocks * 512; i++) Codes[i] = (byte)rng.Next(256);
            for (int i = 0; i < 4 * Blocks * 32; i++) Activations[i] = (sbyte)rng.Next(-127, 128);
            for (int i = 0; i < 4 * Blocks; i++) Scales[i] = 1f / 1024;
            new Span<float>(Sums, 64).Clear();
        }
    }


    // A block's 32-bit sums of rows 0–7 (low) and 8–15 (high) of activation row k, scaled into its float sums in memory.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish(float* sums, int k, float scale, Vector256<int> low, Vector256<int> high)
    {
        var s = Vector256.Create(scale);
        float* row = sums + 16 * k;
        Vector256.Store(Fma.MultiplyAdd(Avx.ConvertToVector256Single(low), s, Vector256.Load(row)), row);
        Vector256.Store(Fma.MultiplyAdd(Avx.ConvertToVector256Single(high), s, Vector256.Load(row + 8)), row + 8);
    }

    // Block b's sums of the tile's four activation rows (rows 0–7 and 8–15 each), each with its own scale.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FinishTile(Buffers d, int b, Vector256<int> l0, Vector256<int> h0, Vector256<int> l1, Vector256<int> h1,
        Vector256<int> l2, Vector256<int> h2, Vector256<int> l3, Vector256<int> h3)
    {
        Finish(d.Sums, 0, d.Scales[b], l0, h0);
        Finish(d.Sums, 1, d.Scales[Blocks + b], l1, h1);
        Finish(d.Sums, 2, d.Scales[2 * Blocks + b], l2, h2);
        Finish(d.Sums, 3, d.Scales[3 * Blocks + b], l3, h3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> Quad(sbyte* a) => Vector256.Create(*(int*)a).AsSByte();

    // Per block: 4 stored vectors of 64 bytes (rows 0–7, 8–15), each byte two codes (inputs 8j..8j+3 low, 8j+4.. high).
    // The 16-bit sums of the 4 activation rows, the 4 code vectors, the mask and a broadcast: the 16 registers.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static long Int4Nibbles(Buffers d)
    {
        var mask = Vector256.Create((byte)0xF);
        for (int b = 0; b < Blocks; b++)
        {
            byte* c = d.Codes + b * 256;
            sbyte* a0 = d.Activations + b * 32, a1 = a0 + Blocks * 32, a2 = a1 + Blocks * 32, a3 = a2 + Blocks * 32;
            Vector256<short> l0 = default, h0 = default, l1 = default, h1 = default, l2 = default, h2 = default, l3 = default, h3 = default;
            for (int j = 0; j < 4; j++)
            {
                var low = Vector256.Load(c + 64 * j);
                var high = Vector256.Load(c + 64 * j + 32);
                var lowL = low & mask;
                var lowH = Avx2.ShiftRightLogical(low.AsUInt16(), 4).AsByte() & mask;
                var highL = high & mask;
                var highH = Avx2.ShiftRightLogical(high.AsUInt16(), 4).AsByte() & mask;
                Nibbles(lowL, lowH, highL, highH, a0 + 8 * j, ref l0, ref h0);
                Nibbles(lowL, lowH, highL, highH, a1 + 8 * j, ref l1, ref h1);
                Nibbles(lowL, lowH, highL, highH, a2 + 8 * j, ref l2, ref h2);
                Nibbles(lowL, lowH, highL, highH, a3 + 8 * j, ref l3, ref h3);
            }
            var ones = Vector256<short>.One;
            FinishTile(d, b, Avx2.MultiplyAddAdjacent(l0, ones), Avx2.MultiplyAddAdjacent(h0, ones), Avx2.MultiplyAddAdjacent(l1, ones), Avx2.MultiplyAddAdjacent(h1, ones),
                Avx2.MultiplyAddAdjacent(l2, ones), Avx2.MultiplyAddAdjacent(h2, ones), Avx2.MultiplyAddAdjacent(l3, ones), Avx2.MultiplyAddAdjacent(h3, ones));
        }
        return (long)d.Sums[0];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Nibbles(Vector256<byte> lowL, Vector256<byte> lowH, Vector256<byte> highL, Vector256<byte> highH, sbyte* a,
        ref Vector256<short> sumLow, ref Vector256<short> sumHigh)
    {
        var x = Quad(a);
        sumLow += Avx2.MultiplyAddAdjacent(lowL, x);
        sumHigh += Avx2.MultiplyAddAdjacent(highL, x);
        x = Quad(a + 4);
        sumLow += Avx2.MultiplyAddAdjacent(lowH, x);
        sumHigh += Avx2.MultiplyAddAdjacent(highH, x);
    }

    // Per block: 16 runs of 32 bytes (inputs 2p, 2p+1 of rows 0–7, then 8–15), each half widened to 16 bits.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static long Int8WidenedPairs(Buffers d)
    {
        for (int b = 0; b < Blocks; b++)
        {
            byte* c = d.Codes + b * 512;
            int* q0 = (int*)(d.Activations + b * 32), q1 = q0 + Blocks * 8, q2 = q1 + Blocks * 8, q3 = q2 + Blocks * 8;
            Vector256<int> l0 = default, h0 = default, l1 = default, h1 = default, l2 = default, h2 = default, l3 = default, h3 = default;
            for (int p = 0; p < 16; p++, c += 32)
            {
                var low = Avx2.ConvertToVector256Int16(c);
                var high = Avx2.ConvertToVector256Int16(c + 16);
                // The pairs of the activation codes as 16-bit words (the widened copy the kernels read): here the bytes' pairs reread.
                var x = Vector256.Create(q0[p / 2]).AsInt16();
                l0 += Avx2.MultiplyAddAdjacent(low, x); h0 += Avx2.MultiplyAddAdjacent(high, x);
                x = Vector256.Create(q1[p / 2]).AsInt16();
                l1 += Avx2.MultiplyAddAdjacent(low, x); h1 += Avx2.MultiplyAddAdjacent(high, x);
                x = Vector256.Create(q2[p / 2]).AsInt16();
                l2 += Avx2.MultiplyAddAdjacent(low, x); h2 += Avx2.MultiplyAddAdjacent(high, x);
                x = Vector256.Create(q3[p / 2]).AsInt16();
                l3 += Avx2.MultiplyAddAdjacent(low, x); h3 += Avx2.MultiplyAddAdjacent(high, x);
            }
            FinishTile(d, b, l0, h0, l1, h1, l2, h2, l3, h3);
        }
        return (long)d.Sums[0];
    }

    // Per block: 8 vectors of 64 bytes (inputs 4j..4j+3 of rows 0–7, then 8–15), signed codes.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static long Int8SignTrick(Buffers d)
    {
        var ones = Vector256<short>.One;
        for (int b = 0; b < Blocks; b++)
        {
            byte* c = d.Codes + b * 512;
            sbyte* a0 = d.Activations + b * 32, a1 = a0 + Blocks * 32, a2 = a1 + Blocks * 32, a3 = a2 + Blocks * 32;
            Vector256<int> l0 = default, h0 = default, l1 = default, h1 = default, l2 = default, h2 = default, l3 = default, h3 = default;
            for (int j = 0; j < 8; j++, c += 64)
            {
                var low = Vector256.Load((sbyte*)c);
                var high = Vector256.Load((sbyte*)c + 32);
                var lowAbs = Avx2.Abs(low);
                var highAbs = Avx2.Abs(high);
                Signed(lowAbs, highAbs, low, high, Quad(a0 + 4 * j), ones, ref l0, ref h0);
                Signed(lowAbs, highAbs, low, high, Quad(a1 + 4 * j), ones, ref l1, ref h1);
                Signed(lowAbs, highAbs, low, high, Quad(a2 + 4 * j), ones, ref l2, ref h2);
                Signed(lowAbs, highAbs, low, high, Quad(a3 + 4 * j), ones, ref l3, ref h3);
            }
            FinishTile(d, b, l0, h0, l1, h1, l2, h2, l3, h3);
        }
        return (long)d.Sums[0];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Signed(Vector256<byte> lowAbs, Vector256<byte> highAbs, Vector256<sbyte> low, Vector256<sbyte> high, Vector256<sbyte> x, Vector256<short> ones,
        ref Vector256<int> sumLow, ref Vector256<int> sumHigh)
    {
        sumLow += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(lowAbs, Avx2.Sign(x, low)), ones);
        sumHigh += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(highAbs, Avx2.Sign(x, high)), ones);
    }
}
