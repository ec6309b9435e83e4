using System.CommandLine;
using Sling.Quantization;
using Spectre.Console;

namespace Sling.Cli;

/// <summary>`sling quantize`: compress a Hugging Face folder's weights into a new folder.</summary>
internal static class QuantizeCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = CommonOptions.Model("Source: a Hugging Face model folder or Hub id (org/name)");
        var output = new Option<string>("--output", "-o") { Description = "Destination folder for the quantized model", Required = true };
        var bits = new Option<int>("--bits") { Description = "Primary precision: 4 or 8", DefaultValueFactory = _ => 4 };
        var groupSize = new Option<int?>("--group-size") { Description = "Inputs per scale; -1 = per output channel (default 128 for 4 bits, -1 for 8)" };
        var ratio = new Option<double>("--ratio") { Description = "Share of eligible linear-layer parameters in the primary precision; the rest use the backup", DefaultValueFactory = _ => 1.0 };
        var sym = new Option<bool>("--sym") { Description = "Symmetric quantization (no zero points)" };
        var allLayers = new Option<bool>("--all-layers") { Description = "Also give embeddings and the output layer the primary precision" };
        var backup = new Option<string>("--backup") { Description = "Backup precision: int8_asym, int8_sym or none (keep float)", DefaultValueFactory = _ => "int8_asym" };
        var scaleSearch = new Option<bool>("--scale-search") { Description = "Search each 4-bit group's scale for the least squared error (default: NNCF's min/max)" };
        var ignore = new Option<string[]>("--ignore") { Description = "Tensor name (or part of one) to leave unquantized (repeatable)" };
        var dataset = new Option<string?>("--dataset") { Description = "Calibration data for the data-aware options: a UTF-8 text file, a JSONL file with a 'text' field, or self:N (N texts the model writes)" };
        var numSamples = new Option<int>("--num-samples") { Description = "Calibration windows drawn from the dataset", DefaultValueFactory = _ => 128 };
        var sampleLength = new Option<int>("--sample-length") { Description = "Tokens per calibration window", DefaultValueFactory = _ => 128 };
        var calibrationSeed = new Option<int>("--calibration-seed") { Description = "Which windows are drawn (and which texts self:N writes)", DefaultValueFactory = _ => 0 };
        var awq = new Option<bool>("--awq") { Description = "Activation-aware scaling of int4 layers (needs --dataset)" };
        var scaleEstimation = new Option<bool>("--scale-estimation") { Description = "Choose int4 scales for the least output error on the calibration data (needs --dataset)" };
        var gptq = new Option<bool>("--gptq") { Description = "GPTQ: quantize int4 layers column by column, compensating each rounding error (needs --dataset)" };
        var metric = new Option<string>("--sensitivity-metric") { Description = "Which layers keep the backup precision when ratio < 1: weight_quantization_error (data-free), hessian_input_activation, mean_activation_variance, max_activation_variance, mean_activation_magnitude", DefaultValueFactory = _ => "weight_quantization_error" };
        var command = new Command("quantize", "Compress a model's weights to int4/int8 and save it as a new folder")
        {
            model, output, bits, groupSize, ratio, sym, allLayers, backup, scaleSearch, ignore, dataset, numSamples, sampleLength, calibrationSeed, awq, scaleEstimation, gptq, metric,
        };
        command.SetAction(parse =>
        {
            int b = parse.GetValue(bits);
            var config = new WeightQuantizationConfig
            {
                Bits = b,
                Symmetric = parse.GetValue(sym),
                GroupSize = parse.GetValue(groupSize) ?? (b == 4 ? 128 : -1),
                Ratio = parse.GetValue(ratio),
                Backup = WeightQuantizationConfig.ParseBackup(parse.GetValue(backup)!),
                AllLayers = parse.GetValue(allLayers),
                IgnoredLayers = parse.GetValue(ignore) ?? [],
                ScaleSearch = parse.GetValue(scaleSearch),
                Awq = parse.GetValue(awq),
                ScaleEstimation = parse.GetValue(scaleEstimation),
                Gptq = parse.GetValue(gptq),
                Sensitivity = WeightQuantizationConfig.ParseMetric(parse.GetValue(metric)!),
                Calibration = parse.GetValue(dataset) is { } data
                    ? new CalibrationOptions { Dataset = data, NumSamples = parse.GetValue(numSamples), SampleLength = parse.GetValue(sampleLength), Seed = parse.GetValue(calibrationSeed) }
                    : null,
            };
            config.Validate();
            // A Hub id is fetched first (the seed's from_pretrained + save_pretrained in one command).
            string source = Consoles.WithDownloads(stderr, parse.GetValue(model)!, hub => Sling.Models.ModelLoader.Locate(parse.GetValue(model)!, new Sling.Models.LoadOptions { Hub = hub }));
            string destination = parse.GetValue(output)!;
            var report = Consoles.WithProgress(stderr, "quantizing", update =>
                ModelQuantizer.Quantize(source, destination, config,
                    new SynchronousProgress<ModelQuantizer.Progress>(p => update((double)p.Done / Math.Max(1, p.Total), $"{p.Step} {p.Tensor}"))));
            foreach (var t in report.Tensors.Where(t => t.Note != null)) stderr.WriteLine($"note: {t.Name}: {t.Note}");
            PrintSummary(stdout, report, destination);
            return 0;
        });
        return command;
    }

    private static void PrintSummary(TextWriter stdout, QuantizationReport report, string destination)
    {
        var console = Consoles.For(stdout);
        var table = new Table().AddColumns("precision", "tensors", "parameters", "share");
        foreach (var group in report.Tensors.GroupBy(t => t.Precision).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            long parameters = group.Sum(t => t.Parameters);
            table.AddRow(group.Key, group.Count().ToString(), parameters.ToString("N0"), $"{100.0 * parameters / report.TotalParameters:F1} %");
        }
        console.Write(table);
        console.WriteLine($"int4 {report.Int4Parameters:N0} | int8 {report.Int8Parameters:N0} | float {report.FloatParameters:N0} parameters");
        console.WriteLine($"size {report.BytesBefore:N0} -> {report.BytesAfter:N0} bytes ({report.BitsPerWeight:F2} bits per weight of the weight matrices, as sling info counts them), saved to {destination}");
    }

    /// <summary>Reports on the calling thread, in order (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
