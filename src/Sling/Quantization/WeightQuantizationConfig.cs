using System.Text.Json.Nodes;

namespace Sling.Quantization;

/// <summary>Precision for weights that do not get the primary (4-bit) format.</summary>
public enum BackupMode { Int8Asym, Int8Sym, None }

/// <summary>How layers are ranked for the primary precision when Ratio &lt; 1.</summary>
public enum SensitivityMetric
{
    /// <summary>NNCF's data-free criterion: the error of quantizing the weights to the backup int8 format.</summary>
    WeightQuantizationError,
    /// <summary>NNCF's hessian_input_activation: the input Hessian's trace times the backup quantization error.</summary>
    HessianInputActivation,
    /// <summary>NNCF's mean_activation_variance: the mean variance of the input channels.</summary>
    MeanActivationVariance,
    /// <summary>NNCF's max_activation_variance: the largest variance of an input channel.</summary>
    MaxActivationVariance,
    /// <summary>NNCF's mean_activation_magnitude: the mean magnitude of the input channels.</summary>
    MeanActivationMagnitude,
}

/// <summary>
/// What to compress and how, with NNCF's weight-compression semantics (the reference tool behind
/// Optimum Intel's OVWeightQuantizationConfig): Bits/Symmetric/GroupSize give the primary format,
/// Ratio the share of eligible linear-layer parameters that get it, BackupMode the format of the rest.
/// </summary>
public sealed record WeightQuantizationConfig
{
    public int Bits { get; init; } = 4;
    public bool Symmetric { get; init; }
    /// <summary>Inputs per scale; -1 = one scale per output channel. Default 128 for 4 bits.</summary>
    public int GroupSize { get; init; } = 128;
    public double Ratio { get; init; } = 1.0;
    public BackupMode Backup { get; init; } = BackupMode.Int8Asym;
    /// <summary>Also give embeddings and the output layer the primary precision (default: backup).</summary>
    public bool AllLayers { get; init; }
    /// <summary>Tensor names (or name fragments) left in their original precision.</summary>
    public IReadOnlyList<string> IgnoredLayers { get; init; } = [];
    public SensitivityMetric Sensitivity { get; init; } = SensitivityMetric.WeightQuantizationError;
    /// <summary>Search each group's scale for the least squared error instead of taking min/max (off = NNCF's default).</summary>
    public bool ScaleSearch { get; init; }
    /// <summary>The calibration set of the data-aware options (null = data-free).</summary>
    public CalibrationOptions? Calibration { get; init; }
    /// <summary>Activation-aware scaling of int4 layers' input channels, folded into the operation before (AWQ).</summary>
    public bool Awq { get; init; }
    /// <summary>Each int4 group's scale chosen for the least error of the layer's output on the calibration inputs.</summary>
    public bool ScaleEstimation { get; init; }
    /// <summary>GPTQ: int4 layers quantized column by column with each rounding error compensated on the columns left.</summary>
    public bool Gptq { get; init; }

    public static string MetricName(SensitivityMetric metric) => metric switch
    {
        SensitivityMetric.HessianInputActivation => "hessian_input_activation",
        SensitivityMetric.MeanActivationVariance => "mean_activation_variance",
        SensitivityMetric.MaxActivationVariance => "max_activation_variance",
        SensitivityMetric.MeanActivationMagnitude => "mean_activation_magnitude",
        _ => "weight_quantization_error",
    };

    public static SensitivityMetric ParseMetric(string name)
    {
        foreach (var metric in Enum.GetValues<SensitivityMetric>())
            if (MetricName(metric) == name) return metric;
        throw new SlingException($"sensitivity metric '{name}' is not supported ({string.Join(", ", Enum.GetValues<SensitivityMetric>().Select(MetricName))})");
    }

