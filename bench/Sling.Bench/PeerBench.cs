using System.Diagnostics;
using LLama;
using LLama.Common;
using LLama.Native;
using Sling.Evaluation;
using Sling.Models;

namespace Sling.Bench;

/// <summary>
/// Sling and llama.cpp (its own library, through LLamaSharp's CPU backend) on the same GGUF file with
/// the same thread count, measured the same way: a prompt of P tokens into an empty cache, then N
/// tokens generated one at a time from an empty cache; a warm-up run, then R timed runs each. Both
/// models stay loaded and the engines' runs alternate (llama.cpp, Sling, llama.cpp, …), so both see
/// the same seconds of this shared machine, whose memory bandwidth comes in bursts. With a second
/// path Sling runs that model instead (e.g. the seed's setting of the folder the GGUF file was made
/// from, against llama.cpp's Q4_0 of it), still alternating run by run.
/// </summary>
internal static class PeerBench
{
    public static void Run(string path, int prompt, int generate, int repetitions, int threads, string? slingPath = null)
    {
        if (threads <= 0) threads = Environment.ProcessorCount;
        // llama.cpp gets the instruction set Sling has: with AVX-512 turned off for .NET
        // (DOTNET_EnableAVX512=0, an AVX2 machine's case) its AVX2 build, else its widest.
        if (!System.Runtime.Intrinsics.X86.Avx512F.IsSupported) NativeLibraryConfig.All.WithAvx(AvxLevel.Avx2);
        Console.WriteLine($"kernels   Sling {Sling.Kernels.KernelIsas.Description}, llama.cpp {(System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? "its widest build" : "AVX2 build")}");
        Console.WriteLine($"file      {path} ({new FileInfo(path).Length / 1e6:F1} MB), {threads} threads, {prompt}-token prompt, {generate} generated tokens, {repetitions} runs");
        using var model = ModelLoader.LoadTransformer(slingPath ?? path, threads);
        if (slingPath != null)
            Console.WriteLine($"Sling     {slingPath} ({SpeedBenchmark.WeightBytesPerToken(model) / 1e6:F1} MB of weights read per token)");
        using var llama = new LlamaCpp(path, prompt, generate, threads);
        var (slingPrompt, llamaPrompt, slingGeneration, llamaGeneration) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
        if (prompt > 0)
        {
            using var test = new SpeedBenchmark.PromptTest(model, prompt);
            Alternate(repetitions, prompt, llama.Prompt, llamaPrompt, test.Run, slingPrompt);
        }
        if (generate > 0)
            Alternate(repetitions, generate, llama.Generation, llamaGeneration, new SpeedBenchmark.GenerationTest(model, generate).Run, slingGeneration);
        Console.WriteLine("| engine    | pp tok/s        | tg tok/s        |");
        Console.WriteLine("| --------- | --------------- | --------------- |");
        Console.WriteLine($"| llama.cpp | {Format(llamaPrompt)} | {Format(llamaGeneration)} |");
        Console.WriteLine($"| Sling     | {Format(slingPrompt)} | {Format(slingGeneration)} |");
        Console.WriteLine($"| ratio     | {Ratio(slingPrompt, llamaPrompt),15} | {Ratio(slingGeneration, llamaGeneration),15} |");
    }

    // A warm-up run of each, then R runs of each in turn; each run returns its seconds.
    private static void Alternate(int repetitions, int tokens, Func<double> first, List<double> firstSpeeds, Func<double> second, List<double> secondSpeeds)
    {
        first();
        second();
        for (int r = 0; r < repetitions; r++)
        {
            firstSpeeds.Add(tokens / first());
            secondSpeeds.Add(tokens / second());
        }
    }

    private static string Ratio(List<double> sling, List<double> llama) => sling.Count == 0 ? "–" : (sling.Average() / llama.Average()).ToString("F2");

    private static string Format(List<double> speeds)
    {
        if (speeds.Count == 0) return $"{"–",15}";
        var (mean, sd) = Sling.Evaluation.SpeedBenchmark.Spread(speeds);
        return $"{mean,7:F2} ± {sd,5:F2}";
    }

    /// <summary>llama.cpp's context on the file: one prompt run or one generation run at a time (seconds).</summary>
    private sealed class LlamaCpp : IDisposable
    {
        private readonly LLamaWeights _weights;
        private readonly LLamaContext _context;
        private readonly LLamaToken[] _tokens;
        private readonly LLamaBatch _batch = new();
        private readonly int _prompt, _generate;

        public LlamaCpp(string path, int prompt, int generate, int threads)
        {
            NativeLogConfig.llama_log_set((level, message) => { });
            var parameters = new ModelParams(path)
            {
                ContextSize = (uint)Math.Max(prompt, generate) + 16,
                BatchSize = (uint)Math.Max(prompt, 1),
                UBatchSize = (uint)Math.Max(prompt, 1),
                Threads = threads,
                BatchThreads = threads,
                GpuLayerCount = 0,
            };
            _weights = LLamaWeights.LoadFromFile(parameters);
            _context = _weights.CreateContext(parameters);
            int vocab = _weights.Vocab.Count;
            var rng = new Random(42);
            _tokens = Enumerable.Range(0, Math.Max(prompt, generate)).Select(_ => (LLamaToken)rng.Next(vocab)).ToArray();
            (_prompt, _generate) = (prompt, generate);
        }

        public double Prompt()
        {
            _context.NativeHandle.MemoryClear();
            _batch.Clear();
            for (int i = 0; i < _prompt; i++) _batch.Add(_tokens[i], i, LLamaSeqId.Zero, i == _prompt - 1);
            var clock = Stopwatch.StartNew();
            Check(_context.Decode(_batch));
            return clock.Elapsed.TotalSeconds;
        }

        public double Generation()
        {
            _context.NativeHandle.MemoryClear();
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < _generate; i++)
            {
                _batch.Clear();
                _batch.Add(_tokens[i], i, LLamaSeqId.Zero, true);
                Check(_context.Decode(_batch));
            }
            return clock.Elapsed.TotalSeconds;
        }

        public void Dispose()
        {
            _context.Dispose();
            _weights.Dispose();
        }
    }

    private static void Check(DecodeResult result)
    {
        if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama.cpp decode failed: {result}");
    }
}
