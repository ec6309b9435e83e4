using System.Diagnostics;
using Sling.Bench;
using Sling.Generation;
using Sling.Models;

// Sling benchmarks: print tokens/s and bytes. Usage:
//   hf-folder --shape NAME --output DIR                         an F32 Hugging Face folder of a real shape (random weights)
//   peer      --model FILE.gguf [--sling-model PATH] [--prompt 512] [--gen 128] [--runs 3] [--threads T]   Sling vs llama.cpp (LLamaSharp) on one file (or Sling on PATH)
//   llama-quantize --model IN.gguf --output OUT.gguf --type q4_k_m|q5_k_m|q6_k|…   llama.cpp's own quantizer (LLamaSharp), as llama-quantize writes
//   pool      [--threads T]                                 cost of one parallel operation (synchronization)
//   micro     [BenchmarkDotNet options]                     BenchmarkDotNet micro-benchmarks of the products per format
//   stream    [--rows 2048] [--cols 2048] [--format q4_0|q8_0|int4|int8] [--copies 100] [--passes 10]   one row times many product-sized matrices from memory (generation's traffic) against one matrix of the same bytes
//   kernel    [--rows 5632] [--cols 2048] [--format q4_0|q8_0|int4|int8|q4_k|q6_k|q5_k|q3_k|q2_k] [--tokens N] [--isa scalar|vector128|avx2|avxvnni|avx512]   GB/s and GOP/s of one product (VNNI and .NET paths; the 6-bit K-quant layout from random GGUF blocks)
//   ceiling   [--threads T] [--seconds 2] [--rows 5632] [--cols 2048] [--tokens 512]   GOP/s the AVX2 tile kernels' instruction mix allows with data in L1 (int4 nibbles, int8 widened pairs, int8 sign trick), and each form's products as shares of it
//   quantize-row [--cols 2048] [--repeats 200000]          µs to quantize one activation row to int8 blocks (every integer product's first step)
//   attention [--dim 64] [--positions 512] [--stride 256]   one head's scores and weighted sum over an f32 cache (rows of stride floats), one thread
//   generate  --model PATH [--tokenizer PATH] [--tokens N] [--runs R] [--threads T]
//   synthetic --shape stories15m|smollm-135m|tinyllama-1.1b [--tokens N] [--threads T]
//   tokenize  --tokenizer PATH [--kilobytes 1024] [--runs R]          encoding speed on ~1 MB of English
//   quant-speed --shape NAME [--group-size 128] [--tokens N] [--runs R]               tok/s and bytes in f32, bf16, int8, int4
//   quant-table --model DIR [--text-seed 2026]                     size and quality of each quantization setting
//   hf-load   --shape NAME [--dtype bf16|f16|f32] [--tokens N]   first vs cached load of a converted folder
//   serve-load --model PATH [--clients 1,4,8] [--requests 4] [--tokens 64] [--parallel 8] [--seconds 300]   `sling serve` under load (loopback)
var options = BenchArgs.Parse(args);
int threads = options.Int("threads", 0);
int tokens = options.Int("tokens", 128);

