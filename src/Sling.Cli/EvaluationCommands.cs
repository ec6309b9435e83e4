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
        var bytes = File.ReadAllBytes(path);
        string text;
        try
        {
            text = new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (System.Text.DecoderFallbackException e)
        {
            throw new SlingException($"{path}: not UTF-8 text (invalid byte at offset {e.Index})");
        }
        if (text.Length > 0 && text[0] == '\uFEFF') text = text[1..]; // a byte-order mark is not text
        return model.Tokenizer.Encode(text, addBos: true);
    }

    private static (int Window, int Stride) Windows(int window, int? stride, int maxContext)
    {
        if (window < 2) throw new SlingException($"--window {window}: a scoring window holds at least 2 tokens");
        int w = Math.Min(window, maxContext);
        int s = stride ?? Math.Max(1, w / 2);
        if (s < 1 || s > w) throw new SlingException($"--stride {s}: must be between 1 and the window ({w} tokens)");
        return (w, s);
    }


    public static Command Perplexity(TextWriter stdout, TextWriter stderr)
    {
        var model = CommonOptions.Model();
        var tokenizer = CommonOptions.Tokenizer();
        var text = Text();
        var window = Window();
        var stride = Stride();
        var threads = CommonOptions.Threads();
        var command = new Command("perplexity", "Token-level perplexity of a model on a text, over sliding windows") { model, tokenizer, text, window, stride, threads };
        command.SetAction(parse =>
        {
            using var m = ModelLoader.Load(parse.GetValue(model)!, parse.GetValue(tokenizer), parse.GetValue(threads));
            var tokens = ReadTokens(parse.GetValue(text)!, m);
            var (w, s) = Windows(parse.GetValue(window), parse.GetValue(stride), m.Config.MaxSeqLen);
            var result = Consoles.WithProgress(stderr, "scoring", update =>
                Evaluation.Perplexity.Compute(m.Transformer, tokens, w, s, new Progress(update), m.Tokenizer.VocabSize));
            stdout.WriteLine($"perplexity {result.Perplexity:F4} ({result.ScoredTokens} tokens scored, window {w}, stride {s})");
            return 0;
        });
        return command;
    }

    public static Command Compare(TextWriter stdout, TextWriter stderr)
    {
        var model = CommonOptions.Model("The model to judge (e.g. the quantized one)");
        var reference = new Option<string>("--reference", "-r") { Description = "The reference model (e.g. the original)", Required = true };
        var text = Text();
        var window = Window();
        var stride = Stride();
        var tokenizer = CommonOptions.Tokenizer();
        var threads = CommonOptions.Threads();
        var command = new Command("compare", "KL divergence, top-1 agreement and perplexity of a model against a reference") { model, reference, text, window, stride, tokenizer, threads };
        command.SetAction(parse =>
        {
            using var judged = ModelLoader.Load(parse.GetValue(model)!, parse.GetValue(tokenizer), parse.GetValue(threads));
            using var truth = ModelLoader.Load(parse.GetValue(reference)!, parse.GetValue(tokenizer), parse.GetValue(threads));
            var tokens = ReadTokens(parse.GetValue(text)!, truth);
            var (w, s) = Windows(parse.GetValue(window), parse.GetValue(stride), Math.Min(judged.Config.MaxSeqLen, truth.Config.MaxSeqLen));
            var r = Consoles.WithProgress(stderr, "comparing", update =>
                ModelComparison.Compare(judged.Transformer, truth.Transformer, tokens, w, s, new Progress(update), truth.Tokenizer.VocabSize));
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
