using System.CommandLine;
using Sling.Generation;

namespace Sling.Cli;

/// <summary>The sampling and length options of `run` and `chat`. An option the user does not type
/// falls back to the model's defaults (its generation_config.json over Sling's).</summary>
internal sealed class SamplingOptions
{
    readonly Option<float> _temperature = new("--temperature", "-t") { Description = "Sampling temperature; 0 = greedy", DefaultValueFactory = _ => 0.8f };
    readonly Option<int> _topK = new("--top-k") { Description = "Sample among the K most likely tokens; 0 = all", DefaultValueFactory = _ => 40 };
    readonly Option<float> _topP = new("--top-p") { Description = "Sample within the top P of probability mass; 1 = all", DefaultValueFactory = _ => 0.95f };
    readonly Option<float> _repeatPenalty = new("--repeat-penalty") { Description = "Penalty for recently seen tokens; 1 = off", DefaultValueFactory = _ => 1.0f };
    readonly Option<ulong?> _seed = new("--seed", "-s") { Description = "Random seed; the same seed gives the same text (default: time-based)" };
    readonly Option<int> _maxTokens;
    readonly Option<string[]> _stop = new("--stop") { Description = "Stop when this text appears (repeatable)", AllowMultipleArgumentsPerToken = false };
    readonly Option<int> _context = new("--context", "-c") { Description = "Context length to reserve (prompt + answer), at most the model's", DefaultValueFactory = _ => 4096 };

    public SamplingOptions(int defaultMaxTokens = 256, string maxTokensHelp = "Maximum tokens to generate")
    {
        _maxTokens = new("--max-tokens", "-n") { Description = maxTokensHelp, DefaultValueFactory = _ => defaultMaxTokens };
    }

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { _temperature, _topK, _topP, _repeatPenalty, _seed, _maxTokens, _stop, _context })
            command.Options.Add(option);
    }

    /// <summary>The seed actually used (typed, or from the clock) and the options over <paramref name="modelDefaults"/>.</summary>
    public GenerationOptions Build(ParseResult parse, GenerationOptions modelDefaults, out ulong seed)
    {
        T Pick<T>(Option<T> option, T fromModel) => parse.GetResult(option) is { Implicit: false } ? parse.GetValue(option)! : fromModel;
        seed = parse.GetValue(_seed) ?? (ulong)DateTime.UtcNow.Ticks;
        var options = modelDefaults with
        {
            Temperature = Pick(_temperature, modelDefaults.Temperature),
            TopK = Pick(_topK, modelDefaults.TopK),
            TopP = Pick(_topP, modelDefaults.TopP),
            RepetitionPenalty = Pick(_repeatPenalty, modelDefaults.RepetitionPenalty),
            Seed = seed,
            MaxTokens = parse.GetValue(_maxTokens),
            StopStrings = parse.GetValue(_stop) ?? [],
            ContextLength = parse.GetValue(_context),
        };
        options.Validate();
        return options;
    }
}
