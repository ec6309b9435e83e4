using System.Text.Json;
using System.Text.Json.Nodes;
using Sling.Formats;
using Sling.Models;
using Sling.Models.Architectures;

namespace Sling.Quantization;

/// <summary>
/// Compresses the weights of a Hugging Face model folder into a new folder that is still a Hugging
/// Face-style folder (config.json with a quantization_config block, tokenizer files, safetensors),
/// which Sling reloads by memory map without quantizing again. Streams one tensor at a time: the
/// source is memory-mapped and the output's data goes to disk as each tensor is done.
/// </summary>
public static class ModelQuantizer
{
    private static readonly string[] CopiedFiles =
        ["tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json", "generation_config.json", "vocab.json", "merges.txt"];

    public sealed record Progress(int Done, int Total, string Tensor, string Step);

    private enum Role { Linear, Embedding, Output, Other }

    public static QuantizationReport Quantize(string source, string destination, WeightQuantizationConfig config, IProgress<Progress>? progress = null)
    {
        config.Validate();
        if (!HuggingFaceLoader.IsModelFolder(source))
            throw new SlingException($"{source}: not a Hugging Face model folder (no config.json); sling quantize reads config.json + safetensors");
        if (Path.GetFullPath(source).TrimEnd('/') == Path.GetFullPath(destination).TrimEnd('/'))
            throw new SlingException($"{destination}: the output folder must differ from the model folder");
        var hfConfig = HuggingFaceConfig.Read(Path.Combine(source, HuggingFaceLoader.ConfigFileName));
        if (hfConfig.Has("quantization_config"))
            throw new SlingException($"{source}: the model is already quantized (config.json has a quantization_config)");
        ArchitectureRegistry.Find(hfConfig); // refuse unsupported architectures before doing any work

        using var tensors = TensorSet.Open(source);
        var matrices = tensors.Tensors.Where(t => t.Shape.Length == 2).OrderBy(t => t.Offset).ThenBy(t => t.Name, StringComparer.Ordinal).ToList();
        // Roles come from the architectures' name tables, as the loaders read them.
        Role RoleOf(string name) => !name.EndsWith(".weight", StringComparison.Ordinal) ? Role.Other : TensorNames.RoleOfHuggingFace(name) switch
        {
            TensorRole.Embedding => Role.Embedding,
            TensorRole.Output => Role.Output,
            TensorRole.AttentionNorm or TensorRole.MlpNorm or TensorRole.FinalNorm or null => Role.Other,
            _ => Role.Linear,
        };
        bool Ignored(string name) => config.IgnoredLayers.Any(l => name == l || name.Contains(l, StringComparison.Ordinal));
        int Cols(SafeTensorInfo t) => (int)t.Shape[1];
        bool PrimaryFits(SafeTensorInfo t) => Cols(t) % config.Primary(Cols(t)).GroupSize == 0
                                             && (config.Bits == 8 || config.Primary(Cols(t)).GroupSize % Kernels.Int4GroupMatrix.BlockSize == 0);

        // Which matrices compete for the primary precision, and which ones it cannot hold.
        var eligible = matrices.Where(t => !Ignored(t.Name) && (RoleOf(t.Name) == Role.Linear || (config.AllLayers && RoleOf(t.Name) != Role.Other))).ToList();
        var notes = new Dictionary<string, string>();
        foreach (var t in eligible.Where(t => !PrimaryFits(t)))
        {
            int group = config.Primary(Cols(t)).GroupSize;
            notes[t.Name] = Cols(t) % group != 0
                ? $"{Cols(t)} inputs are not divisible into groups of {group}: backup precision"
                : $"int4 groups must be a multiple of {Kernels.Int4GroupMatrix.BlockSize} inputs and {group} is not: backup precision";
        }
        var candidates = eligible.Where(PrimaryFits).ToList();
        if (eligible.Count > 0 && candidates.Count == 0)
        {
            // As the README promises: every layer falls back, and the note says which group size would fit.
            var sizes = eligible.Select(Cols).Distinct().Order().ToList();
            // The group size that fits the most layers, the larger one on a tie.
            int? fits = new[] { 128, 64, 32 }.Where(g => g != config.GroupSize && eligible.Any(t => Cols(t) % g == 0))
                .OrderByDescending(g => eligible.Count(t => Cols(t) % g == 0)).ThenByDescending(g => g).Select(g => (int?)g).FirstOrDefault();
            string hint = fits is { } g2 ? $"; group size {g2} fits the layers with {string.Join(", ", sizes.Where(c => c % g2 == 0))} inputs" : "";
            foreach (var t in eligible) notes[t.Name] += $" (group size {config.Primary(Cols(t)).GroupSize} fits none of the layers' input sizes {string.Join(", ", sizes)}{hint})";
        }

        HashSet<string> primary;
        if (config.Ratio >= 1 || config.Bits == 8)
            primary = candidates.Select(t => t.Name).ToHashSet();
        else
        {
            var scored = new List<MixedPrecision.Candidate>();
            for (int i = 0; i < candidates.Count; i++)
            {
                var t = candidates[i];
                progress?.Report(new Progress(i, candidates.Count, t.Name, "sensitivity"));
                var backup = config.BackupFormat(Cols(t)) ?? new QuantizedFormat(8, false, Cols(t));
                var matrix = tensors.Matrix(t.Name);
                scored.Add(new MixedPrecision.Candidate(t.Name, t.ElementCount, GroupQuantizer.QuantizationError(Row(matrix), matrix.Rows, matrix.Cols, backup)));
            }
            primary = MixedPrecision.SelectPrimary(scored, config.Ratio);
        }

        Directory.CreateDirectory(destination);
        var decisions = new List<TensorDecision>();
        long before = tensors.Tensors.Sum(t => t.ByteLength);
        string output = Path.Combine(destination, TensorSet.SingleFileName);
        using (var writer = new SafeTensorsWriter(output))
        {
            var all = tensors.Tensors.OrderBy(t => t.Name, StringComparer.Ordinal).ToList();
            for (int i = 0; i < all.Count; i++)
            {
                var t = all[i];
                progress?.Report(new Progress(i, all.Count, t.Name, "quantize"));
                QuantizedFormat? format = null;
                if (t.Shape.Length == 2 && RoleOf(t.Name) != Role.Other && !Ignored(t.Name) && t.DType is TensorDType.F32 or TensorDType.F16 or TensorDType.BF16)
                    format = primary.Contains(t.Name) ? config.Primary(Cols(t)) : config.BackupFormat(Cols(t));
                if (format == null)
                {
                    writer.Add(t.Name, t.DType, t.Shape, tensors.FileOf(t.Name).RawBytes(t));
                    decisions.Add(new TensorDecision(t.Name, t.ElementCount, t.DType.Name().ToLowerInvariant(), notes.GetValueOrDefault(t.Name),
                        t.Shape.Length == 2 && RoleOf(t.Name) != Role.Other ? t.ByteLength : 0));
                    continue;
                }
                var matrix = tensors.Matrix(t.Name);
                // The search refines the primary (4-bit) format; int8 backup steps are already fine.
                QuantizedTensors.Write(writer, t.Name, Row(matrix), matrix.Rows, matrix.Cols, format, config.ScaleSearch && format.Bits == 4);
                int groups = matrix.Cols / format.GroupSize;
                long bytes = (long)matrix.Rows * ((format.Bits == 4 ? matrix.Cols / 2 : matrix.Cols) + groups * 2
                    + (format.Symmetric ? 0 : format.Bits == 4 ? Kernels.Int4GroupMatrix.ZeroBytesPerRow(groups) : groups));
                decisions.Add(new TensorDecision(t.Name, t.ElementCount, $"int{format.Bits}_{(format.Symmetric ? "sym" : "asym")}" +
                    (format.GroupSize == matrix.Cols ? "" : $" g{format.GroupSize}"), notes.GetValueOrDefault(t.Name), bytes));
            }
            writer.AddMetadata("format", "pt");
            writer.Complete();
        }

        var json = JsonNode.Parse(File.ReadAllText(hfConfig.Path))!.AsObject();
        json["quantization_config"] = config.ToJson();
        File.WriteAllText(Path.Combine(destination, HuggingFaceLoader.ConfigFileName), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        foreach (var name in CopiedFiles.Concat(Directory.GetFiles(source, "tok*.bin").Select(Path.GetFileName)!))
        {
            string from = Path.Combine(source, name!);
            if (File.Exists(from)) File.WriteAllBytes(Path.Combine(destination, name!), File.ReadAllBytes(from));
        }
        progress?.Report(new Progress(1, 1, "", "done"));
        return new QuantizationReport(decisions, before, new FileInfo(output).Length);
    }

    private static Func<int, float[]> Row(Kernels.WeightMatrix matrix) => r =>
    {
        var row = new float[matrix.Cols];
        matrix.ReadRow(r, row);
        return row;
    };
}