    /// <summary>optimum-intel's default for <c>--weight-format int4</c>: asymmetric, group 128, ratio 1.0
    /// (embeddings and the output layer in int8). The seed's setting is this with <c>Ratio = 0.8</c>.</summary>
    public static WeightQuantizationConfig Int4Default { get; } = new() { Bits = 4, Symmetric = false, GroupSize = 128, Ratio = 1.0 };

    /// <summary>optimum-intel's <c>--weight-format int8</c>: NNCF's int8_asym, per output channel, every layer.</summary>
    public static WeightQuantizationConfig Int8Default { get; } = new() { Bits = 8, Symmetric = false, GroupSize = -1, Ratio = 1.0, AllLayers = true };

    public void Validate()
    {
        if (Bits is not (4 or 8)) throw new SlingException($"bits must be 4 or 8 (got {Bits})");
        if (GroupSize == 0 || GroupSize < -1) throw new SlingException($"group size must be positive or -1 for per-channel (got {GroupSize})");
        if (Bits == 4 && GroupSize != -1 && GroupSize % Kernels.Int4GroupMatrix.BlockSize != 0)
            throw new SlingException($"4-bit group size must be a multiple of {Kernels.Int4GroupMatrix.BlockSize} or -1 (got {GroupSize})");
        if (!(Ratio >= 0 && Ratio <= 1)) throw new SlingException($"ratio must be in [0, 1] (got {Ratio})");
        if (Calibration is null && (Awq || ScaleEstimation || Gptq || Sensitivity != SensitivityMetric.WeightQuantizationError))
            throw new SlingException("AWQ, scale estimation, GPTQ and the data-aware sensitivity metrics need a calibration dataset");
        if (Gptq && ScaleEstimation) throw new SlingException("choose GPTQ or scale estimation, not both");
        if (ScaleSearch && ScaleEstimation) throw new SlingException("choose the data-free scale search or the data-aware scale estimation, not both");
        Calibration?.Validate();
    }

    public QuantizedFormat Primary(int cols) => new(Bits, Symmetric, GroupSize == -1 ? cols : GroupSize);

    /// <summary>The backup format for a matrix with <paramref name="cols"/> inputs, or null = keep float.</summary>
    public QuantizedFormat? BackupFormat(int cols) => Backup switch
    {
        BackupMode.Int8Asym => new QuantizedFormat(8, false, cols),
        BackupMode.Int8Sym => new QuantizedFormat(8, true, cols),
        _ => null,
    };

    public static string Name(BackupMode mode) => mode switch
    {
        BackupMode.Int8Asym => "int8_asym",
        BackupMode.Int8Sym => "int8_sym",
        _ => "none",
    };

    public static BackupMode ParseBackup(string name) => name switch
    {
        "int8_asym" => BackupMode.Int8Asym,
        "int8_sym" => BackupMode.Int8Sym,
        "none" => BackupMode.None,
        _ => throw new SlingException($"backup mode '{name}' is not supported (int8_asym, int8_sym, none)"),
    };

    /// <summary>The quantization_config block written into config.json.</summary>
    public JsonObject ToJson() => new()
    {
        ["quant_method"] = "sling",
        ["format_version"] = 1,
        ["bits"] = Bits,
        ["sym"] = Symmetric,
        ["group_size"] = GroupSize,
        ["ratio"] = Ratio,
        ["backup_mode"] = Name(Backup),
        ["all_layers"] = AllLayers,
        ["ignored_layers"] = new JsonArray(IgnoredLayers.Select(l => (JsonNode)JsonValue.Create(l)!).ToArray()),
        ["sensitivity_metric"] = MetricName(Sensitivity),
        ["scale_search"] = ScaleSearch,
        ["awq"] = Awq,
        ["scale_estimation"] = ScaleEstimation,
        ["gptq"] = Gptq,
        ["dataset"] = Calibration?.Dataset,
        ["num_samples"] = Calibration?.NumSamples,
        ["sample_length"] = Calibration?.SampleLength,
        ["calibration_seed"] = Calibration?.Seed,
    };
}
