using Sling.Evaluation;
using Sling.Generation;
using Sling.Models;
using Sling.Quantization;
using Sling.Tests.Support;

namespace Sling.Tests.Quantization;

/// <summary>Data-aware compression: each algorithm against a float64 computation on small matrices,
/// then the whole on stories260K's ten evaluation texts.</summary>
public class DataAwareTests : IDisposable
{
    private const string Folder = "models/stories260K-hf";
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    static (float[] W, List<float[]> X) Problem(int seed, int rows, int cols, int samples)
    {
        var rng = new Random(seed);
        var w = Enumerable.Range(0, rows * cols).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        // A few input channels carry much larger activations, as real models' do.
        var loud = Enumerable.Range(0, cols).Select(c => c % 13 == 0 ? 20.0 : 1.0).ToArray();
        var x = Enumerable.Range(0, samples).Select(_ => Enumerable.Range(0, cols).Select(c => (float)((rng.NextDouble() * 2 - 1) * loud[c])).ToArray()).ToList();
        return (w, x);
    }

    /// <summary>‖(W − Ŵ) Xᵀ‖² in float64, straight from the rows (no Hessian).</summary>
    static double OutputError(float[] w, float[] dequantized, int rows, int cols, List<float[]> x)
    {
        double sum = 0;
        foreach (var row in x)
            for (int r = 0; r < rows; r++)
            {
                double e = 0;
                for (int c = 0; c < cols; c++) e += (w[r * cols + c] - (double)dequantized[r * cols + c]) * row[c];
                sum += e * e;
            }
        return sum;
    }

