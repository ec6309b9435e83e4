using System.CommandLine;
using Sling.Models;
using Sling.Tokenization;

namespace Sling.Cli;

/// <summary>`sling info`: what a model is — architecture, size, dtype, context, tokenizer, files.</summary>
internal static class InfoCommand
{
    public static Command Create(TextWriter stdout)
    {
        var model = CommonOptions.Model();
        var tokenizer = CommonOptions.Tokenizer();
        var command = new Command("info", "Describe a model: architecture, parameters, dtype, context length, tokenizer, files") { model, tokenizer };
        command.SetAction(parse =>
        {
            string path = parse.GetValue(model)!;
            void Line(string key, string value) => stdout.WriteLine($"{key,-16}{value}");
            if (File.Exists(path) && Formats.GgufFile.HasMagic(path))
            {
                using var gguf = Formats.GgufFile.Open(path);
                if (gguf.Tensors.Count == 0)
                {
                    // llama.cpp's vocab files: a tokenizer, no weights.
                    Line("model", path);
                    Line("contents", $"a vocabulary only, no weights ({gguf.GetOrDefault<string[]>("tokenizer.ggml.tokens")?.Length ?? 0} tokens, tokenizer model '{gguf.GetOrDefault<string>("tokenizer.ggml.model") ?? "?"}')");
                    return 0;
                }
                Line("tensor types", string.Join(", ", gguf.Tensors.GroupBy(t => t.Type).OrderByDescending(g => g.Count())
                    .Select(g => $"{Formats.GgufFile.TypeName(g.Key)} × {g.Count()}")));
            }
            using var transformer = ModelLoader.LoadTransformer(path, threads: 1);
            var c = transformer.Config;
            var summary = ModelSummary.Of(transformer);
            Line("model", path);
            Line("architecture", c.Architecture);
            Line("parameters", $"{summary.Parameters:N0}");
            Line("dtype", $"{string.Join(", ", summary.Formats)} ({summary.WeightBytes:N0} bytes of weights, {summary.BitsPerWeight(transformer):F2} bits per weight of the weight matrices)");
            Line("context length", $"{c.MaxSeqLen} tokens");
            Line("shape", $"{c.Layers} layers, hidden {c.Dim}, intermediate {c.HiddenDim}, {c.Heads} heads ({c.KvHeads} key/value), head dim {c.HeadDim}, vocab {c.VocabSize}");
            Line("block", $"{c.Norm}, {c.Mlp}{(c.ParallelResidual ? ", parallel attention/MLP" : "")}");
            Line("rope", $"{c.Rope}, theta {c.RopeTheta}, {c.RotaryDim} of {c.HeadDim} dims rotated" +
                         (c.Llama3Scaling is { } s ? $", llama3 scaling x{s.Factor}" : "") +
                         (c.LinearRopeFactor != 1 ? $", linear scaling x{c.LinearRopeFactor}" : ""));
            Line("tokenizer", DescribeTokenizer(path, parse.GetValue(tokenizer)));
            foreach (var file in ModelFiles(path))
                Line("file", $"{Path.GetFileName(file)}  {new FileInfo(file).Length:N0} bytes");
            return 0;
        });
        return command;
    }

    private static string DescribeTokenizer(string modelPath, string? explicitPath)
    {
        string dir = Directory.Exists(modelPath) ? modelPath : Path.GetDirectoryName(Path.GetFullPath(modelPath))!;
        string? path = explicitPath ?? TokenizerLoader.FindIn(dir);
        if (path == null) return "none found";
        try
        {
            var t = TokenizerLoader.Load(path);
            return $"{t.GetType().Name.Replace("Tokenizer", "")} ({Path.GetFileName(path)}, {t.VocabSize} tokens)";
        }
        catch (SlingException e)
        {
            return $"{Path.GetFileName(path)}: {e.Message}";
        }
    }

    private static IEnumerable<string> ModelFiles(string path)
    {
        if (!Directory.Exists(path)) return [path];
        return Directory.GetFiles(path)
            .Where(f => f.EndsWith(".json") || f.EndsWith(".safetensors") || f.EndsWith(".bin") || f.EndsWith(".model"))
            .Order(StringComparer.Ordinal);
    }
}
