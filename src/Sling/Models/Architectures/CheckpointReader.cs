using Sling.Formats;
using Sling.Kernels;

namespace Sling.Models.Architectures;

/// <summary>
/// Reads named tensors of a Hugging Face checkpoint, checking each against the shape the
/// configuration implies; errors name the tensor, its file and the config fields involved.
/// </summary>
internal sealed class CheckpointReader(TensorSet tensors, HuggingFaceConfig config)
{
    public TensorSet Tensors { get; } = tensors;
    public HuggingFaceConfig Config { get; } = config;

    public bool Has(string name) => Tensors.Contains(name);

    private SafeTensorInfo Find(string name)
    {
        if (!Tensors.Contains(name))
            throw new ModelFormatException(Path.GetDirectoryName(Config.Path) ?? Config.Path, $"tensor '{name}' is missing from the checkpoint");
        return Tensors.Info(name);
    }

    private ModelFormatException ShapeError(SafeTensorInfo t, string expected, string why)
        => new(Tensors.FileOf(t.Name).Path, $"tensor '{t.Name}' has shape [{string.Join(", ", t.Shape)}] but {Path.GetFileName(Config.Path)} ({why}) implies {expected}");

    /// <summary>A [rows, cols] weight matrix; <paramref name="why"/> names the config fields behind the shape.</summary>
    public WeightMatrix Matrix(string name, int rows, int cols, string why)
    {
        var file = Tensors.Contains(name) ? Tensors.FileOf(name) : null;
        if (file != null && Quantization.QuantizedTensors.FormatOf(file, name) is { } format)
        {
            CheckAgainstQuantizationConfig(name, format, cols);
            try
            {
                return Quantization.QuantizedTensors.Open(file, name, format, rows, cols);
            }
            catch (ModelFormatException e)
            {
                // The expected shape comes from config.json: name it beside the tensor file.
                throw new ModelFormatException(file.Path, $"{e.Message.Split(": ", 2)[^1]} (the shape {Path.GetFileName(Config.Path)} implies through {why})");
            }
        }
        var t = Find(name);
        if (t.Shape.Length != 2 || t.Shape[0] != rows || t.Shape[1] != cols)
            throw ShapeError(t, $"[{rows}, {cols}]", why);
        return Tensors.Matrix(name);
    }

    // A tensor must be stored in the primary or the backup format the config.json block announces.
    private void CheckAgainstQuantizationConfig(string name, Quantization.QuantizedFormat format, int cols)
    {
        var q = Config.Object("quantization_config");
        if (q == null) return;
        int bits = q.Int("bits", 4);
        bool sym = q.Bool("sym", false);
        int group = q.Int("group_size", 128);
        var primary = new Quantization.QuantizedFormat(bits, sym, group == -1 ? cols : group);
        Quantization.BackupMode mode;
        try
        {
            mode = Quantization.WeightQuantizationConfig.ParseBackup(q.String("backup_mode") ?? "int8_asym");
        }
        catch (SlingException e)
        {
            throw Config.Error("quantization_config.backup_mode", e.Message);
        }
        var backup = mode switch
        {
            Quantization.BackupMode.Int8Asym => new Quantization.QuantizedFormat(8, false, cols),
            Quantization.BackupMode.Int8Sym => new Quantization.QuantizedFormat(8, true, cols),
            _ => null,
        };
        if (format != primary && format != backup)
            throw new ModelFormatException(Config.Path,
                $"quantization_config (bits {bits}, sym {sym.ToString().ToLowerInvariant()}, group_size {group}) does not match tensor '{name}', stored as {format}");
    }

    public float[] Vector(string name, int length, string why)
    {
        var t = Find(name);
        if (t.Shape.Length != 1 || t.Shape[0] != length)
            throw ShapeError(t, $"[{length}]", why);
        return Tensors.Floats(name);
    }

    public float[]? OptionalVector(string name, int length, string why) => Has(name) ? Vector(name, length, why) : null;

    /// <summary>model.embed_tokens.weight, shared by every supported family.</summary>
    public WeightMatrix Embedding(TransformerConfig c) => Matrix("model.embed_tokens.weight", c.VocabSize, c.Dim, Shapes.Embedding);

    /// <summary>An RMSNorm scale over the hidden size.</summary>
    public NormWeights RmsNorm(string name, TransformerConfig c) => new(Vector(name, c.Dim, Shapes.Hidden), null);

    /// <summary>The classifier: the embedding when the config ties them, else lm_head.</summary>
    public Linear Classifier(WeightMatrix embedding, TransformerConfig c, string? biasName = null)
    {
        float[]? bias = biasName == null ? null : OptionalVector(biasName, c.VocabSize, Shapes.Vocabulary);
        if (Config.Bool("tie_word_embeddings", false)) return new Linear(embedding, bias);
        if (!Has("lm_head.weight"))
            throw new ModelFormatException(Config.Path, "field 'tie_word_embeddings' is false but the checkpoint has no lm_head.weight");
        return new Linear(Matrix("lm_head.weight", c.VocabSize, c.Dim, Shapes.Embedding), bias);
    }
}

/// <summary>The config.json fields behind each tensor shape, named in shape errors.</summary>
internal static class Shapes
{
    public const string Hidden = "hidden_size";
    public const string Vocabulary = "vocab_size";
    public const string Embedding = "vocab_size, hidden_size";
    public const string Query = "num_attention_heads × head_dim, hidden_size";
    public const string KeyValue = "num_key_value_heads × head_dim, hidden_size";
    public const string AttentionOutput = "hidden_size, num_attention_heads × head_dim";
    public const string MlpIn = "intermediate_size, hidden_size";
    public const string MlpOut = "hidden_size, intermediate_size";
}