switch (options.Command)
{
    case "quantize-row":
    {
        // One activation row quantized to int8 blocks (as every product with integer activations starts): µs per row, the fastest of five passes.
        int cols = options.Int("cols", 2048), repeats = options.Int("repeats", 200_000);
        using var q8 = new Sling.Kernels.Q8Activations(1, cols);
        var x = new float[cols];
        var rng = new Random(1);
        for (int i = 0; i < cols; i++) x[i] = (float)(rng.NextDouble() - 0.5);
        double best = double.MaxValue;
        for (int pass = 0; pass < 5; pass++)
        {
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < repeats; i++) q8.Quantize(x, 1);
            best = Math.Min(best, clock.Elapsed.TotalMilliseconds * 1000 / repeats);
        }
        Console.WriteLine($"one row of {cols} values to int8 blocks: {best:F2} µs ({best * 1000 / cols:F2} ns per value), the fastest of 5 passes of {repeats:N0}");
        break;
    }
    case "hf-folder":
    {
        // A Hugging Face folder (F32 safetensors, no tokenizer) of a real shape with random weights.
        string output = options.Required("output");
        SyntheticModel.WriteHuggingFaceFolder(SyntheticModel.Shape(options.Required("shape")), output);
        Console.WriteLine($"wrote {output} ({new FileInfo(Path.Combine(output, "model.safetensors")).Length:N0} bytes)");
        break;
    }
    case "serve-load":
    {
        int[] clients = (options.Get("clients") ?? "1,4,8").Split(',').Select(int.Parse).ToArray();
        await ServeLoad.RunAsync(options.Required("model"), clients, options.Int("requests", 4), options.Int("tokens", 64),
            options.Int("parallel", 8), threads, TimeSpan.FromSeconds(options.Int("seconds", 300)));
        break;
    }
    case "scheduler-load":
    {
        SchedulerLoad.Run(options.Required("model"), (options.Get("clients") ?? "1,4,8").Split(',').Select(int.Parse).ToArray(), options.Int("tokens", 128), threads);
        break;
    }
    case "llama-quantize":
    {
        // The K-quant mixes people download are written by llama.cpp's quantizer; this is it, via LLamaSharp.
        string type = options.Required("type");
        var watch = Stopwatch.StartNew();
        LLama.Native.NativeApi.llama_empty_call(); // loads the native library for this CPU before the quantizer's first call
        // The type's exact name (LLamaSharp's own lookup takes "q2_k" for a prefix of Q2_K_S too and refuses it).
        int quantizerThreads = threads > 0 ? threads : Environment.ProcessorCount;
        bool written = Enum.TryParse<LLama.Native.LLamaFtype>("MOSTLY_" + type, ignoreCase: true, out var ftype)
            ? LLama.LLamaQuantizer.Quantize(options.Required("model"), options.Required("output"), ftype, quantizerThreads)
            : LLama.LLamaQuantizer.Quantize(options.Required("model"), options.Required("output"), type, quantizerThreads);
        if (!written)
        {
            Console.Error.WriteLine($"error: llama.cpp could not quantize {options.Required("model")} to {type}");
            return 1;
        }
        Console.WriteLine($"wrote {options.Required("output")} ({new FileInfo(options.Required("output")).Length:N0} bytes, {type}) in {watch.Elapsed.TotalSeconds:F1} s");
        break;
    }
    case "peer":
    {
        PeerBench.Run(options.Required("model"), options.Int("prompt", 512), options.Int("gen", 128), options.Int("runs", 3), threads, options.Get("sling-model"));
        break;
    }
    case "micro":
    {
        // BenchmarkDotNet over the products (Release build, about 2 minutes): time, GB/s, GOP/s.
        BenchmarkDotNet.Running.BenchmarkRunner.Run<KernelMicro>(args: args.Skip(1).ToArray());
        break;
    }
    case "pool":
    {
        // Cost of one parallel operation with almost no work: the synchronization a token pays ~100 times.
        var pool = Sling.Kernels.ComputePool.Get(threads);
        var job = new NoWork();
        for (int i = 0; i < 1000; i++) pool.Run(16, job);
        var clock = Stopwatch.StartNew();
        const int Ops = 20000;
        for (int i = 0; i < Ops; i++) pool.Run(16, job);
        Console.WriteLine($"{pool.Threads} threads: {clock.Elapsed.TotalMicroseconds / Ops:F2} µs per operation of 16 empty items");
        break;
    }
    case "bandwidth":
    {
        for (int t = 1; t <= Environment.ProcessorCount; t++)
            Console.WriteLine($"{t} threads: {Sling.Evaluation.MemoryBandwidth.MeasureGBPerSecond(t):F1} GB/s read");
        break;
    }
    case "attention":
    {
        // One head's scores and weighted sum over N cached positions (f32), single thread: ns per position.
        int dim = options.Int("dim", 64), positions = options.Int("positions", 512), stride = options.Int("stride", 256);
        var rng = new Random(1);
        var q = Enumerable.Range(0, dim).Select(_ => (float)rng.NextDouble()).ToArray();
        var cache = Enumerable.Range(0, positions * stride).Select(_ => (float)rng.NextDouble()).ToArray();
        var scores = new float[positions];
        var output = new float[dim];
        for (int pass = 0; pass < 2; pass++)
        {
            double best = double.MaxValue, bestSum = double.MaxValue;
            for (int r = 0; r < 20; r++)
            {
                long t0 = Stopwatch.GetTimestamp();
                for (int k = 0; k < 200; k++) Sling.Kernels.Attention.Scores(q, cache, stride, scores, 0.125f);
                long t1 = Stopwatch.GetTimestamp();
                for (int k = 0; k < 200; k++) Sling.Kernels.Attention.WeightedSum(scores, cache, stride, output);
                long t2 = Stopwatch.GetTimestamp();
                best = Math.Min(best, Stopwatch.GetElapsedTime(t0, t1).TotalNanoseconds / 200);
                bestSum = Math.Min(bestSum, Stopwatch.GetElapsedTime(t1, t2).TotalNanoseconds / 200);
            }
            if (pass == 1) Console.WriteLine($"head {dim}, {positions} positions: scores {best / positions:F2} ns/position, weighted sum {bestSum / positions:F2} ns/position ({2.0 * dim * positions / best:F1} / {2.0 * dim * positions / bestSum:F1} GFLOP/s)");
        }
        break;
    }
    case "kernel":
    {
        foreach (var isa in options.Get("isa") is { } name ? [Enum.Parse<Sling.Kernels.KernelIsa>(name, true)] : Sling.Kernels.KernelIsas.Available.Reverse())
            KernelBench.Run(options.Int("rows", 5632), options.Int("cols", 2048), options.Get("format") ?? "q4_0", tokens, threads, isa, 1.0);
        break;
    }
    case "ceiling":
    {
        CeilingBench.Run(threads, options.Int("seconds", 2), options.Int("rows", 5632), options.Int("cols", 2048), options.Int("tokens", 512));
        break;
    }
    case "stream":
    {
        StreamBench.Run(options.Int("rows", 2048), options.Int("cols", 2048), options.Get("format") ?? "q4_0", options.Int("copies", 100), threads, options.Int("passes", 10));
        break;
    }
    case "generate":
    {
        var load = Stopwatch.StartNew();
        using var model = ModelLoader.Load(options.Required("model"), options.Get("tokenizer"), threads);
        Console.WriteLine($"model      {model.Source}");
        Console.WriteLine($"load       {load.Elapsed.TotalMilliseconds:F0} ms");
        Report.Weights(model.Transformer);
        var generator = new TextGenerator(model.Transformer, model.Tokenizer);
        var greedy = new GenerationOptions { Temperature = 0, MaxTokens = tokens };
        generator.Generate("", greedy with { MaxTokens = 16 }); // warm up the JIT
        var runs = Enumerable.Range(0, options.Int("runs", 5)).Select(_ => generator.Generate("", greedy)).ToList();
        Report.Speeds(runs.Select(r => r.GenerationTokensPerSecond).ToList(), runs[0].GeneratedTokens, model.Transformer.Pool.Threads);
        break;
    }
    case "synthetic":
    {
        var shape = SyntheticModel.Shape(options.Required("shape"));
        using var model = SyntheticModel.Create(options.Required("shape"), threads);
        Console.WriteLine($"model      synthetic {options.Required("shape")} (random fp32 weights)");
        Report.Weights(model);
        var speeds = new List<double>();
        for (int run = 0; run < options.Int("runs", 3); run++)
        {
            var state = model.CreateState();
            var clock = Stopwatch.StartNew();
            for (int pos = 0; pos < tokens; pos++) model.Forward(state, (pos * 7919) % shape.VocabSize, pos);
            speeds.Add(tokens / clock.Elapsed.TotalSeconds);
        }
        Report.Speeds(speeds, tokens, model.Pool.Threads);
        break;
    }
    case "hf-load":
    {
        // First vs second load of a Hugging Face folder whose weights are converted at load.
        string shapeName = options.Required("shape");
        string dtype = options.Get("dtype") ?? "bf16";
        string work = Directory.CreateTempSubdirectory("sling-bench-").FullName;
        try
        {
            string folder = Path.Combine(work, shapeName);
            SyntheticModel.WriteHuggingFaceFolder(SyntheticModel.Shape(shapeName), folder);
            Console.WriteLine($"folder     {folder} ({new FileInfo(Path.Combine(folder, "model.safetensors")).Length:N0} bytes, F32)");
            var cache = new ModelCache(Path.Combine(work, "cache"));
            double Time(string label, LoadOptions o)
            {
                var clock = Stopwatch.StartNew();
                using var t = ModelLoader.LoadTransformer(folder, o);
                double ms = clock.Elapsed.TotalMilliseconds;
                var state = t.CreateState(64);
                var g = Stopwatch.StartNew();
                for (int pos = 0; pos < tokens; pos++) t.Forward(state, pos % t.Config.VocabSize, pos);
                Console.WriteLine($"{label,-34} load {ms,8:F0} ms   then {tokens / g.Elapsed.TotalSeconds:F1} tok/s ({string.Join("/", ModelSummary.Of(t).Formats)})");
                return ms;
            }
            Time("in place (--dtype auto)", new LoadOptions { Threads = threads });
            Time($"first load, --dtype {dtype} (convert)", new LoadOptions { Threads = threads, DType = WeightConversion.ParseName(dtype), Cache = cache });
            Time($"second load, --dtype {dtype} (cache)", new LoadOptions { Threads = threads, DType = WeightConversion.ParseName(dtype), Cache = cache });
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
        break;
    }
    case "tokenize":
    {
        // Encoding speed on about 1 MB of English-like text (sentences of common words in random order).
        var tokenizer = Sling.Tokenization.TokenizerLoader.Load(options.Required("tokenizer"));
        string text = EnglishText.Generate(options.Int("kilobytes", 1024) * 1024, seed: 1);
        tokenizer.Encode(text[..10_000], false); // warm up the JIT
        var times = new List<double>();
        int count = 0;
        for (int run = 0; run < options.Int("runs", 3); run++)
        {
            var clock = Stopwatch.StartNew();
            count = tokenizer.Encode(text, false).Count;
            times.Add(clock.Elapsed.TotalSeconds);
        }
        times.Sort();
        int bytes = System.Text.Encoding.UTF8.GetByteCount(text);
        Console.WriteLine($"tokenizer  {options.Required("tokenizer")} ({tokenizer.GetType().Name}, {tokenizer.VocabSize} tokens)");
        Console.WriteLine($"encode     {bytes:N0} bytes -> {count:N0} tokens: median {times[times.Count / 2]:F3} s ({bytes / times[times.Count / 2] / 1e6:F2} MB/s)");
        break;
    }
    case "quant-speed":
    {
        // Generation speed and weight size of one real-shaped model in each precision.
        string shapeName = options.Required("shape");
        int group = options.Int("group-size", 128);
        string work = Directory.CreateTempSubdirectory("sling-bench-").FullName;
        try
        {
            string folder = Path.Combine(work, "f32");
            SyntheticModel.WriteHuggingFaceFolder(SyntheticModel.Shape(shapeName), folder);
            var variants = new List<(string Name, string Folder, LoadOptions Options)>
            {
                ("f32", folder, new LoadOptions { Threads = threads }),
                ("bf16", folder, new LoadOptions { Threads = threads, DType = WeightDType.BF16, Cache = new ModelCache(Path.Combine(work, "cache")) }),
            };
            foreach (var (name, config) in new (string, Sling.Quantization.WeightQuantizationConfig)[]
            {
                ("int8 asym per-channel", new() { Bits = 8, GroupSize = -1, AllLayers = true }),
                ($"int4 asym g{group}, ratio 0.8", new() { Bits = 4, GroupSize = group, Ratio = 0.8 }),
                ($"int4 asym g{group}, ratio 1.0", new() { Bits = 4, GroupSize = group }),
            })
            {
                string output = Path.Combine(work, variants.Count.ToString());
                Sling.Quantization.ModelQuantizer.Quantize(folder, output, config);
                variants.Add((name, output, new LoadOptions { Threads = threads }));
            }
            Console.WriteLine($"| {shapeName} weights | bytes | bits/weight | tok/s (median of {options.Int("runs", 3)}) |");
            Console.WriteLine("| --- | --- | --- | --- |");
            foreach (var (name, path, loadOptions) in variants)
            {
                using var model = ModelLoader.LoadTransformer(path, loadOptions);
                var summary = ModelSummary.Of(model);
                var speeds = new List<double>();
                for (int run = 0; run <= options.Int("runs", 3); run++)
                {
                    var state = model.CreateState(tokens);
                    var clock = Stopwatch.StartNew();
                    for (int pos = 0; pos < tokens; pos++) model.Forward(state, (pos * 7919) % model.Config.VocabSize, pos);
                    if (run > 0) speeds.Add(tokens / clock.Elapsed.TotalSeconds); // run 0 warms up JIT and page cache
                }
                speeds.Sort();
                Console.WriteLine($"| {name} | {summary.WeightBytes:N0} | {summary.BitsPerWeight(model):F2} | {speeds[speeds.Count / 2]:F1} |");
            }
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
        break;
    }
    case "quant-table":
    {
        // Size and quality of each quantization setting against the float model, on 400 tokens the
        // float model samples at temperature 1 (seed fixed), as the README's table shows.
        string source = options.Required("model");
        using var reference = ModelLoader.Load(source);
        ulong textSeed = (ulong)options.Int("text-seed", 2026);
        string text = reference.CreateGenerator().Generate("", new GenerationOptions { Temperature = 1, TopK = 0, TopP = 1, Seed = textSeed, MaxTokens = 400 }).Text;
        var textTokens = reference.Tokenizer.Encode(text, addBos: true);
        var refPpl = Sling.Evaluation.Perplexity.Compute(reference.Transformer, textTokens, 512, 256);
        Console.WriteLine($"reference  {source}: {textTokens.Count} tokens (text seed {textSeed}), perplexity {refPpl.Perplexity:F3}");
        Console.WriteLine("| setting | weights bytes | bits/weight | mean KL | top-1 agreement | perplexity |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- |");
        // Data-aware rows calibrate on texts the float model writes with other seeds than the evaluation text's.
        var calibration = new Sling.Quantization.CalibrationOptions { Dataset = options.Get("dataset") ?? "self:32", SampleLength = 256, Seed = options.Int("calibration-seed", 7) };
        string work = Directory.CreateTempSubdirectory("sling-quant-").FullName;
        try
        {
            var settings = new (string Name, Sling.Quantization.WeightQuantizationConfig Config)[]
            {
                ("int8 asym per-channel, all layers", new() { Bits = 8, GroupSize = -1, AllLayers = true }),
                ("int4 asym g32, ratio 1.0", new() { Bits = 4, GroupSize = 32 }),
                ("int4 sym g32, ratio 1.0", new() { Bits = 4, GroupSize = 32, Symmetric = true }),
                ("int4 asym g64, ratio 1.0", new() { Bits = 4, GroupSize = 64 }),
                ("int4 sym g64, ratio 1.0", new() { Bits = 4, GroupSize = 64, Symmetric = true }),
                ("int4 asym g32, ratio 0.8", new() { Bits = 4, GroupSize = 32, Ratio = 0.8 }),
                ("int4 asym g64, ratio 0.8", new() { Bits = 4, GroupSize = 64, Ratio = 0.8 }),
                ("int4 asym g32, ratio 1.0, scale search", new() { Bits = 4, GroupSize = 32, ScaleSearch = true }),
                ("int4 sym g32, ratio 1.0, scale search", new() { Bits = 4, GroupSize = 32, Symmetric = true, ScaleSearch = true }),
                ("int4 asym g32, ratio 1.0, AWQ", new() { Bits = 4, GroupSize = 32, Awq = true, Calibration = calibration }),
                ("int4 asym g32, ratio 1.0, scale estimation", new() { Bits = 4, GroupSize = 32, ScaleEstimation = true, Calibration = calibration }),
                ("int4 asym g32, ratio 1.0, AWQ + scale estimation", new() { Bits = 4, GroupSize = 32, Awq = true, ScaleEstimation = true, Calibration = calibration }),
                ("int4 asym g32, ratio 1.0, GPTQ", new() { Bits = 4, GroupSize = 32, Gptq = true, Calibration = calibration }),
                ("int4 asym g32, ratio 1.0, AWQ + GPTQ", new() { Bits = 4, GroupSize = 32, Awq = true, Gptq = true, Calibration = calibration }),
                ("int4 asym g32, ratio 0.8, hessian_input_activation", new() { Bits = 4, GroupSize = 32, Ratio = 0.8, Sensitivity = Sling.Quantization.SensitivityMetric.HessianInputActivation, Calibration = calibration }),
                ("int4 asym g32, ratio 0.8, mean_activation_variance", new() { Bits = 4, GroupSize = 32, Ratio = 0.8, Sensitivity = Sling.Quantization.SensitivityMetric.MeanActivationVariance, Calibration = calibration }),
            };
            for (int i = 0; i < settings.Length; i++)
            {
                string output = Path.Combine(work, i.ToString());
                var report = Sling.Quantization.ModelQuantizer.Quantize(source, output, settings[i].Config);
                using var model = ModelLoader.Load(output);
                model.Transformer.IntegerActivations = false; // what the weights cost, as NNCF measures it
                var r = Sling.Evaluation.ModelComparison.Compare(model.Transformer, reference.Transformer, textTokens, 512, 256);
                var summary = ModelSummary.Of(model.Transformer);
                // With --text-seeds, also the mean KL over several texts (the README's ten: 1,2,3,4,5,6,7,8,42,2026).
                string average = "";
                if (options.Get("text-seeds") is { } seeds)
                {
                    var kls = seeds.Split(',').Select(ulong.Parse).Select(seed =>
                    {
                        var t = reference.CreateGenerator().Generate("", new GenerationOptions { Temperature = 1, TopK = 0, TopP = 1, Seed = seed, MaxTokens = 400 }).Text;
                        return Sling.Evaluation.ModelComparison.Compare(model.Transformer, reference.Transformer, reference.Tokenizer.Encode(t, addBos: true), 512, 256).MeanKlDivergence;
                    }).ToList();
                    average = $" {kls.Average():F4} (worst {kls.Max():F4}) |";
                }
                Console.WriteLine($"| {settings[i].Name} | {report.BytesAfter:N0} | {summary.BitsPerWeight(model.Transformer):F2} | {r.MeanKlDivergence:F4} | {100 * r.TopOneAgreement:F1} % | {r.Perplexity:F3} |{average}");
            }
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
        break;
    }
    default:
        Console.Error.WriteLine("usage: Sling.Bench generate --model PATH [--tokens N] | synthetic --shape NAME [--tokens N]");
        return 2;
}
return 0;

internal sealed class NoWork : Sling.Kernels.IParallelJob
{
    public int Count;
    public void Execute(int item) => Interlocked.Increment(ref Count);
}
