using System.CommandLine;
using Sling.Generation;

namespace Sling.Cli;

/// <summary>`sling run`: generate text from a prompt, streaming it to stdout; statistics go to stderr.</summary>
internal static class RunCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr, TextReader stdin)
    {
        var modelOptions = new ModelOptions();
        var sampling = new SamplingOptions();
        var prompt = new Option<string>("--prompt", "-p") { Description = "Text to continue (default: empty, start from BOS); - reads it from stdin", DefaultValueFactory = _ => "" };
        var promptFile = new Option<string?>("--prompt-file", "-f") { Description = "Read the prompt from this UTF-8 file" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object (text, token counts, timings, stop reason) instead of streaming text" };
        var noEcho = new Option<bool>("--no-echo") { Description = "Print only the generated text, not the prompt before it" };

        var command = new Command("run", "Generate text from a prompt") { prompt, promptFile, noEcho, json };
        modelOptions.AddTo(command);
        sampling.AddTo(command);
        command.SetAction(parse =>
        {
            using var model = modelOptions.Load(parse, stderr);
            var options = sampling.Build(parse, model.DefaultOptions, out ulong actualSeed);
            string promptText = parse.GetValue(prompt) ?? "";
            if (parse.GetValue(promptFile) is { } file)
            {
                if (parse.GetResult(prompt) is { Implicit: false }) throw new SlingException("give the prompt with --prompt or --prompt-file, not both");
                if (!File.Exists(file)) throw new SlingException($"{file}: prompt file not found");
                promptText = File.ReadAllText(file);
            }
            else if (promptText == "-") promptText = stdin.ReadToEnd();
            bool asJson = parse.GetValue(json);
            using var output = new StreamingOutput(stdout);
            if (!parse.GetValue(noEcho) && !asJson) output.Write(promptText);
            var result = model.Generate(promptText, options, asJson ? null : output.Write, output.ReaderGone);
            if (output.Closed) return 0;
            if (asJson)
            {
                output.Write(System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
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
                    ["threads"] = model.Threads,
                }));
            }
            output.Write(Environment.NewLine);
            stderr.WriteLine($"{Statistics(result)} | seed {actualSeed} | threads {model.Threads}");
            return 0;
        });
        return command;
    }

    /// <summary>One line of counts and speeds for stderr.</summary>
    internal static string Statistics(GenerationResult result)
    {
        // A one-token prompt's speed would be start-up cost: say how long the first token took instead.
        string promptSpeed = result.ProcessedPromptTokens > 1 ? $"{result.PromptTokensPerSecond:F1} tok/s" : $"first token after {result.PromptTime.TotalMilliseconds:F0} ms";
        string reused = result.ReusedPromptTokens > 0 ? $" ({result.ReusedPromptTokens} reused from the cache, {result.ProcessedPromptTokens} processed)" : "";
        return $"prompt: {result.PromptTokens} tokens{reused}, {promptSpeed} | " +
               $"generated: {result.GeneratedTokens} tokens, {result.GenerationTokensPerSecond:F1} tok/s | stop: {Describe(result.StopReason)}";
    }

    internal static string Describe(StopReason reason) => reason switch
    {
        StopReason.EndOfSequence => "end of sequence",
        StopReason.StopString => "stop string",
        StopReason.MaxTokens => "max tokens",
        StopReason.ContextFull => "context full",
        StopReason.Cancelled => "cancelled",
        _ => reason.ToString(),
    };
}
