using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Sling.Kernels;
using Sling.Models;

namespace Sling.Bench;

/// <summary>
/// BenchmarkDotNet micro-benchmarks of the matrix products the engine runs: one 5632×2048 matrix
/// (TinyLlama's MLP shape) times 1 activation row (generation) or 64 (a prompt batch), per format, on
/// both cores. Extra columns turn the time into GB/s of weights and GOP/s.
/// </summary>
[Config(typeof(KernelMicroConfig))]
public class KernelMicro
{
    private WeightMatrix _weights = null!;
    private ActivationRows _input = null!;
    private float[] _output = null!;
    private readonly MatMul _product = new();

    [Params("q4_0", "q8_0", "int4", "f16")]
    public string Format { get; set; } = "q4_0";

    [Params(1, 64)]
    public int Tokens { get; set; }

    public const int Rows = 5632, Cols = 2048;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(1);
        _weights = SyntheticModels.Matrix(Rows, Cols, Format);
        if (_weights is GroupMatrix m && RowBlockMatrix.CanRepack(m)) _weights = RowBlockMatrix.Repack(m); // as a model's load does
        _input = new ActivationRows(Tokens, Cols);
        _input.SetCount(Tokens);
        for (int i = 0; i < _input.Active.Length; i++) _input.Active[i] = (float)(rng.NextDouble() - 0.5);
        _output = new float[Tokens * Rows];
    }

    /// <summary>Bytes of the weights one product reads (for the GB/s column; benchmarks run in another process).</summary>
    public static double BytesOf(string format) => format switch
    {
        "q4_0" => Rows * (Cols / 2 + Cols / 32 * 2.0),
        "q8_0" => Rows * (Cols + Cols / 32 * 2.0),
        "int4" => Rows * (Cols / 2 + Cols / 128 * 2.5),
        _ => Rows * Cols * 2.0,
    };

    [Benchmark]
    public void Product()
    {
        _input.Changed(); // the activations' quantization is part of every product, as in the model
        _product.Run(ComputePool.Get(0), _weights, _input, _output, integer: true);
    }
}

internal sealed class KernelMicroConfig : ManualConfig
{
    public KernelMicroConfig()
    {
        AddJob(Job.ShortRun);
        AddColumn(new RateColumn("GB/s", (format, tokens, seconds) => KernelMicro.BytesOf(format) / seconds / 1e9));
        AddColumn(new RateColumn("GOP/s", (format, tokens, seconds) => 2.0 * KernelMicro.Rows * KernelMicro.Cols * tokens / seconds / 1e9));
    }
}

/// <summary>A column computed from the mean time and the benchmark's token count.</summary>
internal sealed class RateColumn(string name, Func<string, int, double, double> rate) : IColumn
{
    public string Id => name;
    public string ColumnName => name;
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => name == "GB/s" ? "weight bytes read per second" : "multiply-adds ×2 per second";
    public bool IsDefault(Summary summary, BenchmarkDotNet.Running.BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;
    public string GetValue(Summary summary, BenchmarkDotNet.Running.BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkDotNet.Running.BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var report = summary[benchmarkCase];
        if (report?.ResultStatistics is not { } stats) return "-";
        int tokens = (int)benchmarkCase.Parameters["Tokens"];
        return rate((string)benchmarkCase.Parameters["Format"], tokens, stats.Mean / 1e9).ToString("F1");
    }
}
