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
/// tokens generated one at a time from an empty cache; a warm-up run, then R timed runs each.
/// </summary>
internal static class PeerBench
{
    public static void Run(string path, int prompt, int generate, int repetitions, int threads)
    {
        if (threads <= 0) threads = Environment.ProcessorCount;
        Console.WriteLine($"file      {path} ({new FileInfo(path).Length / 1e6:F1} MB), {threads} threads, {prompt}-token prompt, {generate} generated tokens, {repetitions} runs");
        var sling = MeasureSling(path, prompt, generate, repetitions, threads);
        var llama = MeasureLlamaCpp(path, prompt, generate, repetitions, threads);
        Console.WriteLine("| engine    | pp tok/s        | tg tok/s        |");
        Console.WriteLine("| --------- | --------------- | --------------- |");
        Console.WriteLine($"| llama.cpp | {Format(llama.Prompt)} | {Format(llama.Generation)} |");
        Console.WriteLine($"| Sling     | {Format(sling.Prompt)} | {Format(sling.Generation)} |");
        Console.WriteLine($"| ratio     | {sling.Prompt.Average() / llama.Prompt.Average(),15:F2} | {sling.Generation.Average() / llama.Generation.Average(),15:F2} |");
    }

    private static string Format(List<double> speeds)
    {
        double mean = speeds.Average();
        double sd = speeds.Count > 1 ? Math.Sqrt(speeds.Sum(s => (s - mean) * (s - mean)) / (speeds.Count - 1)) : 0;
        return $"{mean,7:F2} ± {sd,5:F2}";
    }

    private static (List<double> Prompt, List<double> Generation) MeasureSling(string path, int prompt, int generate, int repetitions, int threads)
    {
        using var model = ModelLoader.LoadTransformer(path, threads);
        var pp = SpeedBenchmark.PromptProcessing(model, prompt, repetitions);
        var tg = SpeedBenchmark.Generation(model, generate, repetitions);
        return (pp.Runs.ToList(), tg.Runs.ToList());
    }

    private static (List<double> Prompt, List<double> Generation) MeasureLlamaCpp(string path, int prompt, int generate, int repetitions, int threads)
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
        using var weights = LLamaWeights.LoadFromFile(parameters);
        using var context = weights.CreateContext(parameters);
        int vocab = weights.Vocab.Count;
        var rng = new Random(42);
        var tokens = Enumerable.Range(0, Math.Max(prompt, generate)).Select(_ => (LLamaToken)rng.Next(vocab)).ToArray();
        var batch = new LLamaBatch();

        double Prompt()
        {
            context.NativeHandle.MemoryClear();
            batch.Clear();
            for (int i = 0; i < prompt; i++) batch.Add(tokens[i], i, LLamaSeqId.Zero, i == prompt - 1);
            var clock = Stopwatch.StartNew();
            Check(context.Decode(batch));
            return prompt / clock.Elapsed.TotalSeconds;
        }
        double Generation()
        {
            context.NativeHandle.MemoryClear();
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < generate; i++)
            {
                batch.Clear();
                batch.Add(tokens[i], i, LLamaSeqId.Zero, true);
                Check(context.Decode(batch));
            }
            return generate / clock.Elapsed.TotalSeconds;
        }
        var pp = new List<double>();
        var tg = new List<double>();
        if (prompt > 0)
        {
            Prompt();
            for (int r = 0; r < repetitions; r++) pp.Add(Prompt());
        }
        if (generate > 0)
        {
            Generation();
            for (int r = 0; r < repetitions; r++) tg.Add(Generation());
        }
        return (pp, tg);
    }

    private static void Check(DecodeResult result)
    {
        if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama.cpp decode failed: {result}");
    }
}
