using System.CommandLine;
using Sling.Evaluation;
using Sling.Models;
using Spectre.Console;

namespace Sling.Cli;

/// <summary>`sling perplexity` and `sling compare`: what a model (e.g. a quantized one) costs in quality.</summary>
internal static class EvaluationCommands
{
    private static Option<int> Window() => new("--window") { Description = "Tokens of context per scoring window (at most the model's)", DefaultValueFactory = _ => 512 };
    private static Option<int?> Stride() => new("--stride") { Description = "Tokens between window starts (default: half the window)" };
    private static Option<string> Text() => new("--text") { Description = "UTF-8 text file to score", Required = true };

    private static IReadOnlyList<int> ReadTokens(string path, LoadedModel model)
    {
        if (!File.Exists(path)) throw new SlingException($"{path}: text file not found");
        return model.Tokenizer.Encode(File.ReadAllText(path), addBos: true);
    }

    public static Command Perplexity(TextWriter stdout, TextWriter stderr)
    {
        var model = new Option<string>("--model", "-m") { Description = "Model folder or file", Required = true };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Tokenizer file (default: the one beside the model)" };
        var text = Text();
        var window = Window();
        var stride = Stride();
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => 0, Description = "Worker threads; 0 = all cores" };
        var command = new Command("perplexity", "Token-level perplexity of a model on a text, over sliding windows") { model, tokenizer, text, window, stride, threads };
        command.SetAction(parse =>
        {
            using var m = ModelLoader.Load(parse.GetValue(model)!, parse.GetValue(tokenizer), parse.GetValue(threads));
            var tokens = ReadTokens(parse.GetValue(text)!, m);
            int w = Math.Min(parse.GetValue(window), m.Config.MaxSeqLen);
            int s = parse.GetValue(stride) ?? Math.Max(1, w / 2);
            var result = Consoles.WithProgress(stderr, "scoring", update =>
                Evaluation.Perplexity.Compute(m.Transformer, tokens, w, s, new Progress(update)));
            stdout.WriteLine($"perplexity {result.Perplexity:F4} ({result.ScoredTokens} tokens scored, window {w}, stride {s})");
            return 0;
        });
        return command;
    }

    public static Command Compare(TextWriter stdout, TextWriter stderr)
    {
        var model = new Option<string>("--model", "-m") { Description = "The model to judge (e.g. the quantized one)", Required = true };
        var reference = new Option<string>("--reference", "-r") { Description = "The reference model (e.g. the original)", Required = true };
        var text = Text();
        var window = Window();
        var stride = Stride();
        var command = new Command("compare", "KL divergence, top-1 agreement and perplexity of a model against a reference") { model, reference, text, window, stride };
        command.SetAction(parse =>
        {
            using var judged = ModelLoader.Load(parse.GetValue(model)!);
            using var truth = ModelLoader.Load(parse.GetValue(reference)!);
            var tokens = ReadTokens(parse.GetValue(text)!, truth);
            int w = Math.Min(parse.GetValue(window), Math.Min(judged.Config.MaxSeqLen, truth.Config.MaxSeqLen));
            int s = parse.GetValue(stride) ?? Math.Max(1, w / 2);
            var r = Consoles.WithProgress(stderr, "comparing", update =>
                ModelComparison.Compare(judged.Transformer, truth.Transformer, tokens, w, s, new Progress(update)));
            var table = new Table().AddColumns("measure", "value");
            table.AddRow("mean KL divergence", r.MeanKlDivergence.ToString("F6"));
            table.AddRow("top-1 agreement", $"{100 * r.TopOneAgreement:F2} %");
            table.AddRow("perplexity (model)", r.Perplexity.ToString("F4"));
            table.AddRow("perplexity (reference)", r.ReferencePerplexity.ToString("F4"));
            table.AddRow("tokens scored", r.ScoredTokens.ToString());
            Consoles.For(stdout).Write(table);
            return 0;
        });
        return command;
    }

    private sealed class Progress(Action<double, string> update) : IProgress<double>
    {
        public void Report(double value) => update(value, "");
    }
}
