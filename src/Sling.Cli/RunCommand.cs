using System.CommandLine;
using Sling.Generation;
using Sling.Models;

namespace Sling.Cli;

/// <summary>`sling run`: generate text from a prompt, streaming it to stdout; statistics go to stderr.</summary>
internal static class RunCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = new Option<string>("--model", "-m") { Description = "Model: a llama2.c .bin checkpoint", Required = true };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Tokenizer file (default: the one beside the model)" };
        var prompt = new Option<string>("--prompt", "-p") { Description = "Text to continue (default: empty, start from BOS)", DefaultValueFactory = _ => "" };
        var temperature = new Option<float>("--temperature", "-t") { Description = "Sampling temperature; 0 = greedy", DefaultValueFactory = _ => 0.8f };
        var topK = new Option<int>("--top-k") { Description = "Sample among the K most likely tokens; 0 = all", DefaultValueFactory = _ => 40 };
        var topP = new Option<float>("--top-p") { Description = "Sample within the top P of probability mass; 1 = all", DefaultValueFactory = _ => 0.95f };
        var repeatPenalty = new Option<float>("--repeat-penalty") { Description = "Penalty for recently seen tokens; 1 = off", DefaultValueFactory = _ => 1.0f };
        var seed = new Option<ulong?>("--seed", "-s") { Description = "Random seed; the same seed gives the same text (default: time-based)" };
        var maxTokens = new Option<int>("--max-tokens", "-n") { Description = "Maximum tokens to generate", DefaultValueFactory = _ => 256 };
        var stop = new Option<string[]>("--stop") { Description = "Stop when this text appears (repeatable)", AllowMultipleArgumentsPerToken = false };
        var noEcho = new Option<bool>("--no-echo") { Description = "Print only the generated text, not the prompt before it" };
        var threads = new Option<int>("--threads") { Description = "Worker threads; 0 = all cores", DefaultValueFactory = _ => 0 };

        var command = new Command("run", "Generate text from a prompt")
        {
            model, tokenizer, prompt, temperature, topK, topP, repeatPenalty, seed, maxTokens, stop, noEcho, threads,
        };
        command.SetAction(parse =>
        {
            ulong actualSeed = parse.GetValue(seed) ?? (ulong)DateTime.UtcNow.Ticks;
            var options = new GenerationOptions
            {
                Temperature = parse.GetValue(temperature),
                TopK = parse.GetValue(topK),
                TopP = parse.GetValue(topP),
                RepetitionPenalty = parse.GetValue(repeatPenalty),
                Seed = actualSeed,
                MaxTokens = parse.GetValue(maxTokens),
                StopStrings = parse.GetValue(stop) ?? [],
            };
            options.Validate();
            if (parse.GetValue(threads) < 0) throw new SlingException("--threads must be 0 (all cores) or more");

            using var loaded = ModelLoader.Load(parse.GetValue(model)!, parse.GetValue(tokenizer), parse.GetValue(threads));
            var generator = loaded.CreateGenerator();
            string promptText = parse.GetValue(prompt) ?? "";
            if (!parse.GetValue(noEcho)) stdout.Write(promptText);
            var result = generator.Generate(promptText, options, piece =>
            {
                stdout.Write(piece);
                stdout.Flush();
            });
            stdout.WriteLine();
            stdout.Flush();
            stderr.WriteLine(
                $"prompt: {result.PromptTokens} tokens, {result.PromptTokensPerSecond:F1} tok/s | " +
                $"generated: {result.GeneratedTokens} tokens, {result.GenerationTokensPerSecond:F1} tok/s | " +
                $"stop: {Describe(result.StopReason)} | seed {actualSeed} | threads {loaded.Transformer.MatVec.Threads}");
            return 0;
        });
        return command;
    }

    private static string Describe(StopReason reason) => reason switch
    {
        StopReason.EndOfSequence => "end of sequence",
        StopReason.StopString => "stop string",
        StopReason.MaxTokens => "max tokens",
        StopReason.ContextFull => "context full",
        _ => reason.ToString(),
    };
}
