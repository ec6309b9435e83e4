using System.CommandLine;
using Sling.Evaluation;
using Sling.Models;

namespace Sling.Cli;

/// <summary>`sling bench`: prompt-processing and generation speed the way llama-bench measures them.</summary>
internal static class BenchCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = CommonOptions.OptionalModel();
        var synthetic = CommonOptions.Synthetic();
        var type = new Option<string>("--type") { Description = $"Weight format of --synthetic: {string.Join(", ", SyntheticModels.FormatNames)}", DefaultValueFactory = _ => "q4_0" };
        var prompt = new Option<int>("--prompt-tokens", "-p") { Description = "Prompt length for the prompt-processing test (0 = skip)", DefaultValueFactory = _ => 512 };
        var generate = new Option<int>("--gen-tokens", "-n") { Description = "Tokens for the generation test (0 = skip)", DefaultValueFactory = _ => 128 };
        var depth = new Option<int>("--depth", "-d") { Description = "Tokens already in the cache when each test starts (put there untimed): speed deep into a conversation", DefaultValueFactory = _ => 0 };
        var repetitions = new Option<int>("--repetitions", "-r") { Description = "Timed runs of each test after one warm-up run", DefaultValueFactory = _ => 5 };
        var threads = CommonOptions.Threads("-t");
        var batch = new Option<int>("--batch", "-b") { Description = "Prompt tokens per forward pass", DefaultValueFactory = _ => InferenceState.DefaultBatchCapacity };
        var sequences = new Option<int[]>("--sequences") { Description = "Also generate with N sequences batched together (repeatable, e.g. --sequences 4 --sequences 8): aggregate tok/s", AllowMultipleArgumentsPerToken = true };
        var kvCache = new Option<string>("--kv-cache") { Description = "Key/value cache precision: f32, f16 or int8", DefaultValueFactory = _ => "f32" };
        var exact = new Option<bool>("--float-activations") { Description = "Multiply quantized weights with float activations instead of int8 blocks" };
        var noLayoutCache = CommonOptions.NoLayoutCache();
        var command = new Command("bench", "Measure prompt-processing and generation speed (tokens/s, GB/s, share of the memory bandwidth)")
        {
            model, synthetic, type, prompt, generate, depth, repetitions, threads, batch, exact, kvCache, sequences, noLayoutCache,
        };
        command.SetAction(parse =>
        {
            var (path, shape) = CommonOptions.ModelOrSynthetic(parse, model, synthetic);
            int t = parse.GetValue(threads), p = parse.GetValue(prompt), n = parse.GetValue(generate), r = parse.GetValue(repetitions), d = parse.GetValue(depth);
            if (p < 0 || n < 0 || d < 0 || r <= 0) throw new SlingException("--prompt-tokens, --gen-tokens and --depth must be 0 or more, --repetitions positive");
            stderr.WriteLine(shape != null ? $"building {shape} with random {parse.GetValue(type)} weights…" : $"loading {path}…");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var jitBefore = System.Runtime.JitInfo.GetCompilationTime();
            using var transformer = shape != null
                ? SyntheticModels.Create(shape, parse.GetValue(type)!, t)
                : ModelLoader.LoadTransformer(path!, new LoadOptions { Threads = t, KeepKernelLayout = !parse.GetValue(noLayoutCache), Log = stderr.WriteLine });
            transformer.IntegerActivations = !parse.GetValue(exact);
            transformer.CachePrecision = ModelOptions.CachePrecision(parse.GetValue(kvCache)!);
            double loaded = clock.Elapsed.TotalMilliseconds;
            // Time to the first token: the load plus a 10-token prompt, the first forward pass of this process.
            var first = transformer.CreateState(Math.Min(16, transformer.Config.MaxSeqLen));
            transformer.Prefill(first, Enumerable.Range(1, Math.Min(10, transformer.Config.MaxSeqLen)).Select(i => i % transformer.Config.VocabSize).ToArray(), 0);
            double firstToken = clock.Elapsed.TotalMilliseconds;
            double compiling = (System.Runtime.JitInfo.GetCompilationTime() - jitBefore).TotalMilliseconds;
            var summary = ModelSummary.Of(transformer);
            long bytesPerToken = SpeedBenchmark.WeightBytesPerToken(transformer);
            var results = new List<SpeedBenchmark.Result>();
            if (d > 0 && d + Math.Max(p, n) > transformer.Config.MaxSeqLen)
                throw new SlingException($"--depth {d} with {Math.Max(p, n)} tokens exceeds the model's context of {transformer.Config.MaxSeqLen} positions");
            if (p > 0) results.Add(SpeedBenchmark.PromptProcessing(transformer, Math.Min(p, transformer.Config.MaxSeqLen), r, parse.GetValue(batch), d));
            if (n > 0) results.Add(SpeedBenchmark.Generation(transformer, Math.Min(n, transformer.Config.MaxSeqLen), r, d));
            foreach (int count in parse.GetValue(sequences) ?? [])
                if (n > 0 && count > 0) results.Add(SpeedBenchmark.BatchedGeneration(transformer, count, Math.Min(n, transformer.Config.MaxSeqLen), r));
            // The bandwidth the generation runs had (sampled among their tokens), else a sample now.
            var passes = results.FirstOrDefault(x => x.Bandwidth.Count > 0)?.Bandwidth ?? MemoryBandwidth.Sample(transformer.Pool.Threads);
            double bandwidth = passes.Average();

            stdout.WriteLine($"model     {path ?? "synthetic " + shape}  ({string.Join(", ", summary.Formats)}, {summary.WeightBytes / 1e6:F1} MB of weights, {summary.Parameters / 1e6:F1} M parameters)");
            stdout.WriteLine($"threads   {transformer.Pool.Threads}   memory read bandwidth {bandwidth:F1} GB/s (mean of {passes.Count} passes{(n > 0 ? " taken every 16 generated tokens" : "")}, {passes.Min():F1}–{passes.Max():F1})   kernels {Kernels.KernelIsas.Description}{(transformer.IntegerActivations ? ", int8 activations" : ", float activations")}");
            if (path != null) stdout.WriteLine($"load      {loaded:F0} ms; first token of a 10-token prompt {firstToken:F0} ms after the load began ({compiling:F0} ms of it compiling code)");
            int width = Math.Max(8, results.Count == 0 ? 0 : results.Max(x => x.Test.Length));
            stdout.WriteLine($"| {"test".PadRight(width)} |          tok/s | weight GB/s | share of bandwidth |");
            stdout.WriteLine($"| {new string('-', width)} | -------------: | ----------: | -----------------: |");
            // At a depth, each generated token also reads the cache's keys and values of every position up
            // to its own: the depth plus, on average, (n + 1) / 2 of the run's.
            double cacheRead = results.FirstOrDefault(x => x.CacheBytes > 0) is { } g && d > 0 ? (double)g.CacheBytes / (d + g.Tokens) * (d + (g.Tokens + 1) / 2.0) : 0;
            foreach (var result in results)
            {
                bool streaming = result.Test.StartsWith("tg", StringComparison.Ordinal) && !result.Test.Contains('x');
                // Generation reads every weight once per token; a prompt batch reads them once per batch.
                double gbps = streaming ? result.MeanTokensPerSecond * (bytesPerToken + cacheRead) / 1e9 : double.NaN;
                stdout.WriteLine($"| {result.Test.PadRight(width)} | {result.MeanTokensPerSecond,7:F2} ± {result.StdDevTokensPerSecond,5:F2} | {(streaming ? $"{gbps,11:F1}" : "          –")} | {(streaming ? $"{gbps / bandwidth,17:P0}" : "                 –")} |");
            }
            stdout.WriteLine(cacheRead > 0
                ? $"bytes read per generated token: {bytesPerToken:N0} of weights + {cacheRead:N0} of cache (mean over the run at depth {d}); generation limit at the measured bandwidth ≈ {bandwidth * 1e9 / (bytesPerToken + cacheRead):F1} tok/s"
                : $"weights read per generated token: {bytesPerToken:N0} bytes; generation limit at the measured bandwidth ≈ {bandwidth * 1e9 / bytesPerToken:F1} tok/s");
            if (results.FirstOrDefault(x => x.ResidentBytes > 0) is { } tg)
                stdout.WriteLine($"resident memory while generating: {tg.ResidentBytes / 1e6:F0} MB = {(double)tg.ResidentBytes / (summary.WeightBytes + tg.CacheBytes):F2} × (weights {summary.WeightBytes / 1e6:F0} MB + cache {tg.CacheBytes / 1e6:F1} MB)");
            return 0;
        });
        return command;
    }
}
