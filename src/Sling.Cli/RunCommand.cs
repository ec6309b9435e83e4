using System.CommandLine;
using Sling.Generation;
using Sling.Models;

namespace Sling.Cli;

/// <summary>`sling run`: generate text from a prompt, streaming it to stdout; statistics go to stderr.</summary>
internal static class RunCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr, TextReader stdin)
    {
        var model = CommonOptions.Model();
        var tokenizer = CommonOptions.Tokenizer();
        var prompt = new Option<string>("--prompt", "-p") { Description = "Text to continue (default: empty, start from BOS); - reads it from stdin", DefaultValueFactory = _ => "" };
        var promptFile = new Option<string?>("--prompt-file", "-f") { Description = "Read the prompt from this UTF-8 file" };
        var kvCache = new Option<string>("--kv-cache") { Description = "Key/value cache precision: f32 (exact) or f16 (half the memory)", DefaultValueFactory = _ => "f32" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object (text, token counts, timings, stop reason) instead of streaming text" };
        var temperature = new Option<float>("--temperature", "-t") { Description = "Sampling temperature; 0 = greedy", DefaultValueFactory = _ => 0.8f };
        var topK = new Option<int>("--top-k") { Description = "Sample among the K most likely tokens; 0 = all", DefaultValueFactory = _ => 40 };
        var topP = new Option<float>("--top-p") { Description = "Sample within the top P of probability mass; 1 = all", DefaultValueFactory = _ => 0.95f };
        var repeatPenalty = new Option<float>("--repeat-penalty") { Description = "Penalty for recently seen tokens; 1 = off", DefaultValueFactory = _ => 1.0f };
        var seed = new Option<ulong?>("--seed", "-s") { Description = "Random seed; the same seed gives the same text (default: time-based)" };
        var maxTokens = new Option<int>("--max-tokens", "-n") { Description = "Maximum tokens to generate", DefaultValueFactory = _ => 256 };
        var stop = new Option<string[]>("--stop") { Description = "Stop when this text appears (repeatable)", AllowMultipleArgumentsPerToken = false };
        var context = new Option<int>("--context", "-c") { Description = "Context length to reserve (prompt + answer), at most the model's", DefaultValueFactory = _ => 4096 };
        var dtype = new Option<string>("--dtype") { Description = "Weight dtype: auto (as stored, in place) or f32/f16/bf16 (converted once, then cached)", DefaultValueFactory = _ => "auto" };
        var cacheDir = new Option<string?>("--cache-dir") { Description = "Where converted weights are kept (default: $SLING_CACHE_DIR or ~/.cache/sling)" };
        var noEcho = new Option<bool>("--no-echo") { Description = "Print only the generated text, not the prompt before it" };
        var threads = CommonOptions.Threads();

        var command = new Command("run", "Generate text from a prompt")
        {
            model, tokenizer, prompt, promptFile, temperature, topK, topP, repeatPenalty, seed, maxTokens, stop, context, dtype, cacheDir, noEcho, threads, json, kvCache,
        };
        command.SetAction(parse =>
        {
            if (parse.GetValue(threads) < 0) throw new SlingException("--threads must be 0 (all cores) or more");

            string? cachePath = parse.GetValue(cacheDir);
            using var loaded = ModelLoader.Load(parse.GetValue(model)!, new LoadOptions
            {
                TokenizerPath = parse.GetValue(tokenizer),
                Threads = parse.GetValue(threads),
                DType = parse.GetValue(dtype)!,
                Cache = cachePath == null ? null : new ModelCache(cachePath),
                Log = line => stderr.WriteLine(line),
            });
            loaded.Transformer.CachePrecision = CachePrecision(parse.GetValue(kvCache)!);
            var generator = loaded.CreateGenerator();
            ulong actualSeed = parse.GetValue(seed) ?? (ulong)DateTime.UtcNow.Ticks;
            var defaults = loaded.GenerationDefaults;
            // An option the user did not type falls back to the model's generation_config.json, then to Sling's default.
            T Pick<T>(Option<T> option, T? fromModel) where T : struct
                => parse.GetResult(option) is { Implicit: false } || fromModel is null ? parse.GetValue(option)! : fromModel.Value;
            float? modelTemperature = defaults.DoSample == false ? 0f : defaults.Temperature;
            var options = new GenerationOptions
            {
                Temperature = Pick(temperature, modelTemperature),
                TopK = Pick(topK, defaults.TopK),
                TopP = Pick(topP, defaults.TopP),
                RepetitionPenalty = Pick(repeatPenalty, defaults.RepetitionPenalty),
                Seed = actualSeed,
                MaxTokens = parse.GetValue(maxTokens),
                StopStrings = parse.GetValue(stop) ?? [],
                ContextLength = parse.GetValue(context),
            };
            options.Validate();
            string promptText = parse.GetValue(prompt) ?? "";
            if (parse.GetValue(promptFile) is { } file)
            {
                if (parse.GetResult(prompt) is { Implicit: false }) throw new SlingException("give the prompt with --prompt or --prompt-file, not both");
                if (!File.Exists(file)) throw new SlingException($"{file}: prompt file not found");
                promptText = File.ReadAllText(file);
            }
            else if (promptText == "-") promptText = stdin.ReadToEnd();
            bool asJson = parse.GetValue(json);
            // A reader that goes away (`| head`) ends the run quietly; any other write failure is reported.
            using var readerGone = new CancellationTokenSource();
            bool closed = false;
            void Write(string text)
            {
                if (closed) return;
                try
                {
                    stdout.Write(text);
                    stdout.Flush();
                }
                catch (IOException e) when (Consoles.IsClosedPipe(e))
                {
                    closed = true;
                    readerGone.Cancel();
                }
                catch (IOException e)
                {
                    throw new SlingException($"cannot write the output: {e.Message}");
                }
            }
            if (!parse.GetValue(noEcho) && !asJson) Write(promptText);
            var result = generator.Generate(promptText, options, asJson ? null : Write, readerGone.Token);
            if (closed) return 0;
            if (asJson)
            {
                Write(System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["text"] = result.Text,
                    ["prompt_tokens"] = result.PromptTokens,
                    ["generated_tokens"] = result.GeneratedTokens,
                    ["prompt_seconds"] = result.PromptTime.TotalSeconds,
                    ["generation_seconds"] = result.GenerationTime.TotalSeconds,
                    ["prompt_tokens_per_second"] = result.PromptTokensPerSecond,
                    ["generation_tokens_per_second"] = result.GenerationTokensPerSecond,
                    ["stop_reason"] = Describe(result.StopReason),
                    ["seed"] = actualSeed,
                    ["threads"] = loaded.Transformer.Pool.Threads,
                }));
            }
            Write(Environment.NewLine);
            // A one-token prompt's speed would be start-up cost: say how long the first token took instead.
            string promptSpeed = result.PromptTokens > 1 ? $"{result.PromptTokensPerSecond:F1} tok/s" : $"first token after {result.PromptTime.TotalMilliseconds:F0} ms";
            stderr.WriteLine(
                $"prompt: {result.PromptTokens} tokens, {promptSpeed} | " +
                $"generated: {result.GeneratedTokens} tokens, {result.GenerationTokensPerSecond:F1} tok/s | " +
                $"stop: {Describe(result.StopReason)} | seed {actualSeed} | threads {loaded.Transformer.Pool.Threads}");
            return 0;
        });
        return command;
    }

    internal static KvCachePrecision CachePrecision(string value) => value switch
    {
        "f32" => KvCachePrecision.F32,
        "f16" => KvCachePrecision.F16,
        _ => throw new SlingException($"--kv-cache {value}: expected f32 or f16"),
    };

    private static string Describe(StopReason reason) => reason switch
    {
        StopReason.EndOfSequence => "end of sequence",
        StopReason.StopString => "stop string",
        StopReason.MaxTokens => "max tokens",
        StopReason.ContextFull => "context full",
        StopReason.Cancelled => "cancelled",
        _ => reason.ToString(),
    };
}
