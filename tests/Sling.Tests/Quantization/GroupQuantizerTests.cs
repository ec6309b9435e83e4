using Sling.Quantization;

namespace Sling.Tests.Quantization;

/// <summary>The quantize → dequantize math against NNCF's definitions computed in float64.</summary>
public class GroupQuantizerTests
{
    private static float[] RandomRow(int seed, int n, double scale = 1, double shift = 0)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale + shift)).ToArray();
    }

    public static TheoryData<int, bool, int> Formats() => new()
    {
        { 4, false, 32 }, { 4, false, 128 }, { 4, true, 32 }, { 4, true, 64 }, { 8, false, 256 }, { 8, true, 256 },
    };

    [Theory]
    [MemberData(nameof(Formats))]
    public void CodesLandInRangeAndErrorsStayWithinHalfAStep(int bits, bool symmetric, int group)
    {
        var format = new QuantizedFormat(bits, symmetric, group);
        for (int seed = 0; seed < 20; seed++)
        {
            var row = RandomRow(seed, 512, scale: 0.05 * (seed + 1), shift: seed % 3 == 0 ? 0.02 : 0);
            var codes = new byte[row.Length];
            var scales = new Half[row.Length / group];
            var zeros = new byte[row.Length / group];
            GroupQuantizer.QuantizeRow(row, format, codes, scales, zeros);
            for (int g = 0; g < scales.Length; g++)
            {
                var w = row.AsSpan(g * group, group);
                var (s, zero) = GroupQuantizer.Parameters(w, format);
                Assert.Equal((Half)s, scales[g]); // stored: the nearest fp16 of the fp32 scale
                if (symmetric)
                {
                    Assert.Equal(format.SymmetricZero, zero);
                    // The value of largest magnitude maps exactly to the most negative code.
                    int extreme = 0;
                    for (int i = 1; i < group; i++) if (Math.Abs(w[i]) > Math.Abs(w[extreme])) extreme = i;
                    Assert.Equal(0, codes[g * group + extreme]);
                }
                else Assert.InRange(zero, 0, format.MaxCode);
                for (int i = 0; i < group; i++)
                {
                    int code = codes[g * group + i];
                    Assert.InRange(code, 0, format.MaxCode);
                    double error = Math.Abs(w[i] - (code - zero) * (double)s);
                    // Half a step, except symmetric values above the top code (max magnitude on the other side): one step.
                    double bound = symmetric && w[i] / (double)s > format.SymmetricZero - 0.5 ? Math.Abs(s) : Math.Abs(s) / 2;
                    Assert.True(error <= bound * (1 + 1e-5), $"{format}: w={w[i]} code={code} zero={zero} scale={s} error={error}");
                }
            }
        }
    }

    [Fact]
    public void AsymmetricCodesEqualAFloat64ReferenceOfNncfFormulas()
    {
        var format = new QuantizedFormat(4, false, 32);
        var row = RandomRow(99, 32 * 64, scale: 0.3, shift: 0.1);
        var codes = new byte[row.Length];
        var scales = new Half[64];
        var zeros = new byte[64];
        GroupQuantizer.QuantizeRow(row, format, codes, scales, zeros);
        int differ = 0;
        for (int g = 0; g < 64; g++)
        {
            var w = row.Skip(g * 32).Take(32).Select(v => (double)v).ToArray();
            double scale = (w.Max() - w.Min()) / 15;
            int zero = (int)Math.Clamp(-Math.Round(w.Min() / scale), 0, 15);
            Assert.Equal(zero, zeros[g]);
            for (int i = 0; i < 32; i++)
            {
                int expected = (int)Math.Clamp(Math.Round(w[i] / scale + zero), 0, 15);
                if (expected != codes[g * 32 + i])
                {
                    differ++;
                    Assert.InRange(codes[g * 32 + i], expected - 1, expected + 1); // only a rounding tie may go the other way
                }
            }
        }
        Assert.True(differ <= 2, $"{differ} codes differ from the float64 reference");
    }

    [Fact]
    public void ConstantGroupsAreRepresentedExactly()
    {
        foreach (float c in new[] { 0f, 0.25f, -1.5f })
        {
            foreach (var format in new[] { new QuantizedFormat(4, false, 32), new QuantizedFormat(8, false, 32), new QuantizedFormat(4, true, 32) })
            {
                var row = Enumerable.Repeat(c, 32).ToArray();
                var codes = new byte[32];
                var scales = new Half[1];
                var zeros = new byte[1];
                GroupQuantizer.QuantizeRow(row, format, codes, scales, zeros);
                int zero = format.Symmetric ? format.SymmetricZero : zeros[0];
                // NNCF's symmetric rule picks a positive scale when |min| >= max, so a positive constant
                // maps to +2^(b-1) and is clipped one code lower; asymmetric formats hold any constant.
                float expected = format.Symmetric && c > 0 ? c * (format.SymmetricZero - 1) / format.SymmetricZero : c;
                Assert.All(codes, q => Assert.Equal(expected, GroupQuantizer.Dequantize(q, zero, scales[0]), 2e-3f));
            }
        }
    }

    [Fact]
    public void MixedPrecisionTakesTheLargestInt8ErrorsFirstAndStopsBeforeTheRatio()
    {
        var candidates = new[]
        {
            new MixedPrecision.Candidate("a", 100, 1e-6),
            new MixedPrecision.Candidate("b", 300, 1e-3), // largest error: first
            new MixedPrecision.Candidate("c", 200, 1e-4),
            new MixedPrecision.Candidate("d", 400, 1e-5),
        };
        Assert.Equal(new HashSet<string> { "b" }, MixedPrecision.SelectPrimary(candidates, 0.45)); // b+c = 0.5 would reach it
        Assert.Equal(new HashSet<string> { "b", "c" }, MixedPrecision.SelectPrimary(candidates, 0.51));
        Assert.Equal(new HashSet<string> { "b", "c", "d" }, MixedPrecision.SelectPrimary(candidates, 0.95));
        Assert.Empty(MixedPrecision.SelectPrimary(candidates, 0.0));
        Assert.Equal(4, MixedPrecision.SelectPrimary(candidates, 1.0).Count);
    }

    [Theory]
    [InlineData(3, 128, 0.8, "bits must be 4 or 8")]
    [InlineData(4, 48, 0.8, "multiple of 32")]
    [InlineData(4, 0, 0.8, "group size must be positive")]
    [InlineData(4, 128, 1.2, "ratio must be in [0, 1]")]
    [InlineData(4, 128, -0.1, "ratio must be in [0, 1]")]
    public void InvalidConfigurationsAreRejected(int bits, int group, double ratio, string expected)
    {
        var e = Assert.Throws<SlingException>(() => new WeightQuantizationConfig { Bits = bits, GroupSize = group, Ratio = ratio }.Validate());
        Assert.Contains(expected, e.Message);
    }
}

