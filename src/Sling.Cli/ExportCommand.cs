using System.CommandLine;
using Sling.Formats;
using Sling.Models;

namespace Sling.Cli;

/// <summary>`sling export-gguf`: a model as a GGUF file llama.cpp loads, so both engines run the same weights.</summary>
internal static class ExportCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = CommonOptions.OptionalModel();
        var synthetic = CommonOptions.Synthetic();
        var syntheticType = new Option<string>("--synthetic-type") { Description = "Weight format the synthetic model is built in", DefaultValueFactory = _ => "f16" };
        var output = new Option<string>("--output", "-o") { Description = "GGUF file to write", Required = true };
        var type = new Option<string>("--type") { Description = "Tensor type of the matrices: f32, f16, q8_0, q4_0", DefaultValueFactory = _ => "f16" };
        var vocab = new Option<string?>("--vocab") { Description = "GGUF file whose tokenizer.* metadata to copy (default: the model's own GGUF, else a placeholder vocabulary)" };
        var command = new Command("export-gguf", "Write a Llama- or Phi-2-family model as a GGUF file llama.cpp can load") { model, synthetic, syntheticType, output, type, vocab };
        command.SetAction(parse =>
        {
            var (path, shape) = CommonOptions.ModelOrSynthetic(parse, model, synthetic);
            var exportType = parse.GetValue(type) switch
            {
                "f32" => GgufExportType.F32, "f16" => GgufExportType.F16, "q8_0" => GgufExportType.Q8_0, "q4_0" => GgufExportType.Q4_0,
                var t => throw new SlingException($"--type {t}: expected f32, f16, q8_0 or q4_0"),
            };
            using var transformer = shape != null ? SyntheticModels.Create(shape, parse.GetValue(syntheticType)!) : ModelLoader.LoadTransformer(path!);
            string? vocabulary = parse.GetValue(vocab) ?? (path != null && File.Exists(path) && GgufFile.HasMagic(path) ? path : null);
            string target = parse.GetValue(output)!;
            GgufExporter.Export(transformer, target, exportType, vocabulary);
            if (vocabulary == null) stderr.WriteLine("note: no vocabulary given; the file has a placeholder vocabulary (fine for speed, not for text)");
            stdout.WriteLine($"wrote {target} ({new FileInfo(target).Length:N0} bytes, {exportType})");
            return 0;
        });
        return command;
    }
}
