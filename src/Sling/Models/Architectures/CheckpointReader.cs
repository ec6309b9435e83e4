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
}
