using System.Text.Json;
using Sling.Generation;
using Sling.Models;
using Sling.Models.Architectures;

namespace Sling.Quantization;

/// <summary>
/// Runs the full-precision model over the calibration windows and gathers each linear layer's input
/// statistics (<see cref="ActivationStatistics"/>), keyed by the layer's Hugging Face tensor name.
/// Every window goes through the model once; what is kept per layer is bounded (see
/// <see cref="CalibrationOptions.SampleRows"/>), so memory does not grow with the calibration set.
/// </summary>
internal static class Calibration
{
    public static Dictionary<string, ActivationStatistics> Collect(LoadedModel model, TensorNames names, CalibrationOptions options, Action<int, int>? progress = null)
    {
        options.Validate();
        var samples = Samples(model, options);
        var transformer = model.Transformer;
        var byLinear = NameLinears(transformer, names);
        var stats = new Dictionary<string, ActivationStatistics>();
        // Layers that read one input in one product (q/k/v, gate/up, a fused tensor's slices) are
        // observed one after another with the same buffer: they share one statistics object, filled
        // once per pass. (Buffers are reused between layers, so only consecutive observations share.)
        Kernels.ActivationRows? lastInput = null;
        ActivationStatistics? lastStats = null;
        var filled = new HashSet<ActivationStatistics>(ReferenceEqualityComparer.Instance);
        transformer.InputObserver = (linear, input) =>
        {
            if (!byLinear.TryGetValue(linear, out var name)) return;
            if (!stats.TryGetValue(name, out var s))
            {
                s = ReferenceEquals(input, lastInput) && lastStats!.Channels == input.Cols
                    ? lastStats : new ActivationStatistics(input.Cols, options.SampleRows, options.Seed + stats.Count);
                stats[name] = s;
            }
            lastInput = input;
            lastStats = s;
            if (!filled.Add(s)) return;
            for (int t = 0; t < input.Count; t++) s.Add(input.Row(t));
        };
        try
        {
            var state = transformer.CreateState(options.SampleLength);
            for (int i = 0; i < samples.Count; i++)
            {
                progress?.Invoke(i, samples.Count);
                var tokens = samples[i];
                for (int start = 0; start < tokens.Length; start += state.BatchCapacity)
                {
                    // Each pass fills every layer's statistics once (buffers are reused between layers and passes).
                    filled.Clear();
                    lastInput = null;
                    int n = Math.Min(state.BatchCapacity, tokens.Length - start);
                    transformer.Forward(state, tokens.AsSpan(start, n), start, LogitRows.None);
                }
            }
            progress?.Invoke(samples.Count, samples.Count);
        }
        finally
        {
            transformer.InputObserver = null;
        }
        return stats;
    }

    /// <summary>Each linear layer of the loaded model and its Hugging Face tensor name.</summary>
    static Dictionary<Linear, string> NameLinears(Transformer transformer, TensorNames names)
    {
        var map = new Dictionary<Linear, string>(ReferenceEqualityComparer.Instance);
        var layers = transformer.Weights.Layers;
        for (int i = 0; i < layers.Length; i++)
        {
            var l = layers[i];
            void Add(Linear? linear, TensorRole role)
            {
                if (linear is not null) map[linear] = names.HuggingFace(role, i) + ".weight";
            }
            if (names == TensorNames.Phi3)
            {
                Add(l.Query, TensorRole.QueryKeyValue);
                Add(l.Key, TensorRole.QueryKeyValue);
                Add(l.Value, TensorRole.QueryKeyValue);
                Add(l.Gate, TensorRole.GateUp);
                Add(l.Up, TensorRole.GateUp);
            }
            else
            {
                Add(l.Query, TensorRole.Query);
                Add(l.Key, TensorRole.Key);
                Add(l.Value, TensorRole.Value);
                Add(l.Gate, TensorRole.Gate);
                Add(l.Up, TensorRole.Up);
            }
            Add(l.Output, TensorRole.AttentionOutput);
            Add(l.Down, TensorRole.Down);
        }
        if (!ReferenceEquals(transformer.Weights.Classifier.Weight, transformer.Weights.Embedding))
            map[transformer.Weights.Classifier] = names.HuggingFace(TensorRole.Output) + ".weight";
        return map;
    }

    /// <summary>The calibration windows: drawn from a dataset file, or written by the model itself (<c>self:N</c>).</summary>
    public static List<int[]> Samples(LoadedModel model, CalibrationOptions options)
    {
        var tokenizer = model.Tokenizer;
        if (options.Dataset.StartsWith("self:", StringComparison.Ordinal))
        {
            if (!int.TryParse(options.Dataset["self:".Length..], out int count) || count < 1)
                throw new SlingException($"dataset '{options.Dataset}': self:N needs a positive number of texts");
            var generator = model.CreateGenerator();
            var samples = new List<int[]>();
            for (int i = 0; i < count; i++)
            {
                var settings = new GenerationOptions { Temperature = 1, TopK = 0, TopP = 1, Seed = (ulong)(options.Seed * 1000 + i), MaxTokens = options.SampleLength - 1, ContextLength = options.SampleLength };
                var result = generator.Generate("", settings);
                samples.Add([.. tokenizer.Encode("", true), .. result.Tokens]);
            }
            return samples;
        }
        if (!File.Exists(options.Dataset)) throw new SlingException($"{options.Dataset}: calibration dataset not found");
        var stream = new List<int>();
        foreach (string text in Documents(options.Dataset)) stream.AddRange(tokenizer.Encode(text, true));
        if (stream.Count < 2) throw new SlingException($"{options.Dataset}: the dataset holds no text");
        int length = Math.Min(options.SampleLength, stream.Count);
        var random = new Random(options.Seed);
        return Enumerable.Range(0, options.NumSamples)
            .Select(_ => stream.Skip(random.Next(stream.Count - length + 1)).Take(length).ToArray()).ToList();
    }

    static IEnumerable<string> Documents(string path)
    {
        var bytes = File.ReadAllBytes(path);
        Formats.JsonFile.CheckUtf8(path, bytes, "calibration text");
        string content = System.Text.Encoding.UTF8.GetString(bytes);
        if (path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase))
        {
            int line = 0;
            foreach (string raw in content.Split('\n'))
            {
                line++;
                if (raw.Trim().Length == 0) continue;
                string? text;
                try
                {
                    using var doc = JsonDocument.Parse(raw);
                    text = doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
                }
                catch (JsonException e)
                {
                    throw new Formats.ModelFormatException(path, $"line {line} is not JSON ({e.Message})");
                }
                yield return text ?? throw new Formats.ModelFormatException(path, $"line {line} has no string field 'text'");
            }
            yield break;
        }
        foreach (string document in content.Replace("\r\n", "\n").Split("\n\n"))
            if (document.Trim().Length > 0) yield return document.Trim();
    }
}