public class ScaleSearchTests
{
    private static double Error(float[] w, QuantizedFormat format, bool search)
    {
        var codes = new byte[w.Length];
        var scales = new Half[w.Length / format.GroupSize];
        var zeros = new byte[scales.Length];
        GroupQuantizer.QuantizeRow(w, format, codes, scales, zeros, search);
        double sum = 0;
        for (int i = 0; i < w.Length; i++)
        {
            int g = i / format.GroupSize;
            double d = w[i] - GroupQuantizer.Dequantize(codes[i], format.Symmetric ? format.SymmetricZero : zeros[g], scales[g]);
            sum += d * d;
        }
        return sum;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TheSearchNeverLosesToMinMaxAndWinsOverall(bool symmetric)
    {
        var format = new QuantizedFormat(4, symmetric, 32);
        var rng = new Random(5);
        double plainTotal = 0, searchedTotal = 0;
        for (int trial = 0; trial < 50; trial++)
        {
            // Roughly Gaussian weights, with one outlier in every other trial.
            var w = Enumerable.Range(0, 128).Select(_ => (float)(rng.NextDouble() + rng.NextDouble() + rng.NextDouble() - 1.5)).ToArray();
            if (trial % 2 == 0) w[rng.Next(w.Length)] *= 6;
            double plain = Error(w, format, false), searched = Error(w, format, true);
            Assert.True(searched <= plain * (1 + 1e-9), $"trial {trial}: search {searched} > min/max {plain}");
            plainTotal += plain;
            searchedTotal += searched;
        }
        Assert.True(searchedTotal < 0.95 * plainTotal, $"search {searchedTotal} vs min/max {plainTotal}");
    }
}
