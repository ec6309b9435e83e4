using Sling.Kernels;

namespace Sling.Tests.Kernels;

/// <summary>The attention softmax against double precision, at sizes around the vector width and with scores far above e^x's float range.</summary>
public class SoftmaxTests
{
    [Theory]
    [InlineData(1, 1.0)]
    [InlineData(15, 3.0)]
    [InlineData(16, 3.0)]
    [InlineData(17, 3.0)]
    [InlineData(100, 30.0)]
    [InlineData(1000, 400.0)] // scores up to ±400: e^x alone overflows a float above ~88.7
    public void SoftmaxIsTheNormalizedExponentialOfAnyScores(int n, double spread)
    {
        var rng = new Random(n);
        var x = Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * spread)).ToArray();
        double max = x.Max(), total = x.Sum(v => Math.Exp(v - max));
        var y = x.ToArray();
        Activations.Softmax(y);
        for (int i = 0; i < n; i++)
        {
            double expected = Math.Exp(x[i] - max) / total;
            // x − max rounds to a float: its error of up to half an ulp of |x − max| becomes a relative error of e^(x − max).
            double tolerance = (1e-6 + 1.2e-7 * Math.Abs(x[i] - max)) * expected + 1e-37;
            Assert.True(Math.Abs(y[i] - expected) <= tolerance, $"x[{i}] = {x[i]}: {y[i]} against {expected}");
        }
        Assert.InRange(y.Sum(v => (double)v), 1 - 1e-5, 1 + 1e-5);
    }

    [Fact]
    public void LargeScoresStayFinite()
    {
        var y = new[] { 100f, 0f, 95f };
        Activations.Softmax(y);
        Assert.All(y, v => Assert.True(float.IsFinite(v)));
        Assert.Equal(1 / (1 + Math.Exp(-5)), y[0], 1e-6);
        Assert.Equal(0f, y[1], 1e-30);
    }
}
