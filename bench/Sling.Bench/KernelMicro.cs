using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Sling.Kernels;
using Sling.Quantization;

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
        float[] Row(int r) => Enumerable.Range(0, Cols).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        _weights = Format switch
        {
            "f16" => MakeF16(Row),
            _ => Repack(QuantizedTensors.Quantize(Row, Rows, Cols, Format switch
            {
                "q4_0" => new QuantizedFormat(4, true, 32),
                "q8_0" => new QuantizedFormat(8, true, 32),
                _ => new QuantizedFormat(4, false, 128),
            })),
        };
        _input = new ActivationRows(Tokens, Cols);
        _input.SetCount(Tokens);
        for (int i = 0; i < _input.Active.Length; i++) _input.Active[i] = (float)(rng.NextDouble() - 0.5);
        _output = new float[Tokens * Rows];
    }

    private static WeightMatrix Repack(GroupMatrix m) => RowBlockMatrix.CanRepack(m) ? RowBlockMatrix.Repack(m) : m;

    private static unsafe WeightMatrix MakeF16(Func<int, float[]> row)
    {
        var data = GC.AllocateArray<Half>(Rows * Cols, pinned: true);
        for (int r = 0; r < Rows; r++) System.Numerics.Tensors.TensorPrimitives.ConvertToHalf(row(r), data.AsSpan(r * Cols, Cols));
        return new F16Matrix((Half*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref data[0]), Rows, Cols, data);
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