    static float[] Dequantize(float[] w, int rows, int cols, QuantizedFormat format, Func<float[], (float, int)[], (float, int)[]>? choose = null, double[]? inputScale = null)
    {
        int groups = cols / format.GroupSize;
        var result = new float[w.Length];
        var codes = new byte[cols];
        var scales = new Half[groups];
        var zeros = new byte[groups];
        for (int r = 0; r < rows; r++)
        {
            var row = w.AsSpan(r * cols, cols).ToArray();
            if (inputScale != null) for (int c = 0; c < cols; c++) row[c] = (float)(row[c] * inputScale[c]);
            var p = GroupQuantizer.RowParameters(row, format);
            GroupQuantizer.QuantizeRow(row, format, choose?.Invoke(row, p) ?? p, codes, scales, zeros);
            for (int c = 0; c < cols; c++)
                result[r * cols + c] = (float)(GroupQuantizer.Dequantize(codes[c], zeros[c / format.GroupSize], scales[c / format.GroupSize]) / (inputScale?[c] ?? 1));
        }
        return result;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ScaleEstimationNeverRaisesTheCalibrationErrorOverMinMax(int seed)
    {
        const int rows = 24, cols = 64;
        var (w, x) = Problem(seed, rows, cols, ScaleEstimation.MaxSamples); // the estimator measures on up to this many rows
        var format = new QuantizedFormat(4, false, 32);
        var estimation = new ScaleEstimation(x);
        double minMax = OutputError(w, Dequantize(w, rows, cols, format), rows, cols, x);
        double estimated = OutputError(w, Dequantize(w, rows, cols, format, (row, p) => estimation.Choose(row, format, p)), rows, cols, x);
        Assert.True(estimated <= minMax, $"scale estimation {estimated:E4} vs min/max {minMax:E4}");
        Assert.True(estimated < 0.9 * minMax, $"scale estimation should find a clearly better choice: {estimated:E4} vs {minMax:E4}");
        // The estimator's own error measure is this output error.
        var dq = Dequantize(w, rows, cols, format);
        double measured = Enumerable.Range(0, rows).Sum(r => estimation.Error(w.AsSpan(r * cols, cols), dq.AsSpan(r * cols, cols)));
        Assert.Equal(minMax, measured, minMax * 1e-5);
    }

    [Fact]
    public void AwqScalesLowerTheOutputErrorTheyTarget()
    {
        const int rows = 32, cols = 64;
        var (w, x) = Problem(9, rows, cols, 128);
        var format = new QuantizedFormat(4, false, 32);
        var stats = new ActivationStatistics(cols, 256, 0);
        foreach (var row in x) stats.Add(row);
        var layer = new Awq.Layer(w.ToArray(), rows, cols, format);
        var s = Awq.Search([layer], stats.MeanMagnitudes(), x);
        Assert.NotNull(s);
        double plain = OutputError(w, Dequantize(w, rows, cols, format), rows, cols, x);
        double scaled = OutputError(w, Dequantize(w, rows, cols, format, inputScale: s), rows, cols, x);
        Assert.True(scaled < plain, $"AWQ {scaled:E4} vs plain {plain:E4}");
        Assert.Equal(scaled, Awq.Error(layer, s!, x), scaled * 1e-5);
        // The loud channels got the larger scales.
        Assert.True(s!.Where((_, c) => c % 13 == 0).Average() > s!.Where((_, c) => c % 13 != 0).Average());
    }

    [Fact]
    public void GptqCompensatesARoundingErrorAsTheClosedFormSays()
    {
        // Two inputs, one group of two (int4 symmetric: steps of 0.7/8), H = [[1, b], [b, c]] without
        // damping. Column 0 sits half a step between codes and rounds by 0.044; GPTQ moves w1 by
        // (w0 − q0)·b/c (the least-squares answer for the output error once column 0 is fixed), which
        // here is more than half a step, then rounds it with the group's scale fixed at the start.
        const double b = 0.9, c = 0.85;
        var format = new QuantizedFormat(4, true, 2);
        float[] w = [0.3063f, 0.7f];
        var gptq = new Gptq(new double[,] { { 1, b }, { b, c } }, damping: 0);
        var (values, parameters) = gptq.QuantizeRow(w, format);

        var (scale, zero) = GroupQuantizer.Parameters(w, format);
        Assert.Equal((scale, zero), parameters[0]);
        double q0 = GroupQuantizer.Dequantize(GroupQuantizer.Code(w[0], format, scale, zero), zero, GroupQuantizer.ToHalf(scale));
        double moved = w[1] + (w[0] - q0) * b / c;
        Assert.Equal(w[0], values[0]);
        Assert.Equal((float)moved, values[1], 1e-6f);
        Assert.NotEqual(GroupQuantizer.Code(w[1], format, scale, zero), GroupQuantizer.Code(values[1], format, scale, zero)); // the compensation changed the rounding
    }

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public void GptqLowersTheOutputErrorOnCorrelatedInputs(int seed)
    {
        const int rows = 16, cols = 64;
        var rng = new Random(seed);
        var w = Enumerable.Range(0, rows * cols).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        // Inputs with strongly correlated neighbouring channels.
        var x = Enumerable.Range(0, 300).Select(_ =>
        {
            var row = new float[cols];
            double shared = rng.NextDouble() * 2 - 1;
            for (int c = 0; c < cols; c++) row[c] = (float)(0.8 * shared + 0.2 * (rng.NextDouble() * 2 - 1));
            return row;
        }).ToList();
        var format = new QuantizedFormat(4, false, 32);
        var gptq = new Gptq(ScaleEstimation.Hessian(x, cols));
        var dequantized = new float[w.Length];
        for (int r = 0; r < rows; r++)
        {
            var (values, parameters) = gptq.QuantizeRow(w.AsSpan(r * cols, cols), format);
            for (int c = 0; c < cols; c++)
            {
                var (s, z) = parameters[c / 32];
                dequantized[r * cols + c] = GroupQuantizer.Dequantize(GroupQuantizer.Code(values[c], format, s, z), z, GroupQuantizer.ToHalf(s));
            }
        }
        double plain = OutputError(w, Dequantize(w, rows, cols, format), rows, cols, x);
        double compensated = OutputError(w, dequantized, rows, cols, x);
        Assert.True(compensated < 0.8 * plain, $"GPTQ {compensated:E4} vs round-to-nearest {plain:E4}");
    }

    [Fact]
    public void TiedChannelsShareOneScale()
    {
        var s = Awq.Scales([1, 4, 9, 16], 0.5, [0, 0, 2, 2]);
        Assert.Equal(s[0], s[1]);
        Assert.Equal(s[2], s[3]);
        Assert.True(s[2] > s[0]);
    }

    [Fact]
    public void StatisticsFollowNncfDefinitions()
    {
        var stats = new ActivationStatistics(2, 2, 0);
        stats.Add([1, -2]);
        stats.Add([3, 2]);
        Assert.Equal([1.0, 4.0], stats.Variances()); // channel 0: mean 2, E[x²] 5; channel 1: mean 0, E[x²] 4
        Assert.Equal(2.5, stats.MeanVariance);
        Assert.Equal(4.0, stats.MaxVariance);
        Assert.Equal(2.0, stats.MeanMagnitude);       // (2 + 2) / 2
        Assert.Equal(2 * (5.0 + 4.0) / 2, stats.HessianTrace); // 2 · mean(E[x²]) = 2 · (5 + 4)/2
        Assert.Equal(2, stats.SampleRows.Count);
    }

    [Fact]
    public void DataAwareOptionsNeedADataset()
    {
        Assert.Contains("calibration dataset", Assert.Throws<SlingException>(() => new WeightQuantizationConfig { Awq = true }.Validate()).Message);
        Assert.Contains("not both", Assert.Throws<SlingException>(() => new WeightQuantizationConfig
        {
            ScaleSearch = true, ScaleEstimation = true, Calibration = new CalibrationOptions { Dataset = "self:1" },
        }.Validate()).Message);
        Assert.Equal(SensitivityMetric.MaxActivationVariance, WeightQuantizationConfig.ParseMetric("max_activation_variance"));
    }

    [SharedFact(Folder + "/model.safetensors")]
    public void CalibrationSeesEveryTokenOnceAndSharesInputsBetweenLayersThatReadThem()
    {
        using var model = ModelLoader.Load(SharedData.PathOf(Folder));
        var stats = Calibration.Collect(model, Sling.Models.Architectures.TensorNames.Llama, new CalibrationOptions { Dataset = "self:3", SampleLength = 40, SampleRows = 16 });
        string L(int i, string name) => $"model.layers.{i}.{name}.weight";
        Assert.Equal(5 * 7, stats.Count); // 5 layers × q, k, v, o, gate, up, down
        Assert.Same(stats[L(0, "self_attn.q_proj")], stats[L(0, "self_attn.v_proj")]);
        Assert.Same(stats[L(2, "mlp.gate_proj")], stats[L(2, "mlp.up_proj")]);
        Assert.NotSame(stats[L(0, "self_attn.q_proj")], stats[L(0, "mlp.gate_proj")]);
        Assert.NotSame(stats[L(0, "self_attn.q_proj")], stats[L(1, "self_attn.q_proj")]);
        Assert.All(stats.Values, s => Assert.Equal(3 * 40, s.Count));
        Assert.All(stats.Values, s => Assert.Equal(16, s.SampleRows.Count));
        Assert.Equal(model.Config.HiddenDim, stats[L(4, "mlp.down_proj")].Channels);
    }

    // The ten evaluation texts of the README's quantization measurements; calibration uses texts the
    // model writes with other seeds (self:32, seeds 7000-7031).
    static readonly ulong[] TextSeeds = [1, 2, 3, 4, 5, 6, 7, 8, 42, 2026];

    [SharedFact(Folder + "/model.safetensors")]
    public void OnStories260KAwqAndScaleEstimationBeatMinMaxOnEveryText()
    {
        string source = SharedData.PathOf(Folder);
        using var reference = ModelLoader.Load(source);
        var calibration = new CalibrationOptions { Dataset = "self:32", SampleLength = 256, Seed = 7 };
        LoadedModel Quantize(WeightQuantizationConfig config)
        {
            string output = _dir.File($"q{Guid.NewGuid():N}");
            ModelQuantizer.Quantize(source, output, config);
            var m = ModelLoader.Load(output);
            m.Transformer.IntegerActivations = false; // the cost of the weights, as NNCF reports it
            return m;
        }
        using var plain = Quantize(new WeightQuantizationConfig { Bits = 4, GroupSize = 32 });
        using var aware = Quantize(new WeightQuantizationConfig { Bits = 4, GroupSize = 32, Awq = true, ScaleEstimation = true, Calibration = calibration });
        using var plain08 = Quantize(new WeightQuantizationConfig { Bits = 4, GroupSize = 32, Ratio = 0.8 });
        using var aware08 = Quantize(new WeightQuantizationConfig { Bits = 4, GroupSize = 32, Ratio = 0.8, Sensitivity = SensitivityMetric.MeanActivationVariance, Calibration = calibration });
        double sumPlain = 0, sumAware = 0, sumPlain08 = 0, sumAware08 = 0;
        foreach (ulong seed in TextSeeds)
        {
            var text = reference.CreateGenerator().Generate("", new GenerationOptions { Temperature = 1, TopK = 0, TopP = 1, Seed = seed, MaxTokens = 400 }).Text;
            var tokens = reference.Tokenizer.Encode(text, addBos: true);
            double Kl(LoadedModel m) => ModelComparison.Compare(m.Transformer, reference.Transformer, tokens, 512, 256).MeanKlDivergence;
            double p = Kl(plain), a = Kl(aware);
            Assert.True(a < p, $"text seed {seed}: AWQ + scale estimation {a:F4} vs min/max {p:F4}");
            sumPlain += p;
            sumAware += a;
            sumPlain08 += Kl(plain08);
            sumAware08 += Kl(aware08);
        }
        Assert.True(sumAware <= 0.7 * sumPlain, $"mean KL {sumAware / 10:F4} with AWQ + scale estimation vs {sumPlain / 10:F4} min/max: less than 30 % lower");
        Assert.True(sumAware08 < sumPlain08, $"ratio 0.8: mean_activation_variance {sumAware08 / 10:F4} vs data-free {sumPlain08 / 10:F4}");
    }
}
