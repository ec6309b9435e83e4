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

        // Data-aware options: the full-precision model runs over the calibration set once.
        Dictionary<string, ActivationStatistics>? stats = null;
        var architecture = ArchitectureRegistry.Find(hfConfig);
        if (config.Calibration is { } calibration)
        {
            using var model = ModelLoader.Load(source, new LoadOptions());
            stats = Calibration.Collect(model, architecture.Names, calibration, (i, n) => progress?.Report(new Progress(i, n, $"sample {i + 1}", "calibration")));
        }

        HashSet<string> primary;
        if (config.Ratio >= 1 || config.Bits == 8)
            primary = candidates.Select(t => t.Name).ToHashSet();
        else if (config.Sensitivity != SensitivityMetric.WeightQuantizationError)
        {
            var scored = new List<MixedPrecision.ScoredLayer>();
            for (int i = 0; i < candidates.Count; i++)
            {
                var t = candidates[i];
                progress?.Report(new Progress(i, candidates.Count, t.Name, "sensitivity"));
                var st = stats!.GetValueOrDefault(t.Name);
                double score = st is null ? 0 : config.Sensitivity switch
                {
                    SensitivityMetric.HessianInputActivation => st.HessianTrace * SquaredBackupError(tensors.Matrix(t.Name), config.BackupFormat(Cols(t)) ?? new QuantizedFormat(8, false, Cols(t))),
                    SensitivityMetric.MeanActivationVariance => st.MeanVariance,
                    SensitivityMetric.MaxActivationVariance => st.MaxVariance,
                    _ => st.MeanMagnitude,
                };
                scored.Add(new MixedPrecision.ScoredLayer(t.Name, t.ElementCount, score));
            }
            primary = MixedPrecision.SelectPrimary(scored, config.Ratio);
        }
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

        // AWQ rescales layers and the operations before them, one transformer layer at a time as the
        // writer reaches it (tensors are written in name order, a layer's together): only that layer's
        // changed tensors are in memory.
        var overrides = new Dictionary<string, float[]>();
        var inputScales = new Dictionary<string, double[]>();
        QuantizedFormat? FormatFor(SafeTensorInfo t) => primary.Contains(t.Name) ? config.Primary(Cols(t)) : config.BackupFormat(Cols(t));
        int currentLayer = -1;
        void EnterLayer(string name)
        {
            if (!config.Awq || stats is null || LayerOf(name) is not int layer || layer == currentLayer) return;
            currentLayer = layer;
            overrides.Clear();
            var notesAwq = ApplyAwq(tensors, architecture, hfConfig, stats, primary, t => FormatFor(t), overrides, inputScales, layer);
            foreach (var (name2, note) in notesAwq) notes[name2] = notes.TryGetValue(name2, out var n) ? $"{n}; {note}" : note;
        }
        Func<int, float[]> RowOf(string name, Kernels.WeightMatrix matrix) =>
            overrides.TryGetValue(name, out var data) ? r => data.AsSpan(r * matrix.Cols, matrix.Cols).ToArray() : Row(matrix);

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
                EnterLayer(t.Name);
                QuantizedFormat? format = null;
                if (t.Shape.Length == 2 && RoleOf(t.Name) != Role.Other && !Ignored(t.Name) && t.DType is TensorDType.F32 or TensorDType.F16 or TensorDType.BF16)
                    format = primary.Contains(t.Name) ? config.Primary(Cols(t)) : config.BackupFormat(Cols(t));
                if (format == null)
                {
                    if (overrides.TryGetValue(t.Name, out var changed)) writer.Add<float>(t.Name, TensorDType.F32, t.Shape, changed);
                    else writer.Add(t.Name, t.DType, t.Shape, tensors.FileOf(t.Name).RawBytes(t));
                    decisions.Add(new TensorDecision(t.Name, t.ElementCount, t.DType.Name().ToLowerInvariant(), notes.GetValueOrDefault(t.Name),
                        t.Shape.Length == 2 && RoleOf(t.Name) != Role.Other ? t.ByteLength : 0));
                    continue;
                }
                var matrix = tensors.Matrix(t.Name);
                // The searches refine the primary (4-bit) format; int8 backup steps are already fine.
                Func<int, float[], (float, int)[], (float, int)[]>? choose = null;
                var readRow = RowOf(t.Name, matrix);
                if (format.Bits == 4 && stats?.GetValueOrDefault(t.Name) is { } st && (config.ScaleEstimation || config.Gptq))
                {
                    var awqScale = inputScales.GetValueOrDefault(t.Name);
                    if (config.Gptq)
                    {
                        // Each row is rounded in GPTQ's order with its error compensated; the writer stores
                        // the values as they were when rounded, with the group parameters GPTQ fixed.
                        var gptq = new Gptq(InputHessian(st, awqScale));
                        var chosen = new (float, int)[matrix.Rows][];
                        var original = readRow;
                        readRow = r =>
                        {
                            var (values, parameters) = gptq.QuantizeRow(original(r), format);
                            chosen[r] = parameters;
                            return values;
                        };
                        choose = (r, _, _) => chosen[r];
                    }
                    else
                    {
                        var estimation = new ScaleEstimation(st.SampleRows, awqScale);
                        choose = (_, row, initial) => estimation.Choose(row, format, initial);
                    }
                }
                QuantizedTensors.Write(writer, t.Name, readRow, matrix.Rows, matrix.Cols, format, config.ScaleSearch && format.Bits == 4, choose);
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

    /// <summary>Σ (w − Q_backup(w))² over the whole matrix (for the Hessian-weighted sensitivity).</summary>
    private static double SquaredBackupError(Kernels.WeightMatrix matrix, QuantizedFormat format)
    {
        int groups = matrix.Cols / format.GroupSize;
        var row = new float[matrix.Cols];
        var codes = new byte[matrix.Cols];
        var scales = new Half[groups];
        var zeros = new byte[groups];
        double sum = 0;
        for (int r = 0; r < matrix.Rows; r++)
        {
            matrix.ReadRow(r, row);
            GroupQuantizer.QuantizeRow(row, format, codes, scales, zeros);
            for (int c = 0; c < matrix.Cols; c++)
            {
                int g = c / format.GroupSize;
                double d = row[c] - GroupQuantizer.Dequantize(codes[c], format.Symmetric ? format.SymmetricZero : zeros[g], scales[g]);
                sum += d * d;
            }
        }
        return sum;
    }

    /// <summary>H = Σ x xᵀ of a layer's calibration inputs, seen through the AWQ scale its weights took (inputs x / s).</summary>
    private static double[,] InputHessian(ActivationStatistics stats, double[]? awqScale)
    {
        var h = ScaleEstimation.Hessian(stats.SampleRows, stats.Channels);
        if (awqScale is null) return h;
        for (int i = 0; i < stats.Channels; i++)
            for (int j = 0; j < stats.Channels; j++) h[i, j] /= awqScale[i] * awqScale[j];
        return h;
    }

    /// <summary>
    /// AWQ on each layer's input sites. Llama family: q/k/v (folded into input_layernorm), gate/up (into
    /// post_attention_layernorm), o_proj (into v_proj's rows and bias, one scale per key/value channel)
    /// and down_proj (into up_proj's rows). Phi: q/k/v and fc1 (into the shared LayerNorm's scale and
    /// bias) and dense (into v_proj). A site is scaled only when one of its layers is int4.
    /// </summary>
    internal static Dictionary<string, string> ApplyAwq(TensorSet tensors, IArchitecture architecture, HuggingFaceConfig hfConfig,
        Dictionary<string, ActivationStatistics> stats, HashSet<string> primary, Func<SafeTensorInfo, QuantizedFormat?> formatOf,
        Dictionary<string, float[]> overrides, Dictionary<string, double[]> inputScales, int? onlyLayer = null)
    {
        var notes = new Dictionary<string, string>();
        var config = architecture.ReadConfig(hfConfig);
        var n = architecture.Names;
        bool llama = n == TensorNames.Llama && config.Norm == Models.NormKind.RmsNorm && !config.ParallelResidual;
        bool phi = n == TensorNames.Phi && config.Norm == Models.NormKind.LayerNorm && config.ParallelResidual;
        if (!llama && !phi) return notes; // fused tensors (Phi-3) are not scaled yet
        string W(TensorRole role, int layer) => n.HuggingFace(role, layer) + ".weight";
        string B(TensorRole role, int layer) => n.HuggingFace(role, layer) + ".bias";
        float[] Matrix(string name)
        {
            if (overrides.TryGetValue(name, out var data)) return data;
            var m = tensors.Matrix(name);
            data = new float[(long)m.Rows * m.Cols];
            var row = new float[m.Cols];
            for (int r = 0; r < m.Rows; r++)
            {
                m.ReadRow(r, row);
                row.CopyTo(data, (long)r * m.Cols);
            }
            return overrides[name] = data;
        }
        float[] Vector(string name) => overrides.TryGetValue(name, out var data) ? data : overrides[name] = tensors.Floats(name);

        int group = config.Heads / config.KvHeads, headDim = config.HeadDim;
        // o_proj input channel h·headDim + d is fed by v_proj row (h / group)·headDim + d.
        int VRow(int channel) => channel / headDim / group * headDim + channel % headDim;
        // 1/s goes into a norm's scale (and a LayerNorm's bias), or into the producing layer's rows (and bias).
        void FoldNorm(TensorRole role, int i, double[] s)
        {
            Divide(Vector(W(role, i)), s);
            if (tensors.Contains(B(role, i))) Divide(Vector(B(role, i)), s);
        }
        void FoldRows(TensorRole role, int i, Func<int, int> rowOf, double[] s, int channels)
        {
            DivideRows(Matrix(W(role, i)), config.Dim, rowOf, s, channels);
            if (tensors.Contains(B(role, i))) DivideRows(Vector(B(role, i)), 1, rowOf, s, channels);
        }
        var oTie = Enumerable.Range(0, config.QDim).Select(VRow).ToArray();
        for (int i = onlyLayer ?? 0; i < (onlyLayer + 1 ?? config.Layers); i++)
        {
            int at = i;
            var sites = llama
                ? new (string[] Inputs, Action<double[]> Fold, int[]? Tie)[]
                {
                    ([W(TensorRole.Query, i), W(TensorRole.Key, i), W(TensorRole.Value, i)], s => FoldNorm(TensorRole.AttentionNorm, at, s), null),
                    ([W(TensorRole.Gate, i), W(TensorRole.Up, i)], s => FoldNorm(TensorRole.MlpNorm, at, s), null),
                    ([W(TensorRole.AttentionOutput, i)], s => FoldRows(TensorRole.Value, at, VRow, s, config.QDim), oTie),
                    // down_proj reads act(gate) ⊙ up: linear in up's rows.
                    ([W(TensorRole.Down, i)], s => FoldRows(TensorRole.Up, at, c => c, s, config.HiddenDim), null),
                }
                : new (string[] Inputs, Action<double[]> Fold, int[]? Tie)[]
                {
                    // Phi's parallel block: attention and fc1 read the same LayerNorm; fc2 follows a GELU (no fold).
                    ([W(TensorRole.Query, i), W(TensorRole.Key, i), W(TensorRole.Value, i), W(TensorRole.Up, i)], s => FoldNorm(TensorRole.AttentionNorm, at, s), null),
                    ([W(TensorRole.AttentionOutput, i)], s => FoldRows(TensorRole.Value, at, VRow, s, config.QDim), oTie),
                };
            foreach (var (inputs, fold, tie) in sites)
            {
                if (!inputs.Any(primary.Contains) || !inputs.All(tensors.Contains) || stats.GetValueOrDefault(inputs[0]) is not { } st) continue;
                var layers = new List<Awq.Layer>();
                foreach (string name in inputs)
                {
                    var info = tensors.Info(name);
                    if (formatOf(info) is not { } format) continue;
                    layers.Add(new Awq.Layer(Matrix(name), (int)info.Shape[0], (int)info.Shape[1], format));
                }
                var samples = st.SampleRows.Take(ScaleEstimation.MaxSamples).ToList();
                if (Awq.Search(layers, st.MeanMagnitudes(), samples, tie) is not { } scale) continue;
                foreach (var layer in layers) Awq.ScaleColumns(layer.Weights, layer.Rows, layer.Cols, scale);
                fold(scale);
                foreach (string name in inputs)
                {
                    inputScales[name] = scale;
                    notes[name] = "AWQ-scaled inputs";
                }
            }
        }
        return notes;
    }

    /// <summary>The transformer layer a Hugging Face tensor belongs to (model.layers.N.…), or null.</summary>
    private static int? LayerOf(string name)
    {
        const string prefix = "model.layers.";
        if (!name.StartsWith(prefix, StringComparison.Ordinal)) return null;
        int end = name.IndexOf('.', prefix.Length);
        return end > prefix.Length && int.TryParse(name.AsSpan(prefix.Length, end - prefix.Length), out int layer) ? layer : null;
    }

    private static void Divide(float[] vector, double[] s)
    {
        for (int c = 0; c < vector.Length; c++) vector[c] = (float)(vector[c] / s[c]);
    }

    /// <summary>Divides row <c>rowOf(c)</c> of a producer by s[c] (channels mapping to one row share one scale).</summary>
    private static void DivideRows(float[] producer, int cols, Func<int, int> rowOf, double[] s, int channels)
    {
        var done = new HashSet<int>();
        for (int c = 0; c < channels; c++)
        {
            int r = rowOf(c);
            if (!done.Add(r)) continue;
            for (int j = 0; j < cols; j++) producer[r * cols + j] = (float)(producer[r * cols + j] / s[c]);
        }
    }
}
